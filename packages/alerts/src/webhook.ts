import type { Alert } from './store.js';
import { alertJson } from './store.js';

/** The BullMQ names of the usage roll-up, the alert evaluation and the webhook deliveries. */
export const INSIGHTS = {
  /** One queue, two schedulers: the roll-up and the evaluation each run as one job on one worker. */
  queue: 'insights',
  rollupJob: 'usage-rollup',
  rollupScheduler: 'usage-rollup',
  alertsJob: 'alerts-evaluate',
  alertsScheduler: 'alerts-evaluate',
  /** Deliveries have their own queue, so a slow webhook holds up nothing else. */
  webhookQueue: 'alert-webhooks',
  webhookJob: 'alert-webhook',
} as const;

/** The JSON body POSTed to ALERT_WEBHOOK_URL. */
export function webhookPayload(a: Alert) {
  return { type: 'alert.raised', alert: alertJson(a) };
}

export class WebhookError extends Error {
  override name = 'WebhookError';
}

/** POSTs one payload; anything but a 2xx within `timeoutMs` throws (and the job retries with backoff). */
export async function postWebhook(url: string, payload: unknown, timeoutMs: number): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'central-logger-alerts' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new WebhookError(`webhook unreachable: ${(err as Error).message}`);
  }
  await res.body?.cancel();
  if (res.status < 200 || res.status >= 300) throw new WebhookError(`webhook answered ${res.status}`);
  return res.status;
}
