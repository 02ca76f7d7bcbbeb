import { Queue, Worker, type Job } from 'bullmq';
import type { RedisClient as Redis } from '@central-logger/redis';
import type { WorkerConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import type { Logger } from '@central-logger/http';
import { INSIGHTS } from '@central-logger/alerts';
import { openLogsQueues } from '@central-logger/queue';
import { alertEvaluation } from './jobs/alerts.js';
import { usageRollup } from './jobs/usage-rollup.js';
import { alertWebhook } from './jobs/webhook.js';

export interface Insights {
  /** Runs the roll-up now (tests, and the CLI's future use), as the scheduled job does. */
  rollUp: ReturnType<typeof usageRollup>;
  /** Runs the alert rules now, as the scheduled job does (new alerts go to the webhook queue). */
  evaluate: ReturnType<typeof alertEvaluation>;
  close(): Promise<void>;
}

/**
 * Usage roll-up and alert evaluation on BullMQ job schedulers (the
 * maintenance pattern: every worker upserts the same scheduler ids, so there
 * is one schedule and each run is one job that one worker takes), plus the
 * webhook deliveries on their own queue when ALERT_WEBHOOK_URL is set.
 */
export async function startInsights(config: WorkerConfig, sql: Sql, connection: Redis, log: Logger): Promise<Insights> {
  const opts = { connection, prefix: config.QUEUE_PREFIX };
  const webhookQueue = config.ALERT_WEBHOOK_URL ? new Queue(INSIGHTS.webhookQueue, opts) : undefined;
  const rollUp = usageRollup(sql, connection, log, {
    prefix: config.QUEUE_PREFIX,
    lookbackHours: config.USAGE_ROLLUP_LOOKBACK_HOURS,
    novelAfterDays: config.ALERT_NEW_ADDRESS_DAYS,
  });
  const logsQueues = openLogsQueues(connection, config.QUEUE_PREFIX, undefined, config.QUEUE_SHARDS);
  const evaluate = alertEvaluation(sql, config, log, webhookQueue, logsQueues);

  const queue = new Queue(INSIGHTS.queue, opts);
  queue.on('error', (err) => log.warn({ err: err.message }, 'insights queue error'));
  const keep = { removeOnComplete: { count: 50 }, removeOnFail: { count: 50 } };
  await queue.upsertJobScheduler(INSIGHTS.rollupScheduler, { every: config.USAGE_ROLLUP_INTERVAL_MS }, { name: INSIGHTS.rollupJob, opts: keep });
  await queue.upsertJobScheduler(INSIGHTS.alertsScheduler, { every: config.ALERT_EVAL_INTERVAL_MS }, { name: INSIGHTS.alertsJob, opts: keep });
  const worker = new Worker(INSIGHTS.queue, (job: Job) => (job.name === INSIGHTS.rollupJob ? rollUp() : evaluate()), { ...opts, concurrency: 1 });
  worker.on('error', (err) => log.error({ err: err.message }, 'insights worker error'));
  worker.on('failed', (job, err) => log.error({ job: job?.name, err: err.message }, 'insights job failed; the next run retries'));

  const webhookWorker =
    webhookQueue &&
    new Worker(INSIGHTS.webhookQueue, alertWebhook(sql, config.ALERT_WEBHOOK_URL!, config.ALERT_WEBHOOK_TIMEOUT_MS), { ...opts, concurrency: 4 });
  webhookWorker?.on('error', (err) => log.error({ err: err.message }, 'webhook worker error'));
  webhookWorker?.on('failed', (job, err) => log.warn({ alert_id: job?.data?.alert_id, attempts: job?.attemptsMade, err: err.message }, 'alert webhook failed'));

  return {
    rollUp,
    evaluate,
    async close() {
      await worker.close();
      await webhookWorker?.close();
      await queue.close();
      await webhookQueue?.close();
      await Promise.all(logsQueues.map((q) => q.close()));
    },
  };
}
