import { randomBytes } from 'node:crypto';
import { insertLogs, type LogRow, type Sql } from '@central-logger/db';

/** A stored row with sensible defaults; `executed_at` defaults to a minute ago. */
export function logRow(clientId: string, overrides: Partial<LogRow> = {}): LogRow {
  const now = Date.now();
  return {
    client_id: clientId,
    event_id: `evt_${randomBytes(8).toString('hex')}`,
    received_at: new Date(now).toISOString(),
    executed_at: new Date(now - 60_000).toISOString(),
    environment: 'prod',
    status: 'SUCCESS',
    workflow: 'wf',
    run_id: null,
    level: 'info',
    message: 'hello',
    duration_ms: null,
    metadata: {},
    ...overrides,
  };
}

/** Stores rows directly, as the worker would (owner role). */
export async function seedLogs(sql: Sql, rows: LogRow[]): Promise<LogRow[]> {
  await insertLogs(sql, rows);
  return rows;
}

export interface JsonResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** GET with a key; `path` includes the query string. */
export async function getJson(baseUrl: string, path: string, key: string | undefined, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { ...(key ? { 'x-api-key': key } : {}), ...headers } });
  const text = await res.text();
  // NDJSON stays text: the caller splits it into lines
  const body: unknown =
    res.headers.get('content-type')?.includes('json') && !res.headers.get('content-type')?.includes('ndjson') && text ? JSON.parse(text) : text;
  return { status: res.status, body, headers: res.headers };
}

/** `?a=1&b=2` from pairs, encoded. */
export function qs(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined) as [string, string | number][];
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}
