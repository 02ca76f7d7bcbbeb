import type { Queue } from 'bullmq';
import type { WorkerConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import type { Logger } from '@central-logger/http';
import {
  alertsAwaitingWebhook,
  evaluateAlerts,
  failedJobsFinding,
  INSIGHTS,
  markWebhookQueued,
  type Alert,
  type FailedJobsSummary,
  type RuleOptions,
} from '@central-logger/alerts';
import { listFailedJobs } from '@central-logger/queue';

export function ruleOptionsOf(c: WorkerConfig): RuleOptions {
  return {
    authWindowMs: c.ALERT_AUTH_WINDOW_MS,
    addressFailures: c.ALERT_ADDRESS_FAILURES,
    prefixFailures: c.ALERT_PREFIX_FAILURES,
    deadKeyUses: c.ALERT_DEAD_KEY_USES,
    newAddressDays: c.ALERT_NEW_ADDRESS_DAYS,
    spikeFactor: c.ALERT_SPIKE_FACTOR,
    spikeMinRequests: c.ALERT_SPIKE_MIN_REQUESTS,
    spikeBaselineDays: c.ALERT_SPIKE_BASELINE_DAYS,
    dormantDays: c.ALERT_DORMANT_DAYS,
    keyRotationDays: c.ALERT_KEY_ROTATION_DAYS,
  };
}

/** Rule 9's input: the logs queues' failed jobs, both lanes (the newest 100 examined for events and reasons). */
async function failedJobsOf(logs: readonly Queue[]): Promise<FailedJobsSummary> {
  const { count, jobs } = await listFailedJobs(logs, 100);
  return {
    jobs: count,
    events: jobs.reduce((n, j) => n + j.events, 0),
    reasons: [...new Set(jobs.map((j) => j.reason))].slice(0, 5),
    clients: [...new Set(jobs.flatMap((j) => j.clients))].slice(0, 20),
    oldestFailedAt: jobs.at(-1)?.failedAt,
  };
}

/** How far back the outbox looks for alerts whose webhook was never queued. */
const WEBHOOK_OUTBOX_WINDOW_MS = 24 * 3_600_000;

/**
 * The alert evaluation job: runs the rules (rule 9 on the logs queue), logs
 * each new alert, then queues a webhook job for every alert of the last day
 * not queued yet (when ALERT_WEBHOOK_URL is set) and marks it: an outbox, so a
 * crash between an alert's commit and its job only delays the webhook to the
 * next run. The job id is the alert's, so a job queued twice is sent once.
 * The job only enqueues: delivery is another queue's.
 */
export function alertEvaluation(sql: Sql, config: WorkerConfig, log: Logger, webhooks: Queue | undefined, logs: readonly Queue[]) {
  const options = ruleOptionsOf(config);
  const announce = async (alert: Alert): Promise<void> => {
    log.warn({ alert_id: alert.id, rule: alert.rule, subject: alert.subject }, alert.summary);
  };
  const queueWebhooks = async (hooks: Queue, now: number): Promise<void> => {
    for (const alert of await alertsAwaitingWebhook(sql, new Date(now - WEBHOOK_OUTBOX_WINDOW_MS))) {
      await hooks.add(
        INSIGHTS.webhookJob,
        { alert_id: alert.id },
        {
          jobId: alert.id,
          attempts: config.ALERT_WEBHOOK_ATTEMPTS,
          backoff: { type: 'exponential', delay: config.ALERT_WEBHOOK_BACKOFF_MS },
          removeOnComplete: { count: 1000 },
          removeOnFail: { count: 1000 },
        },
      );
      await markWebhookQueued(sql, alert.id);
    }
  };
  return async function runAlertEvaluation(): Promise<{ findings: number; raised: number }> {
    const now = Date.now();
    // Redis out of reach must not keep the Postgres rules from running
    const failed = await failedJobsOf(logs).then(
      (f) => failedJobsFinding(f, now),
      (err: Error) => {
        log.warn({ err: err.message }, 'could not read the failed jobs for rule failed_jobs');
        return [];
      },
    );
    const { findings, raised } = await evaluateAlerts(sql, options, announce, now, failed);
    if (webhooks) await queueWebhooks(webhooks, now);
    return { findings, raised: raised.length };
  };
}
