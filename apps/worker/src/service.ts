import { Worker } from 'bullmq';
import type { WorkerConfig } from '@central-logger/config';
import { createSql, type Sql } from '@central-logger/db';
import { createLogger, type Logger } from '@central-logger/http';
import { QUEUES, workerConnection } from '@central-logger/queue';
import { LogBatcher } from './batcher.js';
import { persistLogs } from './jobs/persist-logs.js';

export interface WorkerService {
  worker: Worker;
  log: Logger;
  /** Ordered shutdown: stop taking jobs, finish the current batch, end the pool. */
  close(): Promise<void>;
}

const HOUR = 3_600_000;

export async function startWorker(config: WorkerConfig, options: { queueName?: string } = {}): Promise<WorkerService> {
  const log = createLogger('worker', config.LOG_LEVEL);
  const sql = createSql(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'worker' });
  const batcher = new LogBatcher(sql, { maxRows: config.BATCH_MAX_EVENTS, flushMs: config.BATCH_FLUSH_MS });
  const connection = workerConnection(config.REDIS_URL);
  connection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));

  const worker = new Worker(options.queueName ?? QUEUES.logs, persistLogs(batcher), {
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
  log.info({ queue: worker.name, concurrency: config.WORKER_CONCURRENCY }, 'worker started');

  return {
    worker,
    log,
    async close() {
      clearInterval(maintenance);
      await worker.close();
      await batcher.flush();
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
