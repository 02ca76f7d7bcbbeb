/** The ingest limits that apply to one client: rates per key, a rate and a quota per client. */
export interface Limits {
  /** Sustained requests per second, per key. */
  requestsPerSecond: number;
  /** Requests a key may send at once above the sustained rate. */
  requestBurst: number;
  /** Sustained events per second, per key. */
  eventsPerSecond: number;
  /** Events a key may send at once above the sustained rate. */
  eventBurst: number;
  /** Sustained events per second, per client across all its keys. */
  tenantEventsPerSecond: number;
  /** Events a client may send at once above its sustained rate, across all its keys. */
  tenantEventBurst: number;
  /** Events per UTC day, per client. */
  eventsPerDay: number;
}

/**
 * Fair persistence: a client's events up to this rate (with burst) go to the
 * queue's fast lane, the rest to the bulk lane. Not a limit, and the same for
 * every client (FAIR_SHARE_* config).
 */
export interface FairShare {
  eventsPerSecond: number;
  burst: number;
}

export const DAY_MS = 86_400_000;

// every request asks for the day; a Date and a string per request add up
let cachedDay = { n: -1, text: '' };

/** The UTC day of `ms` as YYYY-MM-DD. */
export function utcDay(ms: number): string {
  const n = Math.floor(ms / DAY_MS);
  if (n !== cachedDay.n) cachedDay = { n, text: new Date(n * DAY_MS).toISOString().slice(0, 10) };
  return cachedDay.text;
}

/** Milliseconds from `ms` to the next UTC midnight. */
export function msToNextUtcDay(ms: number): number {
  return DAY_MS - (ms % DAY_MS);
}

/** The RATE_* settings that give every client's default limits. */
export interface LimitSettings {
  RATE_KEY_REQUESTS_PER_SECOND: number;
  RATE_KEY_REQUEST_BURST: number;
  RATE_KEY_EVENTS_PER_SECOND: number;
  RATE_KEY_EVENT_BURST: number;
  RATE_TENANT_EVENTS_PER_SECOND: number;
  RATE_TENANT_EVENT_BURST: number;
  RATE_TENANT_EVENTS_PER_DAY: number;
}

/** The default limits a configuration gives (ingest applies them; the admin app shows them). */
export function limitsDefaults(c: LimitSettings): Limits {
  return {
    requestsPerSecond: c.RATE_KEY_REQUESTS_PER_SECOND,
    requestBurst: c.RATE_KEY_REQUEST_BURST,
    eventsPerSecond: c.RATE_KEY_EVENTS_PER_SECOND,
    eventBurst: c.RATE_KEY_EVENT_BURST,
    tenantEventsPerSecond: c.RATE_TENANT_EVENTS_PER_SECOND,
    tenantEventBurst: c.RATE_TENANT_EVENT_BURST,
    eventsPerDay: c.RATE_TENANT_EVENTS_PER_DAY,
  };
}
