import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry } from '@central-logger/http';
import { bcryptCalls } from '@central-logger/keys';

/** What ingest-api counts besides requests (counted by requestMetrics). */
export interface IngestMetrics {
  registry: Registry;
  eventsAccepted: Counter;
  /** By reason: the error code that refused them. */
  eventsRejected: Counter<'reason'>;
  /** Events per job stored by group commit. */
  jobEvents: Histogram;
}

export function createIngestMetrics(backlog: () => number): IngestMetrics {
  const registry = createRegistry('ingest-api');
  const registers = [registry];
  new Gauge({ name: 'queue_backlog_jobs', help: 'Jobs waiting in the logs queue (last sample)', registers, collect() { this.set(backlog()); } });
  // failed authentication must stay cheap, and a verified key must cost one compare per process (issues 13, 18)
  new Gauge({ name: 'auth_bcrypt_compares', help: 'bcrypt compares run by this process since it started', registers, collect() { this.set(bcryptCalls.compare); } });
  return {
    registry,
    eventsAccepted: new Counter({ name: 'ingest_events_accepted_total', help: 'Events answered 202 (stored in the queue)', registers }),
    eventsRejected: new Counter({ name: 'ingest_events_rejected_total', help: 'Events refused, by reason (error code); 1 per request whose events were not counted', labelNames: ['reason'], registers }),
    jobEvents: new Histogram({ name: 'ingest_group_commit_job_events', help: 'Events per queue job written by group commit', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000], registers }),
  };
}
