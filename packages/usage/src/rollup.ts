import type { RedisClient as Redis } from '@central-logger/redis';
import type { Sql } from '@central-logger/db';
import { HOUR_MS, hourOf, SEP, usageHashKey } from './counters.js';

export interface RollupOptions {
  /** The Redis key prefix ingest counts under (QUEUE_PREFIX). */
  prefix: string;
  /** Hours back from the current one to read; at most the counters' TTL (48). Default 48. */
  lookbackHours?: number;
  /** An address unused by a key for this many days counts as new again (alert rule 4). Default 30. */
  novelAfterDays?: number;
  now?: () => number;
}

export interface RollupResult {
  hours: number;
  rows: number;
  addresses: number;
}

interface Totals {
  requests: number;
  events: number;
  bytes: number;
  auth_failures: number;
  rate_limited: number;
  rejected: Record<string, number>;
}

const empty = (): Totals => ({ requests: 0, events: 0, bytes: 0, auth_failures: 0, rate_limited: 0, rejected: {} });

/**
 * Rolls the hourly Redis counters up into usage_hourly and key_addresses. It
 * writes absolute values read from one HGETALL per hour (not increments), so
 * running it again, or on two workers at once, stores the same totals; a row
 * is only replaced by a snapshot with at least as many requests, so a slow
 * run cannot move it back.
 */
export async function rollUpUsage(sql: Sql, redis: Redis, options: RollupOptions): Promise<RollupResult> {
  const now = options.now?.() ?? Date.now();
  const current = hourOf(now);
  const lookback = options.lookbackHours ?? 48;
  const hours = Array.from({ length: lookback + 1 }, (_, i) => current - (lookback - i) * HOUR_MS);
  const pipe = redis.pipeline();
  for (const h of hours) pipe.hgetall(usageHashKey(options.prefix, h));
  const replies = (await pipe.exec()) ?? [];
  const result: RollupResult = { hours: 0, rows: 0, addresses: 0 };
  for (const [i, h] of hours.entries()) {
    const [err, hash] = replies[i] ?? [];
    if (err) throw err;
    const fields = hash as Record<string, string>;
    if (Object.keys(fields).length === 0) continue;
    result.hours++;
    result.rows += await writeHour(sql, h, fields);
    result.addresses += await writeAddresses(sql, h, now, fields, options.novelAfterDays ?? 30);
  }
  return result;
}

async function writeHour(sql: Sql, hourMs: number, fields: Record<string, string>): Promise<number> {
  const byKey = new Map<string, Totals>();
  const byPrefix = new Map<string, Totals>();
  for (const [field, raw] of Object.entries(fields)) {
    const [subject = '', metric = ''] = field.split(SEP);
    const target = subject.startsWith('k:') ? byKey : subject.startsWith('p:') ? byPrefix : undefined;
    if (!target) continue;
    const id = subject.slice(2);
    const t = target.get(id) ?? empty();
    target.set(id, t);
    add(t, metric, Number(raw));
  }
  await mergePrefixes(sql, byKey, byPrefix);
  if (byKey.size === 0) return 0;
  const rows = [...byKey];
  const col = <T>(f: (t: Totals) => T) => rows.map(([, t]) => f(t));
  const written = await sql`
    insert into usage_hourly (hour, key_id, client_id, requests, events_accepted, bytes, auth_failures, rate_limited, rejected, updated_at)
    select ${new Date(hourMs).toISOString()}::timestamptz, u.key_id, k.client_id, u.requests, u.events, u.bytes, u.auth_failures, u.rate_limited, u.rejected::jsonb, now()
    from unnest(
      ${rows.map(([id]) => id)}::text[], ${col((t) => t.requests)}::bigint[], ${col((t) => t.events)}::bigint[],
      ${col((t) => t.bytes)}::bigint[], ${col((t) => t.auth_failures)}::bigint[], ${col((t) => t.rate_limited)}::bigint[],
      ${col((t) => JSON.stringify(t.rejected))}::text[]
    ) as u(key_id, requests, events, bytes, auth_failures, rate_limited, rejected)
    join api_keys k on k.id = u.key_id
    on conflict (hour, key_id) do update set
      requests = excluded.requests, events_accepted = excluded.events_accepted, bytes = excluded.bytes,
      auth_failures = excluded.auth_failures, rate_limited = excluded.rate_limited, rejected = excluded.rejected,
      updated_at = excluded.updated_at
    where excluded.requests >= usage_hourly.requests`;
  return written.count;
}

function add(t: Totals, metric: string, n: number): void {
  if (!Number.isFinite(n)) return;
  if (metric.startsWith('rej:')) {
    const reason = metric.slice(4);
    t.rejected[reason] = (t.rejected[reason] ?? 0) + n;
  } else if (metric in t && metric !== 'rejected') {
    (t as unknown as Record<string, number>)[metric]! += n;
  }
}

/** Failed requests were counted by the prefix their key claimed: credit them to that key, when it exists. */
async function mergePrefixes(sql: Sql, byKey: Map<string, Totals>, byPrefix: Map<string, Totals>): Promise<void> {
  if (byPrefix.size === 0) return;
  const found = await sql<{ id: string; prefix: string }[]>`select id, prefix from api_keys where prefix = any(${[...byPrefix.keys()]}::text[])`;
  for (const { id, prefix } of found) {
    const from = byPrefix.get(prefix)!;
    const into = byKey.get(id) ?? empty();
    byKey.set(id, into);
    for (const m of ['requests', 'events', 'bytes', 'auth_failures', 'rate_limited'] as const) into[m] += from[m];
    for (const [reason, n] of Object.entries(from.rejected)) into.rejected[reason] = (into.rejected[reason] ?? 0) + n;
  }
}

/** Upserts the addresses each key was used from in this hour; novel_at marks an address new to the key, or back after `novelAfterDays`. */
async function writeAddresses(sql: Sql, hourMs: number, now: number, fields: Record<string, string>, novelAfterDays: number): Promise<number> {
  const pairs: Array<[string, string]> = [];
  for (const field of Object.keys(fields)) {
    if (!field.startsWith('a:')) continue;
    const [keyId = '', address = ''] = field.slice(2).split(SEP);
    if (keyId && address) pairs.push([keyId, address]);
  }
  if (pairs.length === 0) return 0;
  // the hour's end, or now for the current hour; also novel_at, on this process's clock like the rules' `now`
  // (the database's now() could fall a fraction of a millisecond after a rule run that starts right away)
  const seen = new Date(Math.min(now, hourMs + HOUR_MS)).toISOString();
  const written = await sql`
    insert into key_addresses (key_id, address, first_seen, last_seen, novel_at)
    select u.key_id, u.address, ${seen}::timestamptz, ${seen}::timestamptz, ${seen}::timestamptz
    from unnest(${pairs.map(([k]) => k)}::text[], ${pairs.map(([, a]) => a)}::text[]) as u(key_id, address)
    join api_keys k on k.id = u.key_id
    on conflict (key_id, address) do update set
      last_seen = greatest(key_addresses.last_seen, excluded.last_seen),
      novel_at = case when key_addresses.last_seen < excluded.last_seen - ${novelAfterDays} * interval '1 day' then excluded.novel_at else key_addresses.novel_at end`;
  return written.count;
}
