import type { RedisClient as Redis } from '@central-logger/redis';
import type { Sql } from '@central-logger/db';
import { eventsUsedToday, getLimitOverrides, utcDay, type Limits } from '@central-logger/limits';

/**
 * A tenant's logs can run to millions a day: the page's error rate and top
 * workflows read the newest this many of the window's stored events through
 * the (client_id, executed_at) index, and say so when there were more.
 */
export const SUMMARY_SAMPLE = 50_000;

/** Statuses and levels that count as a failed run in the error rate. */
export const FAILED_STATUSES = ['FAILURE', 'FAILED', 'ERROR', 'TIMEOUT'] as const;
export const FAILED_LEVELS = ['error', 'fatal'] as const;

export interface ClientSummary {
  retentionDays: number;
  limits: { defaults: Limits; overrides: Partial<Limits>; effective: Limits };
  /** Today's events against the daily quota; `used` is null when Redis could not be read. */
  quota: { day: string; used: number | null; limit: number };
  /** Stored events whose executed_at falls in the last `hours` (event time). */
  events: {
    hours: number;
    examined: number;
    sampled: boolean;
    failed: number;
    byStatus: Array<{ status: string; events: number }>;
    topWorkflows: Array<{ workflow: string | null; events: number; failed: number }>;
  };
}

/** Undefined when there is no such client. */
export async function getClientSummary(
  sql: Sql,
  redis: Redis,
  prefix: string,
  clientId: string,
  defaults: Limits,
  hours: number,
): Promise<ClientSummary | undefined> {
  const [client] = await sql`select retention_days from clients where id = ${clientId}`;
  if (!client) return undefined;
  const overrides = await getLimitOverrides(sql, clientId);
  const effective = { ...defaults, ...overrides };
  const now = Date.now();
  const used = await eventsUsedToday(redis, prefix, clientId, now).catch(() => null);
  return {
    retentionDays: client.retention_days as number,
    limits: { defaults, overrides, effective },
    quota: { day: utcDay(now), used, limit: effective.eventsPerDay },
    events: await eventSummary(sql, clientId, hours),
  };
}

async function eventSummary(sql: Sql, clientId: string, hours: number): Promise<ClientSummary['events']> {
  const rows = await sql`
    with recent as (
      select status, workflow, (upper(status) = any(${[...FAILED_STATUSES]}::text[]) or level = any(${[...FAILED_LEVELS]}::text[])) as failed
      from workflow_logs
      where client_id = ${clientId} and executed_at > now() - make_interval(hours => ${hours}) and executed_at <= now() + interval '1 day'
      order by executed_at desc limit ${SUMMARY_SAMPLE + 1})
    select 'status' as kind, status as name, count(*)::int as events, count(*) filter (where failed)::int as failed from recent group by status
    union all
    select 'workflow', workflow, count(*)::int, count(*) filter (where failed)::int from recent group by workflow`;
  const byStatus = rows.filter((r) => r.kind === 'status').map((r) => ({ status: r.name as string, events: r.events as number, failed: r.failed as number }));
  const examined = byStatus.reduce((n, s) => n + s.events, 0);
  const topWorkflows = rows
    .filter((r) => r.kind === 'workflow')
    .map((r) => ({ workflow: (r.name as string | null) ?? null, events: r.events as number, failed: r.failed as number }))
    .sort((a, b) => b.events - a.events || String(a.workflow).localeCompare(String(b.workflow)))
    .slice(0, 10);
  return {
    hours,
    examined: Math.min(examined, SUMMARY_SAMPLE),
    sampled: examined > SUMMARY_SAMPLE,
    failed: byStatus.reduce((n, s) => n + s.failed, 0),
    byStatus: byStatus.map(({ status, events }) => ({ status, events })).sort((a, b) => b.events - a.events),
    topWorkflows,
  };
}

/** The API speaks snake_case. */
export function clientSummaryJson(s: ClientSummary) {
  const snake = (l: Partial<Limits>) => ({
    requests_per_second: l.requestsPerSecond ?? null,
    request_burst: l.requestBurst ?? null,
    events_per_second: l.eventsPerSecond ?? null,
    event_burst: l.eventBurst ?? null,
    tenant_events_per_second: l.tenantEventsPerSecond ?? null,
    tenant_event_burst: l.tenantEventBurst ?? null,
    events_per_day: l.eventsPerDay ?? null,
  });
  const e = s.events;
  return {
    retention_days: s.retentionDays,
    limits: { defaults: snake(s.limits.defaults), overrides: snake(s.limits.overrides), effective: snake(s.limits.effective) },
    quota: { day: s.quota.day, events_used: s.quota.used, events_per_day: s.quota.limit },
    events: {
      counted_by: 'event_time',
      hours: e.hours,
      examined: e.examined,
      sampled: e.sampled,
      failed: e.failed,
      error_rate: e.examined === 0 ? null : e.failed / Math.min(e.examined, SUMMARY_SAMPLE),
      by_status: e.byStatus,
      top_workflows: e.topWorkflows,
    },
  };
}
