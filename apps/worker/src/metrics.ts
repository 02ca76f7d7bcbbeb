import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry } from '@central-logger/http';

export interface WorkerMetrics {
  registry: Registry;
  batchRows: Histogram;
  insertSeconds: Histogram;
  /** received_at (ingest) → stored (commit), per request's group of events, by queue lane. */
  lagSeconds: Histogram<'lane'>;
  /** Events Postgres refused, kept in dead_letter_events. */
  deadLettered: Counter;
  /** INSERTs that met a row already stored and were written again skipping stored rows. */
  insertConflicts: Counter;
}

/** `jobCounts` (by lane, then state) is read on each scrape, never on the job path. */
export function createWorkerMetrics(jobCounts: () => Promise<Record<string, Record<string, number>>>): WorkerMetrics {
  const registry = createRegistry('worker');
  const registers = [registry];
  new Gauge({
    name: 'queue_backlog_jobs',
    help: 'Jobs in the logs queues by lane (fast: logs, bulk: logs-bulk) and state (read at scrape time)',
    labelNames: ['lane', 'state'],
    registers,
    async collect() {
      // a scrape while Redis is away must not hang: no numbers rather than a stuck /metrics
      const counts = await Promise.race([
        jobCounts(),
        new Promise<Record<string, Record<string, number>>>((r) => setTimeout(() => r({}), 1_000).unref()),
      ]).catch(() => ({}));
      for (const [lane, states] of Object.entries(counts)) for (const [state, n] of Object.entries(states)) this.set({ lane, state }, n);
    },
  });
  return {
    registry,
    batchRows: new Histogram({ name: 'worker_batch_rows', help: 'Rows per INSERT', buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000], registers }),
    insertSeconds: new Histogram({
      name: 'worker_insert_seconds',
      help: 'Latency of one batch INSERT',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    lagSeconds: new Histogram({
      name: 'ingest_to_stored_lag_seconds',
      help: 'From received_at at ingest to the commit of the row, by queue lane',
      labelNames: ['lane'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    deadLettered: new Counter({ name: 'worker_dead_lettered_events_total', help: 'Events Postgres refused at insert, kept in dead_letter_events', registers }),
    insertConflicts: new Counter({
      name: 'worker_insert_conflicts_total',
      help: 'INSERTs that met a row already stored (redelivery, client retry) and were written again skipping stored rows',
      registers,
    }),
  };
}
