/**
 * One attack of `npm run bench:abuse`: the victim's latency measured on the
 * same stack without and with the attack running, so the two sit side by side.
 */
export interface LatencyStats {
  /** Victim requests measured. */
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface AbuseResult {
  /** Short name, e.g. "auth flood (item 2)". */
  name: string;
  /** What the victim's latency measures (e.g. "first request with an uncached key", "received → stored"). */
  victimMeasures: string;
  without: LatencyStats;
  with: LatencyStats;
  /** The figures beside the latencies: attack size, refusals, hashing done, CPU. */
  notes: string[];
}

export interface AbuseScenario {
  name: string;
  run(): Promise<AbuseResult>;
}

/** p50/p99/max of a list of milliseconds. */
export function latencyStats(ms: number[]): LatencyStats {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
  return { n: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? NaN };
}
