import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry } from '@central-logger/http';
import { bcryptCalls } from '@central-logger/keys';
import type { ReadRouter } from '@central-logger/db';

/** What ingest-api counts besides requests (counted by requestMetrics). */
export interface IngestMetrics {
  registry: Registry;
  eventsAccepted: Counter;
  /** By reason: the error code that refused them. */
  eventsRejected: Counter<'reason'>;
  /** Events per job stored by group commit. */
  jobEvents: Histogram;
  /** Fair persistence: queue jobs stored, by lane. */
  laneJobs: Counter<'lane'>;
  /** Fair persistence: events in the queue jobs stored, by lane. */
  laneEvents: Counter<'lane'>;
  /** Fair persistence: requests (and their events) refused with 429 because the bulk lane was over MAX_BULK_BACKLOG_JOBS. */
  bulkRefusedRequests: Counter;
  bulkRefusedEvents: Counter;
}

/** `backlog`: waiting jobs of both lanes; `lanes`: of each (the last sample, no Redis call). */
export function createIngestMetrics(backlog: () => number, lanes: () => Record<string, number>): IngestMetrics {
  const registry = createRegistry('ingest-api');
  const registers = [registry];
  new Gauge({
    name: 'queue_backlog_jobs',
    help: 'Jobs waiting in the logs queues, both lanes (last sample)',
    registers,
    collect() {
      this.set(backlog());
    },
  });
  new Gauge({
    name: 'queue_lane_backlog_jobs',
    help: 'Jobs waiting per queue lane (fast: logs, bulk: logs-bulk; last sample)',
    labelNames: ['lane'],
    registers,
    collect() {
      for (const [lane, n] of Object.entries(lanes())) this.set({ lane }, n);
    },
  });
  // failed authentication must stay cheap, and a verified key must cost one compare per process (issues 13, 18)
  new Gauge({
    name: 'auth_bcrypt_compares',
    help: 'bcrypt compares run by this process since it started',
    registers,
    collect() {
      this.set(bcryptCalls.compare);
    },
  });
  return {
    registry,
    laneJobs: new Counter({ name: 'ingest_lane_jobs_total', help: 'Queue jobs stored by group commit, by lane', labelNames: ['lane'], registers }),
    laneEvents: new Counter({
      name: 'ingest_lane_events_total',
      help: 'Events in the queue jobs stored by group commit, by lane',
      labelNames: ['lane'],
      registers,
    }),
    bulkRefusedRequests: new Counter({
      name: 'ingest_bulk_refused_requests_total',
      help: 'Requests refused (429) because the bulk lane was over MAX_BULK_BACKLOG_JOBS',
      registers,
    }),
    bulkRefusedEvents: new Counter({
      name: 'ingest_bulk_refused_events_total',
      help: 'Events of the requests refused because the bulk lane was over MAX_BULK_BACKLOG_JOBS',
      registers,
    }),
    eventsAccepted: new Counter({ name: 'ingest_events_accepted_total', help: 'Events answered 202 (stored in the queue)', registers }),
    eventsRejected: new Counter({
      name: 'ingest_events_rejected_total',
      help: 'Events refused, by reason (error code); 1 per request whose events were not counted',
      labelNames: ['reason'],
      registers,
    }),
    jobEvents: new Histogram({
      name: 'ingest_group_commit_job_events',
      help: 'Events per queue job written by group commit',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000],
      registers,
    }),
  };
}

/**
 * The standby of READ_REPLICA_URL: whether reads go to it, and its replay lag
 * at the last sample (ReadRouter samples every second; nothing is queried on
 * a scrape). Up 0 with a lag is a standby too far behind; up 0 without one,
 * a standby that does not answer. Without a standby neither gauge has a value.
 */
export function watchReplica(registry: Registry, router: ReadRouter): void {
  if (!router.replica) return;
  new Gauge({
    name: 'read_replica_lag_seconds',
    help: 'Replay lag of the standby that serves tenant reads (READ_REPLICA_URL), at the last sample',
    registers: [registry],
    collect() {
      const lag = router.lagMs;
      if (lag !== undefined) this.set(lag / 1000);
    },
  });
  new Gauge({
    name: 'read_replica_up',
    help: '1 while tenant reads go to the standby, 0 while they fall back to the primary (standby down, or its lag above READ_REPLICA_MAX_LAG_MS)',
    registers: [registry],
    collect() {
      this.set(router.state === 'ok' ? 1 : 0);
    },
  });
}
