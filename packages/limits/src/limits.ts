/** The ingest limits that apply to one client: rates per key, quota per client. */
export interface Limits {
  /** Sustained requests per second, per key. */
  requestsPerSecond: number;
  /** Requests a key may send at once above the sustained rate. */
  requestBurst: number;
  /** Sustained events per second, per key. */
  eventsPerSecond: number;
  /** Events a key may send at once above the sustained rate. */
  eventBurst: number;
  /** Events per UTC day, per client. */
  eventsPerDay: number;
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
