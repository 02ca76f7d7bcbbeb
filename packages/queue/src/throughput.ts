import type { Queue } from 'bullmq';

/** Minutes of per-minute completion counts the logs workers keep in Redis (BullMQ metrics): a week. */
export const METRICS_MAX_DATA_POINTS = 10_080;

/**
 * Jobs of `queue` completed per second over the last `minutes` whole minutes
 * and the current one, from the per-minute counts its workers record (BullMQ
 * metrics; undefined when no worker records them). BullMQ writes a minute's
 * count when the first job of a later minute completes, so the newest
 * minute's jobs are read from the running counter instead.
 */
export async function completedPerSecond(queue: Queue, now = Date.now(), minutes = 5): Promise<number | undefined> {
  const m = await queue.getMetrics('completed', 0, minutes);
  if (!m.meta.prevTS) return undefined;
  const nowMinute = Math.floor(now / 60_000);
  const lastMinute = Math.floor(Number(m.meta.prevTS) / 60_000);
  let jobs = nowMinute - lastMinute < minutes ? Number(m.meta.count) - Number(m.meta.prevCount) : 0;
  // data[i] counts the minute i + 1 before the newest one
  m.data.forEach((n, i) => {
    if (lastMinute - 1 - i > nowMinute - minutes) jobs += Number(n);
  });
  return jobs / (minutes * 60);
}
