import type { Command } from 'commander';
import { listFailedJobs, openLogsQueues, retryFailedJobs } from '@central-logger/queue';
import { recordAudit } from '../../store/audit.js';
import { CliError } from '../errors.js';
import type { CliContext, Run } from '../context.js';
import { table, when } from '../table.js';

/** Both lanes' logs queues, for the length of one command. */
async function withLogsQueue<T>(ctx: CliContext, fn: (queues: ReturnType<typeof openLogsQueues>) => Promise<T>): Promise<T> {
  const queues = openLogsQueues(ctx.redis(), ctx.config.QUEUE_PREFIX, undefined, ctx.config.QUEUE_SHARDS);
  try {
    return await fn(queues);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

/** `central-logger jobs failed|retry`: queue jobs that used up their attempts (alert rule failed_jobs). */
export function registerJobs(program: Command, run: Run): void {
  const jobs = program.command('jobs').description('queue jobs whose accepted events are not stored because every attempt failed (alert rule failed_jobs)');

  jobs
    .command('failed')
    .description('list failed jobs, newest first')
    .option('--limit <n>', 'most to show', '50')
    .action((opts: { limit: string }) =>
      run(async (ctx) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit must be an integer from 1 to 1000, not "${opts.limit}"`);
        const failed = await withLogsQueue(ctx, (q) => listFailedJobs(q, limit));
        if (failed.count === 0) return ctx.out('No failed jobs.');
        ctx.out(
          table(
            ['JOB', 'FAILED', 'ATTEMPTS', 'EVENTS', 'CLIENTS', 'REASON'],
            failed.jobs.map((j) => [j.id, when(j.failedAt ?? null), String(j.attempts), String(j.events), j.clients.join(','), j.reason.slice(0, 80)]),
          ),
        );
        ctx.out(`\n${failed.count} failed job(s). Once the cause is fixed: central-logger jobs retry`);
      }),
    );

  jobs
    .command('retry')
    .description('put every failed job back in the queue; the worker stores its events once')
    .action(() =>
      run(async (ctx) => {
        const retried = await withLogsQueue(ctx, (q) => retryFailedJobs(q));
        if (retried > 0) await recordAudit(ctx.sql, { actor: ctx.actor, action: 'jobs.retry', target: 'queue:logs', details: { jobs: retried }, ip: null });
        ctx.out(retried === 0 ? 'No failed jobs.' : `✓ ${retried} job(s) back in the queue`);
      }),
    );
}
