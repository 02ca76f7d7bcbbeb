import type { Sql } from '@central-logger/db';
import type { Finding } from './store.js';

/** Thresholds and windows of the rules; the worker takes them from its config (ALERT_*). */
export interface RuleOptions {
  /** Rules 1–3 count failures within this sliding window; alerts are one per window bucket. Default 10 min. */
  authWindowMs: number;
  /** Rule 1: failed authentications (API keys and admin sign-ins) from one address within the window. Default 20. */
  addressFailures: number;
  /** Rule 2: failed authentications against one key prefix within the window. Default 10. */
  prefixFailures: number;
  /** Rule 3: attempts with one revoked or expired key within the window. Default 1. */
  deadKeyUses: number;
  /** Rule 4: an address is new to a key if the key has not used it for this many days. Default 30. */
  newAddressDays: number;
  /** Rule 5: an hour's requests above this multiple of the key's average hourly requests. Default 10. */
  spikeFactor: number;
  /** Rule 5: and above this many requests in the hour. Default 1000. */
  spikeMinRequests: number;
  /** Rule 5: the baseline is the average hour over this many days before. Default 7. */
  spikeBaselineDays: number;
  /** Rule 6: a key with no successful request for this many days. Default 30. */
  dormantDays: number;
  /** Rule 10: a key without an expiry this many days old is due for rotation; 0 turns the rule off. Default 90. */
  keyRotationDays: number;
}

export const DEFAULT_RULE_OPTIONS: RuleOptions = {
  authWindowMs: 10 * 60_000,
  addressFailures: 20,
  prefixFailures: 10,
  deadKeyUses: 1,
  newAddressDays: 30,
  spikeFactor: 10,
  spikeMinRequests: 1000,
  spikeBaselineDays: 7,
  dormantDays: 30,
  keyRotationDays: 90,
};

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const bucket = (ms: number, size: number) => new Date(Math.floor(ms / size) * size);

export type RuleFn = (sql: Sql, now: number, o: RuleOptions) => Promise<Finding[]>;

/** Rule 1: a spike of failed authentications from one address (API keys on any app, and admin sign-ins). */
// Rules 1–3 bound the window below only: admin sign-in failures carry the database's clock, which may be a
// fraction of a millisecond ahead of this process's `now`.
export const failedAuthFromAddress: RuleFn = async (sql, now, o) => {
  const since = new Date(now - o.authWindowMs);
  const rows = await sql`
    select address, count(*)::int as failures, min(at) as first_at, max(at) as last_at,
      (array_agg(distinct reason))::text[] as reasons,
      count(*) filter (where reason = 'admin_sign_in')::int as admin_sign_ins
    from (
      select address, occurred_at as at, reason from auth_failures where occurred_at > ${since}
      union all
      select ip, at, 'admin_sign_in' from admin_login_failures where ip is not null and at > ${since}
    ) f
    group by address having count(*) >= ${o.addressFailures}`;
  return rows.map((r) => ({
    rule: 'auth_failures_address',
    subject: r.address as string,
    windowStart: bucket(now, o.authWindowMs),
    severity: 'warning',
    summary: `${r.failures} failed authentications from ${r.address} within ${Math.round(o.authWindowMs / 60_000)} min`,
    evidence: {
      address: r.address,
      failures: r.failures,
      admin_sign_in_failures: r.admin_sign_ins,
      reasons: r.reasons,
      first_at: r.first_at,
      last_at: r.last_at,
      threshold: o.addressFailures,
      window_ms: o.authWindowMs,
    },
  }));
};

/** Rule 2: a spike of failed authentications against one key prefix (guessing a key's secret, from anywhere). */
export const failedAuthAgainstPrefix: RuleFn = async (sql, now, o) => {
  const rows = await sql`
    select f.key_prefix, count(*)::int as failures, count(distinct f.address)::int as addresses,
      (array_agg(distinct f.address))[1:10] as sample_addresses, min(f.occurred_at) as first_at, max(f.occurred_at) as last_at,
      k.id as key_id, k.client_id
    from auth_failures f left join api_keys k on k.prefix = f.key_prefix
    where f.key_prefix is not null and f.occurred_at > ${new Date(now - o.authWindowMs)}
    group by f.key_prefix, k.id, k.client_id having count(*) >= ${o.prefixFailures}`;
  return rows.map((r) => ({
    rule: 'auth_failures_prefix',
    subject: r.key_prefix as string,
    windowStart: bucket(now, o.authWindowMs),
    severity: 'warning',
    summary: `${r.failures} failed authentications against key ${r.key_prefix} from ${r.addresses} address(es)`,
    evidence: {
      key_prefix: r.key_prefix,
      failures: r.failures,
      addresses: r.addresses,
      sample_addresses: r.sample_addresses,
      first_at: r.first_at,
      last_at: r.last_at,
      threshold: o.prefixFailures,
      window_ms: o.authWindowMs,
    },
    clientId: r.client_id ?? null,
    keyId: r.key_id ?? null,
  }));
};

/** Rule 3: someone still uses a revoked or expired key. */
export const deadKeyInUse: RuleFn = async (sql, now, o) => {
  const rows = await sql`
    select f.key_prefix, count(*)::int as attempts, (array_agg(distinct f.reason))::text[] as reasons,
      (array_agg(distinct f.address))[1:10] as addresses, max(f.occurred_at) as last_at,
      k.id as key_id, k.client_id, k.revoked_at, k.expires_at
    from auth_failures f left join api_keys k on k.prefix = f.key_prefix
    where f.reason in ('api_key_revoked', 'api_key_expired') and f.key_prefix is not null
      and f.occurred_at > ${new Date(now - o.authWindowMs)}
    group by f.key_prefix, k.id, k.client_id, k.revoked_at, k.expires_at having count(*) >= ${o.deadKeyUses}`;
  return rows.map((r) => ({
    rule: 'dead_key_in_use',
    subject: r.key_prefix as string,
    windowStart: bucket(now, o.authWindowMs),
    severity: 'warning',
    summary: `${(r.reasons as string[]).includes('api_key_revoked') ? 'Revoked' : 'Expired'} key ${r.key_prefix} still in use (${r.attempts} attempt(s))`,
    evidence: {
      key_prefix: r.key_prefix,
      attempts: r.attempts,
      reasons: r.reasons,
      addresses: r.addresses,
      last_at: r.last_at,
      revoked_at: r.revoked_at,
      expires_at: r.expires_at,
    },
    clientId: r.client_id ?? null,
    keyId: r.key_id ?? null,
  }));
};

/**
 * Rule 4: a key used from an address it has not used for `newAddressDays`
 * (key_addresses.novel_at, set by the usage roll-up). A key's very first
 * address is not news: the key must have been used from another one before.
 */
export const keyFromNewAddress: RuleFn = async (sql, now) => {
  const rows = await sql`
    select a.key_id, a.address, a.novel_at, a.first_seen, k.prefix, k.client_id,
      (select jsonb_agg(jsonb_build_object('address', o.address, 'last_seen', o.last_seen) order by o.last_seen desc)
         from (select address, last_seen from key_addresses o where o.key_id = a.key_id and o.address <> a.address order by last_seen desc limit 10) o) as known
    from key_addresses a join api_keys k on k.id = a.key_id
    where a.novel_at > ${new Date(now - DAY)} and a.novel_at <= ${new Date(now)}
      and exists (select 1 from key_addresses o where o.key_id = a.key_id and o.address <> a.address and o.first_seen < a.novel_at)`;
  return rows.map((r) => ({
    rule: 'new_address',
    subject: `${r.prefix}@${r.address}`,
    windowStart: bucket((r.novel_at as Date).getTime(), DAY),
    severity: 'info',
    summary: `Key ${r.prefix} used from a new address ${r.address}`,
    evidence: { key_prefix: r.prefix, address: r.address, seen_at: r.novel_at, first_seen: r.first_seen, known_addresses: r.known ?? [] },
    clientId: r.client_id ?? null,
    keyId: r.key_id,
  }));
};

/** Rule 5: this hour's or the last hour's requests against a key far above its own average hour over the days before. */
export const requestSpike: RuleFn = async (sql, now, o) => {
  const current = bucket(now, HOUR).getTime();
  const baselineFrom = new Date(current - HOUR - o.spikeBaselineDays * DAY);
  const baselineTo = new Date(current - HOUR);
  const rows = await sql`
    select u.key_id, u.hour, u.requests, k.prefix, k.client_id, b.total as baseline_total
    from usage_hourly u join api_keys k on k.id = u.key_id
    join lateral (
      select sum(requests)::bigint as total from usage_hourly h
      where h.key_id = u.key_id and h.hour >= ${baselineFrom} and h.hour < ${baselineTo}
    ) b on b.total is not null
    where u.hour >= ${baselineTo} and u.requests >= ${o.spikeMinRequests}
      and u.requests > ${o.spikeFactor} * b.total / ${o.spikeBaselineDays * 24}::float8`;
  return rows.map((r) => {
    const baseline = Number(r.baseline_total) / (o.spikeBaselineDays * 24);
    return {
      rule: 'request_spike',
      subject: r.prefix as string,
      windowStart: r.hour as Date,
      severity: 'warning',
      summary: `Key ${r.prefix}: ${r.requests} requests in an hour, ${Math.round(Number(r.requests) / Math.max(baseline, 0.01))}× its ${o.spikeBaselineDays}-day average (${baseline.toFixed(1)}/h)`,
      evidence: {
        key_prefix: r.prefix,
        hour: r.hour,
        requests: Number(r.requests),
        baseline_per_hour: baseline,
        baseline_days: o.spikeBaselineDays,
        factor: o.spikeFactor,
        min_requests: o.spikeMinRequests,
      },
      clientId: r.client_id ?? null,
      keyId: r.key_id,
    };
  });
};

/** Rule 6: a key older than `dormantDays`, with no successful request in that time before the last two hours, is active again. */
export const dormantKeyActive: RuleFn = async (sql, now, o) => {
  const recentFrom = new Date(bucket(now, HOUR).getTime() - HOUR);
  const dormantFrom = new Date(now - o.dormantDays * DAY);
  const rows = await sql`
    select k.id as key_id, k.prefix, k.client_id, k.created_at, sum(u.requests - u.auth_failures)::bigint as requests, min(u.hour) as since
    from usage_hourly u join api_keys k on k.id = u.key_id
    where u.hour >= ${recentFrom} and u.requests > u.auth_failures and k.created_at < ${dormantFrom}
      and not exists (
        select 1 from usage_hourly p where p.key_id = k.id and p.hour >= ${dormantFrom} and p.hour < ${recentFrom} and p.requests > p.auth_failures)
    group by k.id, k.prefix, k.client_id, k.created_at`;
  return rows.map((r) => ({
    rule: 'dormant_key_active',
    subject: r.prefix as string,
    windowStart: bucket(now, DAY),
    severity: 'warning',
    summary: `Key ${r.prefix}, unused for ${o.dormantDays} days, is active again (${r.requests} request(s))`,
    evidence: { key_prefix: r.prefix, requests: Number(r.requests), active_since: r.since, created_at: r.created_at, dormant_days: o.dormantDays },
    clientId: r.client_id ?? null,
    keyId: r.key_id,
  }));
};

/** Rule 7: a tenant past 80% or 100% of its daily quota (quota_warnings, written by ingest). */
export const quotaReached: RuleFn = async (sql, now) => {
  const rows = await sql`
    select client_id, to_char(day, 'YYYY-MM-DD') as day, threshold, events_used, events_per_day, recorded_at
    from quota_warnings where day >= (${new Date(now)}::timestamptz at time zone 'UTC')::date - 1`;
  return rows.map((r) => ({
    rule: 'quota',
    subject: `${r.client_id}:${r.threshold}`,
    windowStart: new Date(`${r.day}T00:00:00Z`),
    severity: r.threshold === 100 ? 'critical' : 'warning',
    summary: `Client ${r.client_id} reached ${r.threshold}% of its daily quota on ${r.day} (${r.events_used} of ${r.events_per_day} events)`,
    evidence: { day: r.day, threshold: r.threshold, events_used: Number(r.events_used), events_per_day: Number(r.events_per_day), recorded_at: r.recorded_at },
    clientId: r.client_id,
  }));
};

/**
 * Rule 8 (the fault suite's poison events): events Postgres refused although they
 * passed validation, kept in dead_letter_events by the worker. One alert per
 * client and hour; critical, since accepted data is waiting for an operator.
 */
export const deadLetteredEvents: RuleFn = async (sql, now) => {
  const since = bucket(now, HOUR);
  const rows = await sql`
    select client_id, count(*)::int as events, (array_agg(event_id order by id))[1:10] as sample_event_ids,
      (array_agg(distinct error_code))::text[] as error_codes, min(failed_at) as first_at, max(failed_at) as last_at
    from dead_letter_events where failed_at >= ${since}
    group by client_id`;
  return rows.map((r) => ({
    rule: 'dead_letters',
    subject: r.client_id as string,
    windowStart: since,
    severity: 'critical',
    summary: `${r.events} event(s) of client ${r.client_id} refused by Postgres and kept in dead_letter_events`,
    evidence: { events: r.events, sample_event_ids: r.sample_event_ids, error_codes: r.error_codes, first_at: r.first_at, last_at: r.last_at },
    clientId: r.client_id as string,
  }));
};

/** What the worker read of the logs queue's failed jobs for rule 9. */
export interface FailedJobsSummary {
  /** Failed persist-logs jobs in the queue. */
  jobs: number;
  /** Events in the jobs examined (the newest, up to a limit). */
  events: number;
  /** Distinct failure reasons of the jobs examined. */
  reasons: string[];
  clients: string[];
  oldestFailedAt: Date | undefined;
}

/**
 * Rule 9: queue jobs that used up their attempts (Postgres away longer than
 * the retry schedule, say). Their events were answered 202 and are not
 * stored until an operator retries them: critical, one alert an hour while
 * any remain. Read from Redis, not Postgres, by the worker.
 */
export function failedJobsFinding(failed: FailedJobsSummary, now: number): Finding[] {
  if (failed.jobs === 0) return [];
  return [
    {
      rule: 'failed_jobs',
      subject: 'logs',
      windowStart: bucket(now, HOUR),
      severity: 'critical',
      summary: `${failed.jobs} queue job(s) holding accepted events gave up after all their attempts; once the cause is fixed, run: central-logger jobs retry`,
      evidence: {
        jobs: failed.jobs,
        events_in_newest: failed.events,
        reasons: failed.reasons,
        clients: failed.clients,
        oldest_failed_at: failed.oldestFailedAt ?? null,
      },
    },
  ];
}

/**
 * Rule 10: a key due for rotation (`api-key rotate`, with a grace period).
 * Info, for a working key with no expiry older than `keyRotationDays` (0 turns
 * that part off); warning, for a working legacy key (`lgh_`/`lgc_`: imported
 * from a development `.env`, no public id, possibly weak) whatever its age or
 * expiry, until it is rotated (its lookup id once let guesses be tested offline). One alert per key per period
 * (30 days for legacy keys when the age rule is off), so it comes back every
 * period until the key is rotated. Keys of inactive clients, revoked and
 * expired keys, and keys already rotated are left out.
 */
export const keyRotationDue: RuleFn = async (sql, now, o) => {
  const period = (o.keyRotationDays > 0 ? o.keyRotationDays : 30) * DAY;
  const oldBefore = o.keyRotationDays > 0 ? new Date(now - period) : null;
  const rows = await sql`
    select k.id, k.prefix, k.name, k.client_id, k.created_at, left(k.prefix, 4) in ('lgh_', 'lgc_') as legacy
    from api_keys k left join clients c on c.id = k.client_id
    where k.revoked_at is null and k.is_active and k.replaced_by is null
      and (k.client_id is null or c.is_active)
      and (
        (left(k.prefix, 4) in ('lgh_', 'lgc_') and (k.expires_at is null or k.expires_at > ${new Date(now)}))
        or (k.expires_at is null and k.created_at < ${oldBefore ?? new Date(0)} and ${oldBefore !== null})
      )`;
  return rows.map((r) => ({
    rule: 'key_rotation_due',
    subject: r.prefix as string,
    windowStart: bucket(now, period),
    severity: r.legacy ? 'warning' : 'info',
    summary: r.legacy
      ? `Key ${r.prefix} (${r.name}) is a legacy key (no public id, possibly weak); rotate it now: central-logger api-key rotate ${r.prefix} --grace 24h`
      : `Key ${r.prefix} (${r.name}) is over ${o.keyRotationDays} days old and never expires; rotate it: central-logger api-key rotate ${r.prefix} --grace 24h`,
    evidence: { key_prefix: r.prefix, name: r.name, created_at: r.created_at, rotation_days: o.keyRotationDays, ...(r.legacy ? { legacy: true } : {}) },
    clientId: r.client_id ?? null,
    keyId: r.id,
  }));
};

export const ALL_RULES: RuleFn[] = [
  failedAuthFromAddress,
  failedAuthAgainstPrefix,
  deadKeyInUse,
  keyFromNewAddress,
  requestSpike,
  dormantKeyActive,
  quotaReached,
  deadLetteredEvents,
  keyRotationDue,
];
