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

/** The UTC day of `ms` as YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Milliseconds from `ms` to the next UTC midnight. */
export function msToNextUtcDay(ms: number): number {
  return DAY_MS - (ms % DAY_MS);
}
