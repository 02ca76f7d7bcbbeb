import { Counter, Gauge } from 'prom-client';
import { BodyBudget } from '@central-logger/http';
import { LimitsResolver, limitsDefaults, RateLimiter } from '@central-logger/limits';
import { BacklogMonitor, GroupCommitter, ShardedCommitter, type QueueLane } from '@central-logger/queue';
import type { IngestDeps } from './app.js';
import { createIngestMetrics, type IngestMetrics } from './metrics.js';

/** What the ingest path shares across requests: metrics, backlog sampling, group commit, rate limits. */
export interface Throughput {
  metrics: IngestMetrics;
  backlog: BacklogMonitor;
  /**
   * Group commit per lane and queue shard: a job holds the events of one lane only, so a light tenant's events
   * never wait in a bulk job, and of one shard's tenants only.
   */
  committers: Record<QueueLane, ShardedCommitter>;
  limiter: RateLimiter;
  limits: LimitsResolver;
  /** Counts a request refused because the bulk lane was over its bound. */
  countBulkRefusal: (events: number) => void;
  /** The request bodies the process holds at once (MAX_INFLIGHT_BODY_BYTES, per client MAX_INFLIGHT_BODY_BYTES_PER_CLIENT). */
  bodies: BodyBudget;
}

export function createThroughput(deps: IngestDeps): Throughput {
  const { config } = deps;
  const backlog = new BacklogMonitor(deps.producer.lanes, deps.redis, {
    sampleMs: config.BACKLOG_SAMPLE_MS,
    maxJobs: config.MAX_QUEUE_BACKLOG_JOBS,
    maxBulkJobs: config.MAX_BULK_BACKLOG_JOBS,
    maxMemoryRatio: config.MAX_REDIS_MEMORY_RATIO,
  });
  const metrics = createIngestMetrics(
    () => backlog.current(),
    () => backlog.byLane(),
  );
  const committer = (lane: QueueLane, shard: number) =>
    new GroupCommitter(
      (job) => deps.producer.enqueue(job, lane, shard),
      { windowMs: config.GROUP_COMMIT_MS, maxEvents: config.GROUP_COMMIT_MAX_EVENTS },
      (_groups, events) => {
        metrics.jobEvents.observe(events);
        metrics.laneJobs.inc({ lane });
        metrics.laneEvents.inc({ lane }, events);
      },
    );
  const sharded = (lane: QueueLane) => new ShardedCommitter(Array.from({ length: deps.producer.shards }, (_, shard) => committer(lane, shard)));
  const committers = { fast: sharded('fast'), bulk: sharded('bulk') };
  const limiter = new RateLimiter(
    deps.redis,
    `${config.QUEUE_PREFIX}:ingest`,
    { eventsPerSecond: config.FAIR_SHARE_EVENTS_PER_SECOND, burst: config.FAIR_SHARE_BURST },
    { ms: config.RATE_LEASE_MS, share: config.RATE_LEASE_SHARE },
  );
  const limits = new LimitsResolver(deps.sql, limitsDefaults(config), config.LIMITS_CACHE_TTL_MS, (err) =>
    deps.log.warn({ err: err.message }, 'could not read client limits; using the last known'),
  );
  const countBulkRefusal = (events: number) => {
    metrics.bulkRefusedRequests.inc();
    metrics.bulkRefusedEvents.inc(events);
  };
  const cuts = new Counter({
    name: 'ingest_body_cuts_total',
    help: 'Requests cut (429) while their body was read, to make room in a full process for a client below its fair share',
    registers: [metrics.registry],
  });
  const bodies = new BodyBudget({
    maxBytes: config.MAX_INFLIGHT_BODY_BYTES,
    maxPerOwnerBytes: config.MAX_INFLIGHT_BODY_BYTES_PER_CLIENT,
    retryAfterS: config.UNAVAILABLE_RETRY_AFTER_S,
    onCut: () => cuts.inc(),
  });
  new Gauge({
    name: 'ingest_body_bytes_in_flight',
    help: 'Request body bytes (after gunzip) the ingest routes hold now (MAX_INFLIGHT_BODY_BYTES)',
    registers: [metrics.registry],
    collect() {
      this.set(bodies.heldBytes);
    },
  });
  return { metrics, backlog, committers, limiter, limits, countBulkRefusal, bodies };
}
