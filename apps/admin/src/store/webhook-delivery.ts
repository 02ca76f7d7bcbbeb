import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '@central-logger/redis';
import { INSIGHTS, type Alert } from '@central-logger/alerts';
import { jobStandings, type JobProgress } from '@central-logger/queue';

/**
 * An alert's webhook delivery: `not_queued` (no ALERT_WEBHOOK_URL on the
 * worker, or the outbox has not reached it yet), then the standing of its
 * delivery job (the job id is the alert's): queued, running, retrying,
 * delivered, failed (every attempt failed), or `expired` (queued, but the job
 * was trimmed from Redis since: its outcome is no longer known); `unknown`
 * while Redis cannot be read.
 */
export interface WebhookDelivery {
  state: 'not_queued' | 'queued' | 'running' | 'retrying' | 'delivered' | 'failed' | 'expired' | 'unknown';
  queued_at: Date | null;
  attempts: number | null;
  last_error: string | null;
  finished_at: Date | null;
}

const STATE: Record<JobProgress, WebhookDelivery['state']> = {
  queued: 'queued',
  running: 'running',
  retrying: 'retrying',
  done: 'delivered',
  failed: 'failed',
  missing: 'expired',
};

/** The webhook delivery of each alert, read from the delivery queue in Redis. */
export async function webhookDeliveries(redis: Redis, prefix: string, alerts: readonly Alert[]): Promise<Map<string, WebhookDelivery>> {
  const queued = alerts.filter((a) => a.webhookQueuedAt);
  const out = new Map<string, WebhookDelivery>(
    alerts.map((a) => [
      a.id,
      { state: a.webhookQueuedAt ? 'unknown' : 'not_queued', queued_at: a.webhookQueuedAt, attempts: null, last_error: null, finished_at: null },
    ]),
  );
  if (queued.length === 0) return out;
  const queue = new Queue(INSIGHTS.webhookQueue, { connection: redis, prefix });
  try {
    const standings = await jobStandings(
      queue,
      queued.map((a) => a.id),
    );
    for (const a of queued) {
      const s = standings.get(a.id)!;
      out.set(a.id, {
        state: STATE[s.progress],
        queued_at: a.webhookQueuedAt,
        attempts: s.progress === 'missing' ? null : s.attempts,
        last_error: s.lastError,
        finished_at: s.finishedAt,
      });
    }
  } catch {
    // Redis out of reach: the alerts are still worth listing; their delivery shows as unknown
  } finally {
    await queue.close().catch(() => {});
  }
  return out;
}
