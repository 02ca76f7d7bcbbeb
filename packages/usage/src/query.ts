import type { Sql } from '@central-logger/db';

export type Granularity = 'hour' | 'day';

export interface UsageFilter {
  clientId?: string;
  keyId?: string;
  from: Date;
  to: Date;
  granularity: Granularity;
  /** One series per client (default) or per key. */
  by?: 'client' | 'key';
}

export interface UsageRow {
  bucket: Date;
  clientId: string | null;
  keyId: string | null;
  requests: number;
  eventsAccepted: number;
  bytes: number;
  authFailures: number;
  rateLimited: number;
  rejected: Record<string, number>;
}

/**
 * Usage per hour or UTC day, per client or per key, from usage_hourly (days
 * are a GROUP BY over the hours). `from` inclusive, `to` exclusive.
 */
export async function queryUsage(sql: Sql, f: UsageFilter): Promise<UsageRow[]> {
  const perKey = f.by === 'key' || f.keyId !== undefined;
  const rows = await sql`
    select date_trunc(${f.granularity}, hour, 'UTC') as bucket, client_id, ${perKey ? sql`key_id` : sql`null::text as key_id`},
      sum(requests)::bigint as requests, sum(events_accepted)::bigint as events_accepted, sum(bytes)::bigint as bytes,
      sum(auth_failures)::bigint as auth_failures, sum(rate_limited)::bigint as rate_limited, jsonb_agg(rejected) as rejected
    from usage_hourly
    where hour >= ${f.from} and hour < ${f.to}
      ${f.clientId === undefined ? sql`` : sql`and client_id = ${f.clientId}`}
      ${f.keyId === undefined ? sql`` : sql`and key_id = ${f.keyId}`}
    group by 1, 2 ${perKey ? sql`, 3` : sql``}
    order by 1, 2 ${perKey ? sql`, 3` : sql``}`;
  return rows.map((r) => ({
    bucket: r.bucket as Date,
    clientId: (r.client_id as string | null) ?? null,
    keyId: (r.key_id as string | null) ?? null,
    requests: Number(r.requests),
    eventsAccepted: Number(r.events_accepted),
    bytes: Number(r.bytes),
    authFailures: Number(r.auth_failures),
    rateLimited: Number(r.rate_limited),
    rejected: sumReasons(r.rejected as Array<Record<string, number>>),
  }));
}

function sumReasons(list: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of list) for (const [reason, n] of Object.entries(r)) out[reason] = (out[reason] ?? 0) + Number(n);
  return out;
}

/** The API speaks snake_case. */
export function usageJson(r: UsageRow) {
  return {
    bucket: r.bucket.toISOString(),
    client_id: r.clientId,
    key_id: r.keyId,
    requests: r.requests,
    events_accepted: r.eventsAccepted,
    bytes: r.bytes,
    auth_failures: r.authFailures,
    rate_limited: r.rateLimited,
    rejected: r.rejected,
  };
}

/**
 * Every failed authentication per hour or day, from auth_failures: also those
 * no key can be named for (no key, unknown prefix), which usage_hourly cannot
 * hold. For the dashboard's "auth failures over time".
 */
export async function authFailuresOverTime(sql: Sql, f: Pick<UsageFilter, 'from' | 'to' | 'granularity'>): Promise<Array<{ bucket: Date; failures: number }>> {
  const rows = await sql`
    select date_trunc(${f.granularity}, occurred_at, 'UTC') as bucket, count(*)::bigint as failures
    from auth_failures where occurred_at >= ${f.from} and occurred_at < ${f.to}
    group by 1 order by 1`;
  return rows.map((r) => ({ bucket: r.bucket as Date, failures: Number(r.failures) }));
}

export interface AuthFailureSource {
  failures: number;
  lastAt: Date;
  /** Distinct reasons (api_key_required, unknown_key, wrong_secret, admin_sign_in, …). */
  reasons: string[];
}

/**
 * Failed authentications in [from, to) by address (API keys on any app, and
 * admin sign-ins, as the failed-auth alert rule counts them) and by key prefix
 * (only failures that named a recognisable key), most first, `limit` of each.
 */
export async function authFailuresBySource(
  sql: Sql,
  f: { from: Date; to: Date; limit: number },
): Promise<{
  byAddress: Array<AuthFailureSource & { address: string }>;
  byKeyPrefix: Array<AuthFailureSource & { keyPrefix: string; clientId: string | null }>;
}> {
  const byAddress = await sql`
    select address, count(*)::bigint as failures, max(at) as last_at, array_agg(distinct reason order by reason) as reasons
    from (
      select address, occurred_at as at, reason from auth_failures where occurred_at >= ${f.from} and occurred_at < ${f.to}
      union all
      select ip, at, 'admin_sign_in' from admin_login_failures where ip is not null and at >= ${f.from} and at < ${f.to}
    ) x
    group by address order by count(*) desc, address limit ${f.limit}`;
  const byPrefix = await sql`
    select f.key_prefix, k.client_id, count(*)::bigint as failures, max(f.occurred_at) as last_at, array_agg(distinct f.reason order by f.reason) as reasons
    from auth_failures f left join api_keys k on k.prefix = f.key_prefix
    where f.key_prefix is not null and f.occurred_at >= ${f.from} and f.occurred_at < ${f.to}
    group by f.key_prefix, k.client_id order by count(*) desc, f.key_prefix limit ${f.limit}`;
  const source = (r: Record<string, unknown>): AuthFailureSource => ({
    failures: Number(r.failures),
    lastAt: r.last_at as Date,
    reasons: r.reasons as string[],
  });
  return {
    byAddress: byAddress.map((r) => ({ address: r.address as string, ...source(r) })),
    byKeyPrefix: byPrefix.map((r) => ({ keyPrefix: r.key_prefix as string, clientId: (r.client_id as string | null) ?? null, ...source(r) })),
  };
}
