import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '@central-logger/redis';
import { INSIGHTS } from '@central-logger/alerts';
import { countDeadLetters, listDeadLetters, type Sql } from '@central-logger/db';
import {
  completedPerSecond,
  laneQueueName,
  listFailedJobs,
  MAINTENANCE,
  openLogsQueues,
  QUEUE_LANES,
  shardPrefixes,
  type QueueLane,
} from '@central-logger/queue';

/** Lag is measured over events stored in this last stretch of time… */
export const LAG_WINDOW_MINUTES = 15;
/** …at most this many of them (a sample on a busy day)… */
export const LAG_SAMPLE = 10_000;
/** …that ran at most this long before (so only the newest partitions are read; older back-filled events are left out). */
export const LAG_EXECUTED_WITHIN_DAYS = 2;

export interface QueueFigures {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  /** Completed per second over the last 5 minutes; null when no worker records it. */
  jobsPerSecond: number | null;
}

/** Waiting, active, delayed and failed jobs of the logs queues (both lanes, summed over `shards` queue shards), with their throughput. */
export async function queueFigures(redis: Redis, prefix: string, shards = 1): Promise<QueueFigures[]> {
  return Promise.all(QUEUE_LANES.map((lane) => Promise.all(shardPrefixes(prefix, shards).map((p) => shardFigures(redis, p, lane))).then(sumFigures)));
}

async function shardFigures(redis: Redis, prefix: string, lane: QueueLane): Promise<QueueFigures> {
  const queue = new Queue(laneQueueName(lane), { connection: redis, prefix });
  try {
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
    const rate = await completedPerSecond(queue);
    return {
      name: queue.name,
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      failed: c.failed ?? 0,
      jobsPerSecond: rate ?? null,
    };
  } finally {
    await queue.close();
  }
}

function sumFigures(each: QueueFigures[]): QueueFigures {
  return each.reduce((a, b) => ({
    name: a.name,
    waiting: a.waiting + b.waiting,
    active: a.active + b.active,
    delayed: a.delayed + b.delayed,
    failed: a.failed + b.failed,
    jobsPerSecond: a.jobsPerSecond === null && b.jobsPerSecond === null ? null : (a.jobsPerSecond ?? 0) + (b.jobsPerSecond ?? 0),
  }));
}

export interface Lag {
  /** Events the figures are over; 0 when none was stored in the window. */
  events: number;
  sampled: boolean;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * From received (ingest answered 202) to stored (the row's commit), over the
 * events stored in the last LAG_WINDOW_MINUTES. Reads only the newest
 * partitions, bounded in rows and time.
 */
export async function workerLag(sql: Sql): Promise<Lag> {
  const [r] = await sql.begin(async (tx) => {
    await tx`select set_config('statement_timeout', '3000', true)`;
    return tx`
      select count(*)::int as n,
        percentile_cont(0.5) within group (order by lag) as p50,
        percentile_cont(0.99) within group (order by lag) as p99,
        max(lag) as max
      from (
        select extract(epoch from (stored_at - received_at)) * 1000 as lag from workflow_logs
        where executed_at > now() - make_interval(days => ${LAG_EXECUTED_WITHIN_DAYS})
          and stored_at > now() - make_interval(mins => ${LAG_WINDOW_MINUTES})
        limit ${LAG_SAMPLE + 1}) s`;
  });
  const n = r!.n as number;
  const ms = (v: unknown) => (v === null ? null : Math.max(0, Math.round(Number(v))));
  return { events: Math.min(n, LAG_SAMPLE), sampled: n > LAG_SAMPLE, p50Ms: ms(r!.p50), p99Ms: ms(r!.p99), maxMs: ms(r!.max) };
}

export interface RedisMemory {
  usedBytes: number;
  /** 0 when Redis has no maxmemory. */
  maxBytes: number;
  policy: string;
}

export async function redisMemory(redis: Redis): Promise<RedisMemory> {
  const info = await redis.info('memory');
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  return { usedBytes: Number(field('used_memory')) || 0, maxBytes: Number(field('maxmemory')) || 0, policy: field('maxmemory_policy') || 'unknown' };
}

export interface Partition {
  name: string;
  /** Postgres's estimate (pg_class.reltuples, as of the last ANALYZE); null before the first. */
  rows: number | null;
  bytes: number;
}

/** The partitions of workflow_logs, newest day first, the default partition last. */
export async function logPartitions(sql: Sql): Promise<Partition[]> {
  const rows = await sql`
    select c.relname as name, c.reltuples::bigint as rows, pg_total_relation_size(c.oid)::bigint as bytes
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'workflow_logs'::regclass
    order by c.relname = 'workflow_logs_default', c.relname desc`;
  return rows.map((r) => ({ name: r.name as string, rows: Number(r.rows) < 0 ? null : Number(r.rows), bytes: Number(r.bytes) }));
}

export interface ScheduledRun {
  name: string;
  everyMs: number | null;
  nextAt: Date | null;
  last: { finishedAt: Date; ok: boolean; result: unknown; error: string | null } | null;
}

/** The worker's scheduled jobs (maintenance, usage roll-up, alert rules): their last run and the next. */
export async function scheduledRuns(redis: Redis, prefix: string): Promise<ScheduledRun[]> {
  const plans = [
    { queue: MAINTENANCE.queue, scheduler: MAINTENANCE.scheduler, job: MAINTENANCE.job },
    { queue: INSIGHTS.queue, scheduler: INSIGHTS.rollupScheduler, job: INSIGHTS.rollupJob },
    { queue: INSIGHTS.queue, scheduler: INSIGHTS.alertsScheduler, job: INSIGHTS.alertsJob },
  ];
  return Promise.all(
    plans.map(async (p) => {
      const queue = new Queue(p.queue, { connection: redis, prefix });
      try {
        const scheduler = await queue.getJobScheduler(p.scheduler);
        // the newest finished runs of this job (each queue keeps its last 50 of each)
        const done = (await queue.getJobs(['completed', 'failed'], 0, 99)).filter((j) => j?.name === p.job && j.finishedOn);
        done.sort((a, b) => b.finishedOn! - a.finishedOn!);
        const last = done[0];
        return {
          name: p.job,
          everyMs: scheduler?.every ?? null,
          nextAt: scheduler?.next ? new Date(scheduler.next) : null,
          last: last
            ? { finishedAt: new Date(last.finishedOn!), ok: !last.failedReason, result: last.returnvalue ?? null, error: last.failedReason || null }
            : null,
        };
      } finally {
        await queue.close();
      }
    }),
  );
}

/** Everything the System page shows, read at once; a part whose store cannot be read is null with the reason. */
export async function systemStatus(sql: Sql, redis: Redis, prefix: string, shards = 1) {
  const part = <T>(p: Promise<T>) =>
    p.then(
      (value) => ({ value, error: null as string | null }),
      (err: Error) => ({ value: null, error: err.message }),
    );
  const [queues, failed, lag, memory, partitions, schedules, deadCount, deadNewest] = await Promise.all([
    part(queueFigures(redis, prefix, shards)),
    part(withLogsQueues(redis, prefix, (qs) => listFailedJobs(qs, 20), shards)),
    part(workerLag(sql)),
    part(redisMemory(redis)),
    part(logPartitions(sql)),
    part(scheduledRuns(redis, prefix)),
    part(countDeadLetters(sql)),
    part(listDeadLetters(sql, { limit: 20 })),
  ]);
  return { queues, failed, lag, memory, partitions, schedules, deadCount, deadNewest };
}

/** Both lanes' logs queues (of every one of `shards` queue shards) for the length of `fn`. */
export async function withLogsQueues<T>(redis: Redis, prefix: string, fn: (queues: Queue[]) => Promise<T>, shards = 1): Promise<T> {
  const queues = openLogsQueues(redis, prefix, undefined, shards);
  try {
    return await fn(queues);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}
