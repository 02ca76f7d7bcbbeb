import { randomBytes } from 'node:crypto';
import type { Sql } from '@central-logger/db';

export interface LoadOptions {
  /** Events per request. Default 10. */
  batch?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Pause between a worker's requests, ms. Default 0. */
  pauseMs?: number;
}

/**
 * A steady stream of POSTs with known event ids, spread over `targets()`,
 * that remembers which ids were answered 202 and how every request ended.
 */
export class SteadyLoad {
  readonly run = randomBytes(4).toString('hex');
  readonly sent = new Set<string>();
  readonly accepted = new Set<string>();
  /** Count of responses by status, plus "network" for requests that got no answer. */
  readonly outcomes = new Map<string, number>();
  /** Bodies of 5xx answers, to check that none reveals internals. */
  readonly serverErrors: string[] = [];
  /** Requests that got no HTTP answer at all: where they went and when they started. */
  readonly unanswered: Array<{ target: string; startedAt: number }> = [];
  private next = 0;
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly targets: () => string[],
    private readonly key: string,
    private readonly options: LoadOptions = {},
  ) {}

  start(): void {
    this.running = true;
    const n = this.options.concurrency ?? 4;
    this.loops = Array.from({ length: n }, (_, i) => this.loop(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  count(outcome: string): number {
    return this.outcomes.get(outcome) ?? 0;
  }

  private async loop(worker: number): Promise<void> {
    while (this.running) {
      const targets = this.targets();
      const base = targets[(this.next + worker) % targets.length]!;
      const ids = Array.from({ length: this.options.batch ?? 10 }, () => `${this.run}-${this.next++}`);
      for (const id of ids) this.sent.add(id);
      const body = ids.map((id) => ({ event_id: id, environment: 'fault', executed_at: new Date().toISOString(), status: 'SUCCESS', message: id }));
      let outcome = 'network';
      const startedAt = Date.now();
      try {
        const res = await fetch(`${base}/api/v1/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': this.key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        outcome = String(res.status);
        const text = await res.text();
        if (res.status === 202) for (const id of ids) this.accepted.add(id);
        if (res.status >= 500) this.serverErrors.push(text);
      } catch {
        this.unanswered.push({ target: base, startedAt });
        await new Promise((r) => setTimeout(r, 50));
      }
      this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
      if (this.options.pauseMs) await new Promise((r) => setTimeout(r, this.options.pauseMs));
    }
  }
}

export interface Tally {
  /** Accepted ids not stored. */
  missing: string[];
  /** Ids stored more than once. */
  duplicated: string[];
  /** Stored ids this load never sent. */
  foreign: string[];
  stored: number;
}

/** Compares what the load was told was accepted with what the tenant's rows hold. */
export async function tally(sql: Sql, clientId: string, load: Pick<SteadyLoad, 'accepted' | 'sent'>): Promise<Tally> {
  const rows = await sql`select event_id, count(*)::int as n from workflow_logs where client_id = ${clientId} group by event_id`;
  const stored = new Map(rows.map((r) => [r.event_id as string, r.n as number]));
  return {
    missing: [...load.accepted].filter((id) => !stored.has(id)),
    duplicated: [...stored].filter(([, n]) => n > 1).map(([id]) => id),
    foreign: [...stored.keys()].filter((id) => !load.sent.has(id)),
    stored: stored.size,
  };
}
