import { randomBytes } from 'node:crypto';
import type { Sql } from '@central-logger/db';
import { legacyHashKey, unkeyedLegacyPrefix } from '@central-logger/keys';

export interface ApiResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** One JSON request to the ingest API with an optional key (sent as X-API-Key). */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  key?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(key ? { 'x-api-key': key } : {}), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export const heartbeat = (baseUrl: string, key?: string, headers: Record<string, string> = {}) =>
  api(baseUrl, 'POST', '/api/v1/heartbeat', key, { timestamp: new Date().toISOString() }, headers);

/**
 * A key stored the legacy way (hash_version 1, SHA-256 hex) under its former
 * unkeyed lookup id (`lgc_`), as a database from before keyed lookup ids would hold it.
 */
export async function insertLegacyKey(sql: Sql, clientId: string, role = 'agent'): Promise<{ key: string; id: string; prefix: string }> {
  const key = `legacy_${randomBytes(16).toString('hex')}`;
  const prefix = unkeyedLegacyPrefix(key)!;
  const id = `key_legacy${randomBytes(8).toString('hex')}`;
  await sql`
    insert into api_keys (id, prefix, key_hash, hash_version, role, client_id, name)
    values (${id}, ${prefix}, ${legacyHashKey(key)}, 1, ${role}, ${clientId}, ${`imported ${prefix}`})`;
  return { key, id, prefix };
}
