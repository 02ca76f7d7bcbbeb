import type { Server } from 'node:http';
import { Queue, Worker } from 'bullmq';
import type { WorkerConfig } from '@central-logger/config';
import { createSql, ensurePartitions, roleUrl, type Sql } from '@central-logger/db';
import { closeServer, createLogger, refuseOpenMetrics, serveMetrics, type Logger } from '@central-logger/http';
import { laneQueueName, MAINTENANCE, METRICS_MAX_DATA_POINTS, shardPrefixes, workerConnection, type QueueLane } from '@central-logger/queue';
import { redisTarget } from '@central-logger/redis';
import { LogBatcher } from './batcher.js';
import { TailNotifier } from '@central-logger/tail';
import { persistLogs } from './jobs/persist-logs.js';
import { maintenance } from './jobs/retention.js';
import { BulkGovernor } from './bulk-governor.js';
import { createWorkerMetrics } from './metrics.js';
import { startInsights, type Insights } from './insights.js';

export interface WorkerService {
  /** The fast lane's worker (the logs queue, WORKER_CONCURRENCY jobs at once), of queue shard 0. */
  worker: Worker;
  /** The bulk lane's worker (the logs-bulk queue, BULK_WORKER_CONCURRENCY jobs at once), of queue shard 0. */
  bulkWorker: Worker;
  /** Every shard's lane workers (QUEUE_SHARDS × 2), shard 0's fast and bulk first. */
  workers: Worker[];
  log: Logger;
  /** /metrics (METRICS_TOKEN as ingest-api's) and /health, on WORKER_METRICS_HOST:WORKER_METRICS_PORT. */
  metricsServer: Server;
  /** Usage roll-up and alert rules, runnable on demand. */
  insights: Insights;
  /** Ordered shutdown: stop taking jobs, finish the current batch, end the pool. */
  close(): Promise<void>;
}

/**
 * Bulk jobs at once while no other tenant uses the fast lane: enough to keep the INSERTs full (bench:ingest batched,
 * one tenant: 12–16k events/s persisted with 4 or 16, 24.6k with 32 on the same loaded machine), few enough that
 * another tenant arriving waits behind little (tenant-flood victim p99 149–167 ms with 16 or 32).
 */
const BULK_JOBS_ALONE = 32;

export async function startWorker(config: WorkerConfig, options: { queueName?: string } = {}): Promise<WorkerService> {
  const log = createLogger('worker', config.LOG_LEVEL);
  const metricsListener = { host: config.WORKER_METRICS_HOST, port: config.WORKER_METRICS_PORT, token: config.METRICS_TOKEN, health: true };
  refuseOpenMetrics(metricsListener);
  // its own role (migration 090): partitions and retention through the owner's narrow functions
  const sql = createSql(config.WORKER_DATABASE_URL ?? roleUrl(config.DATABASE_URL, 'worker'), { max: config.DATABASE_POOL_SIZE, applicationName: 'worker' });
  const connection = workerConnection(redisTarget(config));
  // every queue shard (QUEUE_SHARDS), each with its two lanes under a prefix of its own
  const prefixes = shardPrefixes(config.QUEUE_PREFIX, config.QUEUE_SHARDS);
  const queuesOf = (lane: QueueLane) => prefixes.map((prefix) => new Queue(laneQueueName(lane, options.queueName), { connection, prefix }));
  const queues = { fast: queuesOf('fast'), bulk: queuesOf('bulk') };
  const metrics = createWorkerMetrics(async () => {
    const [fast, bulk] = await Promise.all([sumCounts(queues.fast), sumCounts(queues.bulk)]);
    return { fast, bulk };
  });
  const batcher = new LogBatcher(
    sql,
    {
      maxRows: config.BATCH_MAX_EVENTS,
      flushMs: config.BATCH_FLUSH_MS,
      maxInFlight: config.BATCH_CONCURRENCY,
      onConflict: () => metrics.insertConflicts.inc(),
    },
    (rows, ms) => {
      metrics.batchRows.observe(rows);
      metrics.insertSeconds.observe(ms / 1000);
    },
    (rows, err) => {
      metrics.deadLettered.inc(rows.length);
      log.error(
        { client_id: rows[0]?.client_id, event_ids: rows.map((r) => r.event_id), code: (err as { code?: string }).code },
        'events refused by Postgres kept in dead_letter_events',
      );
    },
  );
  connection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  // live tails: after each commit, the tenants someone tails are told to read what is new
  const tail = new TailNotifier(connection, config.QUEUE_PREFIX, { onError: (err) => log.warn({ err: err.message }, 'live tail announcement failed') });
  for (const queue of [...queues.fast, ...queues.bulk]) queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'));

  // fair persistence: one worker per lane, so bulk jobs never hold the slots (nor the batcher's memory) fast jobs need
  const workerOf = (lane: QueueLane, concurrency: number, shard: number) => {
    const worker = new Worker(
      laneQueueName(lane, options.queueName),
      persistLogs(batcher, (g) => {
        metrics.lagSeconds.observe({ lane }, (Date.now() - Date.parse(g.received_at)) / 1000);
        tail.stored(g.client_id);
        governors[shard]?.seen(lane, g.client_id);
      }),
      {
        connection,
        prefix: prefixes[shard]!,
        concurrency,
        lockDuration: config.LOCK_DURATION_MS,
        stalledInterval: config.STALLED_INTERVAL_MS,
        // a job that stalls (its worker died) goes back to waiting this many times before it is failed
        maxStalledCount: 10,
        // per-minute completion counts in Redis: the admin app's jobs per second
        metrics: { maxDataPoints: METRICS_MAX_DATA_POINTS },
      },
    );
    worker.on('error', (err) => log.error({ lane, shard, err: err.message }, 'worker error'));
    worker.on('failed', (job, err) => {
      const final = job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError');
      log[final ? 'error' : 'warn'](
        { lane, shard, job_id: job?.id, attempts: job?.attemptsMade, err: err.message },
        final ? 'job failed for good' : 'job failed; will retry',
      );
    });
    return worker;
  };
  // each shard has its lanes' workers and its own governor (a shard's tenants are those it sees); the
  // concurrency settings are per shard, so N shards take N times as many jobs at once
  const governors: BulkGovernor[] = [];
  const workers = prefixes.flatMap((_, shard) => [workerOf('fast', config.WORKER_CONCURRENCY, shard), workerOf('bulk', config.BULK_WORKER_CONCURRENCY, shard)]);
  const worker = workers[0]!;
  const bulkWorker = workers[1]!;
  // BULK_WORKER_CONCURRENCY only while another tenant is in the fast lane; otherwise enough jobs in hand
  // (BULK_JOBS_ALONE of up to 500 events) to keep every INSERT slot full, and no more: what the bulk
  // worker holds when another tenant arrives is what that tenant's first events wait behind
  for (let shard = 0; shard < prefixes.length; shard++) {
    governors.push(
      new BulkGovernor(workers[2 * shard + 1]!, {
        shared: config.BULK_WORKER_CONCURRENCY,
        alone: Math.max(config.BULK_WORKER_CONCURRENCY, Math.min(BULK_JOBS_ALONE, config.WORKER_CONCURRENCY)),
      }),
    );
  }

  await ensurePartitionsNow(sql, log);
  const maintainer = await startMaintenance(config, sql, connection, log);
  const insights = await startInsights(config, sql, connection, log);
  const metricsServer = await serveMetrics(metrics.registry, metricsListener);
  log.info(
    {
      queues: [worker.name, bulkWorker.name],
      shards: prefixes,
      concurrency: config.WORKER_CONCURRENCY,
      bulk_concurrency: config.BULK_WORKER_CONCURRENCY,
      metrics: metricsServer.address(),
    },
    'worker started',
  );

  return {
    worker,
    bulkWorker,
    workers,
    log,
    metricsServer,
    insights,
    async close() {
      await insights.close();
      await maintainer.close();
      await closeServer(metricsServer, 1_000);
      // both lanes stop taking jobs and finish theirs (their rows are in the batcher), then the last INSERTs
      for (const g of governors) g.close();
      await Promise.all(workers.map((w) => w.close()));
      await batcher.flush();
      await tail.close();
      await Promise.all([...queues.fast, ...queues.bulk].map((q) => q.close()));
      connection.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}

/** Job states the /metrics gauge shows per lane. */
const COUNTED = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/** One lane's job counts, summed over its queue shards. */
async function sumCounts(queues: readonly Queue[]): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const counts of await Promise.all(queues.map((q) => q.getJobCounts(...COUNTED)))) {
    for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
  }
  return sum;
}

/** Creates the day partitions of workflow_logs around today, ahead of their events. */
async function ensurePartitionsNow(sql: Sql, log: Logger): Promise<void> {
  try {
    await ensurePartitions(sql);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not create log partitions; rows wait in the default partition');
  }
}

/**
 * The maintenance job (partitions ahead, retention) on a BullMQ job scheduler:
 * upserting the same scheduler id from every worker keeps one schedule, and
 * each run is one job that one worker takes.
 */
async function startMaintenance(config: WorkerConfig, sql: Sql, connection: Worker['opts']['connection'], log: Logger) {
  const queue = new Queue(MAINTENANCE.queue, { connection, prefix: config.QUEUE_PREFIX });
  queue.on('error', (err) => log.warn({ err: err.message }, 'maintenance queue error'));
  await queue.upsertJobScheduler(
    MAINTENANCE.scheduler,
    { every: config.MAINTENANCE_INTERVAL_MS },
    {
      name: MAINTENANCE.job,
      opts: { removeOnComplete: { count: 50 }, removeOnFail: { count: 50 } },
    },
  );
  const worker = new Worker(
    MAINTENANCE.queue,
    maintenance(sql, log, {
      deleteBatch: config.RETENTION_DELETE_BATCH,
      securityRecordsDays: config.SECURITY_RECORDS_RETENTION_DAYS,
      usageDays: config.USAGE_RETENTION_DAYS,
    }),
    {
      connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: 1,
    },
  );
  worker.on('error', (err) => log.error({ err: err.message }, 'maintenance worker error'));
  worker.on('failed', (_job, err) => log.error({ err: err.message }, 'maintenance failed; the next run retries'));
  return {
    worker,
    queue,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
