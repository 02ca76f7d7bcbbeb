import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import type { Sql } from '@central-logger/db';
import { getAlert, postWebhook, webhookPayload } from '@central-logger/alerts';

/** One webhook delivery: the alert as stored now; a failure throws and BullMQ retries with exponential backoff. */
export function alertWebhook(sql: Sql, url: string, timeoutMs: number) {
  return async function deliver(job: Job<{ alert_id: string }>): Promise<{ status: number }> {
    const id = job.data?.alert_id;
    if (typeof id !== 'string') throw new UnrecoverableError('webhook job without an alert id');
    const alert = await getAlert(sql, id);
    if (!alert) throw new UnrecoverableError(`no alert ${id}`);
    return { status: await postWebhook(url, webhookPayload(alert), timeoutMs) };
  };
}
