import type { Server } from 'node:http';
import { Queue, Worker } from 'bullmq';
import type { WorkerConfig } from '@central-logger/config';
import { createSql, type Sql } from '@central-logger/db';
import { closeServer, createLogger, type Logger } from '@central-logger/http';
import { QUEUES, workerConnection } from '@central-logger/queue';
import { LogBatcher } from './batcher.js';
import { persistLogs } from './jobs/persist-logs.js';
import { createWorkerMetrics, serveMetrics } from './metrics.js';

export interface WorkerService {
  worker: Worker;
  log: Logger;
  /** The /metrics and /health server on WORKER_METRICS_PORT. */
  metricsServer: Server;
  /** Ordered shutdown: stop taking jobs, finish the current batch, end the pool. */
  close(): Promise<void>;
}

const HOUR = 3_600_000;

export async function startWorker(config: WorkerConfig, options: { queueName?: string } = {}): Promise<WorkerService> {
  const log = createLogger('worker', config.LOG_LEVEL);
  const sql = createSql(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'worker' });
  const connection = workerConnection(config.REDIS_URL);
  const queue = new Queue(options.queueName ?? QUEUES.logs, { connection, prefix: config.QUEUE_PREFIX });
  const metrics = createWorkerMetrics(() => queue.getJobCounts('waiting', 'active', 'delayed', 'failed'));
  const batcher = new LogBatcher(sql, { maxRows: config.BATCH_MAX_EVENTS, flushMs: config.BATCH_FLUSH_MS, maxInFlight: config.BATCH_CONCURRENCY }, (rows, ms) => {
    metrics.batchRows.observe(rows);
    metrics.insertSeconds.observe(ms / 1000);
  });
  connection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'));

  const worker = new Worker(options.queueName ?? QUEUES.logs, persistLogs(batcher, (g) => metrics.lagSeconds.observe((Date.now() - Date.parse(g.received_at)) / 1000)), {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.LOCK_DURATION_MS,
    stalledInterval: config.STALLED_INTERVAL_MS,
    // a job that stalls (its worker died) goes back to waiting this many times before it is failed
    maxStalledCount: 10,
  });
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) => {
    const final = job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError');
    log[final ? 'error' : 'warn']({ job_id: job?.id, client_id: job?.data?.client_id, attempts: job?.attemptsMade, err: err.message }, final ? 'job failed for good' : 'job failed; will retry');
  });

  await ensurePartitions(sql, log);
  const maintenance = setInterval(() => void ensurePartitions(sql, log), HOUR);
  maintenance.unref();
  const metricsServer = await serveMetrics(metrics.registry, config.WORKER_METRICS_HOST, config.WORKER_METRICS_PORT);
  log.info({ queue: worker.name, concurrency: config.WORKER_CONCURRENCY, metrics: metricsServer.address() }, 'worker started');

  return {
    worker,
    log,
    metricsServer,
    async close() {
      clearInterval(maintenance);
      await closeServer(metricsServer, 1_000);
      await worker.close();
      await batcher.flush();
      await queue.close();
      connection.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}

/** Creates the day partitions of workflow_logs around today, ahead of their events. */
async function ensurePartitions(sql: Sql, log: Logger): Promise<void> {
  try {
    await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not create log partitions; rows wait in the default partition');
  }
}
