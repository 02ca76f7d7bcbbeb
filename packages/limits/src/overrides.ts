import { answerWithin, type Sql } from '@central-logger/db';
import type { Limits } from './limits.js';

export type LimitOverrides = Partial<Limits>;

/** The client's overrides from client_limits; empty when it has none. */
export async function getLimitOverrides(sql: Sql, clientId: string): Promise<LimitOverrides> {
  const [row] = await sql`
    select requests_per_second, request_burst, events_per_second, event_burst, tenant_events_per_second, tenant_event_burst, events_per_day
    from client_limits where client_id = ${clientId}`;
  if (!row) return {};
  const out: LimitOverrides = {};
  if (row.requests_per_second !== null) out.requestsPerSecond = Number(row.requests_per_second);
  if (row.request_burst !== null) out.requestBurst = Number(row.request_burst);
  if (row.events_per_second !== null) out.eventsPerSecond = Number(row.events_per_second);
  if (row.event_burst !== null) out.eventBurst = Number(row.event_burst);
  if (row.tenant_events_per_second !== null) out.tenantEventsPerSecond = Number(row.tenant_events_per_second);
  if (row.tenant_event_burst !== null) out.tenantEventBurst = Number(row.tenant_event_burst);
  if (row.events_per_day !== null) out.eventsPerDay = Number(row.events_per_day);
  return out;
}

/** Sets (or, with null, clears) a client's overrides; absent fields are left as they are. */
export async function setLimitOverrides(sql: Sql, clientId: string, o: { [K in keyof Limits]?: number | null }): Promise<void> {
  const row = {
    client_id: clientId,
    requests_per_second: o.requestsPerSecond,
    request_burst: o.requestBurst,
    events_per_second: o.eventsPerSecond,
    event_burst: o.eventBurst,
    tenant_events_per_second: o.tenantEventsPerSecond,
    tenant_event_burst: o.tenantEventBurst,
    events_per_day: o.eventsPerDay,
  };
  const set = Object.keys(row).filter((k) => k !== 'client_id' && row[k as keyof typeof row] !== undefined);
  await sql`
    insert into client_limits ${sql(row as never, ['client_id', ...set] as never)}
    on conflict (client_id) do update set ${sql(row as never, set as never)}, updated_at = now()`;
}

/** Longest wait for a client's overrides before the last known limits (or the defaults) apply. */
const READ_TIMEOUT_MS = 5_000;

interface Entry {
  limits: Limits;
  until: number;
}

/**
 * The limits of each client: configured defaults with the client's overrides
 * on top, cached per process for `ttlMs` so that a change in the database
 * takes effect within that time without a restart, and the hot path costs a
 * map lookup. Concurrent misses for one client share one query.
 */
export class LimitsResolver {
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Limits>>();

  constructor(
    private readonly sql: Sql,
    readonly defaults: Limits,
    private readonly ttlMs: number,
    private readonly onError?: (err: Error) => void,
    private readonly now = Date.now,
  ) {}

  /** The client's limits when the cache holds them fresh: the hot path's way, with no promise. */
  cached(clientId: string): Limits | undefined {
    const hit = this.cache.get(clientId);
    return hit && hit.until > this.now() ? hit.limits : undefined;
  }

  async limitsOf(clientId: string): Promise<Limits> {
    const hit = this.cached(clientId);
    if (hit) return hit;
    let p = this.pending.get(clientId);
    if (!p) {
      p = this.load(clientId).finally(() => this.pending.delete(clientId));
      this.pending.set(clientId, p);
    }
    return p;
  }

  /**
   * Reads the client's row. While Postgres cannot answer, ingest goes on with
   * what it last knew of the client (or the defaults) rather than failing.
   */
  private async load(clientId: string): Promise<Limits> {
    let limits: Limits;
    try {
      // bounded: a read that never answers would hold every request of the client
      limits = { ...this.defaults, ...(await answerWithin(getLimitOverrides(this.sql, clientId), READ_TIMEOUT_MS)) };
    } catch (err) {
      this.onError?.(err as Error);
      limits = this.cache.get(clientId)?.limits ?? this.defaults;
    }
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(clientId, { limits, until: this.now() + this.ttlMs });
    return limits;
  }
}
