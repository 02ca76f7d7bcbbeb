import type { Context } from 'koa';
import { z } from 'zod';
import { getDeadLetter, isUniqueViolation, listDeadLetters, replayDeadLetter, type DeadLetter } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { retryFailedJobs, type FailedJob } from '@central-logger/queue';
import { parseWith, readJson } from '../middleware/json-body.js';
import { recordAudit } from '../store/audit.js';
import { LAG_WINDOW_MINUTES, systemStatus, withLogsQueues } from '../store/system.js';
import type { RouteDeps } from './deps.js';

export const failedJobJson = (j: FailedJob) => ({
  id: j.id,
  lane: j.lane,
  shard: j.shard,
  failed_at: j.failedAt ?? null,
  attempts: j.attempts,
  events: j.events,
  clients: j.clients,
  reason: j.reason,
});
export const deadLetterJson = (d: DeadLetter) => ({
  id: d.id,
  client_id: d.clientId,
  event_id: d.eventId,
  received_at: d.receivedAt,
  failed_at: d.failedAt,
  error_code: d.errorCode,
  error_message: d.errorMessage,
});

/**
 * `GET /admin/api/system`: queue backlog and jobs per second, failed jobs and
 * dead letters (the newest 20 of each, and how many), worker lag from
 * received to stored (p50/p99), Redis memory against maxmemory, workflow_logs
 * by partition, and the last and next run of each scheduled job. A part that
 * cannot be read (Redis away, say) is null with an `errors` entry; the rest still answers.
 */
export function systemRoute(deps: RouteDeps) {
  return async function system(ctx: Context): Promise<void> {
    parseWith(z.strictObject({}), ctx.query);
    ctx.body = systemJson(await systemStatus(deps.sql, deps.redis, deps.config.QUEUE_PREFIX, deps.config.QUEUE_SHARDS));
  };
}

export function systemJson(s: Awaited<ReturnType<typeof systemStatus>>) {
  const errors = Object.entries(s)
    .filter(([, p]) => p.error)
    .map(([part, p]) => ({ part, message: p.error }));
  const m = s.memory.value;
  return {
    queues:
      s.queues.value?.map((q) => ({
        name: q.name,
        waiting: q.waiting,
        active: q.active,
        delayed: q.delayed,
        failed: q.failed,
        jobs_per_second: q.jobsPerSecond,
      })) ?? null,
    failed_jobs: s.failed.value ? { count: s.failed.value.count, newest: s.failed.value.jobs.map(failedJobJson) } : null,
    dead_letters: s.deadCount.value === null ? null : { count: s.deadCount.value, newest: (s.deadNewest.value ?? []).map(deadLetterJson) },
    worker_lag: s.lag.value
      ? {
          window_minutes: LAG_WINDOW_MINUTES,
          events: s.lag.value.events,
          sampled: s.lag.value.sampled,
          p50_ms: s.lag.value.p50Ms,
          p99_ms: s.lag.value.p99Ms,
          max_ms: s.lag.value.maxMs,
        }
      : null,
    redis_memory: m ? { used_bytes: m.usedBytes, max_bytes: m.maxBytes, ratio: m.maxBytes ? m.usedBytes / m.maxBytes : null, policy: m.policy } : null,
    partitions: s.partitions.value?.map((p) => ({ name: p.name, rows_estimate: p.rows, bytes: p.bytes })) ?? null,
    schedules:
      s.schedules.value?.map((r) => ({
        name: r.name,
        every_ms: r.everyMs,
        next_at: r.nextAt,
        last: r.last && { finished_at: r.last.finishedAt, ok: r.last.ok, result: r.last.result, error: r.last.error },
      })) ?? null,
    errors,
  };
}

/** `POST /admin/api/jobs/retry`: every failed job of the logs queues back in its queue (as `central-logger jobs retry`), audited. */
export function retryJobsRoute(deps: RouteDeps) {
  return async function retry(ctx: Context): Promise<void> {
    await readJson(ctx, z.strictObject({}));
    const retried = await withLogsQueues(deps.redis, deps.config.QUEUE_PREFIX, (qs) => retryFailedJobs(qs), deps.config.QUEUE_SHARDS);
    if (retried > 0)
      await recordAudit(deps.sql, { actor: ctx.state.admin.name, action: 'jobs.retry', target: 'queue:logs', details: { jobs: retried }, ip: ctx.ip });
    ctx.body = { retried };
  };
}

const listQuery = z.strictObject({ client: z.string().min(1).max(63).optional(), limit: z.coerce.number().int().min(1).max(1000).default(50) });
const idParam = z.strictObject({
  id: z
    .string()
    .regex(/^[1-9]\d{0,17}$/, 'a dead letter id is a positive whole number')
    .transform(Number),
});

/** `GET /admin/api/dead-letters?client&limit`: newest first, without the payloads. */
export function listDeadLettersRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    const q = parseWith(listQuery, ctx.query);
    ctx.body = { data: (await listDeadLetters(deps.sql, { limit: q.limit, ...(q.client ? { clientId: q.client } : {}) })).map(deadLetterJson) };
  };
}

/** `GET /admin/api/dead-letters/:id`: one dead letter with the event as it was accepted. */
export function getDeadLetterRoute(deps: RouteDeps) {
  return async function inspect(ctx: Context): Promise<void> {
    const { id } = parseWith(idParam, { ...ctx.params });
    const d = await getDeadLetter(deps.sql, id);
    if (!d) throw new AppError('not_found', `No dead letter ${id}`);
    ctx.body = { ...deadLetterJson(d), event: JSON.parse(d.payload) };
  };
}

/**
 * `POST /admin/api/dead-letters/:id/replay`: stores the event again (once the
 * cause is fixed) and removes the dead letter, with its audit row, in one
 * transaction; 409 while Postgres still refuses it.
 */
export function replayDeadLetterRoute(deps: RouteDeps) {
  return async function replay(ctx: Context): Promise<void> {
    const { id } = parseWith(idParam, { ...ctx.params });
    await readJson(ctx, z.strictObject({}));
    let stored: Awaited<ReturnType<typeof replayDeadLetter>>;
    try {
      stored = await replayDeadLetter(deps.sql, id, (tx, r) =>
        recordAudit(tx, {
          actor: ctx.state.admin.name,
          action: 'dead_letter.replay',
          target: `dead_letter:${id}`,
          details: { client_id: r.clientId, event_id: r.eventId },
          ip: ctx.ip,
        }),
      );
    } catch (err) {
      const code = (err as { code?: string }).code;
      // a Postgres refusal of the row (class 22: data, 23: constraint) is the dead letter's own problem, not the server's
      if (typeof code === 'string' && /^2[23]/.test(code) && !isUniqueViolation(err))
        throw new AppError('conflict', `Postgres still refuses dead letter ${id}: ${(err as Error).message}`);
      throw err;
    }
    if (!stored) throw new AppError('not_found', `No dead letter ${id}`);
    ctx.body = { replayed: id, client_id: stored.clientId, event_id: stored.eventId };
  };
}
