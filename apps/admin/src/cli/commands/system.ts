import type { Command } from 'commander';
import { systemJson } from '../../routes/system.js';
import { systemStatus } from '../../store/system.js';
import type { CliContext } from '../context.js';
import { table, when } from '../table.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

/** `central-logger system`: what the dashboard's System page shows, from the same reads. */
export function registerSystem(program: Command, run: Run): void {
  program
    .command('system')
    .description('queues and jobs/s, failed jobs, dead letters, worker lag, Redis memory, log partitions, scheduled runs')
    .option('--json', "print the admin API's JSON")
    .action((opts: { json?: boolean }) =>
      run(async (ctx) => {
        const s = systemJson(await systemStatus(ctx.sql, ctx.redis(), ctx.config.QUEUE_PREFIX, ctx.config.QUEUE_SHARDS));
        if (opts.json) return ctx.out(JSON.stringify(s, null, 2));
        if (s.queues)
          ctx.out(
            table(
              ['QUEUE', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'JOBS/S (5 MIN)'],
              s.queues.map((q) => [
                q.name,
                String(q.waiting),
                String(q.active),
                String(q.delayed),
                String(q.failed),
                q.jobs_per_second === null ? 'not recorded' : q.jobs_per_second.toFixed(2),
              ]),
            ),
          );
        const lag = s.worker_lag;
        if (lag)
          ctx.out(
            `\nWorker lag, received to stored, last ${lag.window_minutes} min: ${lag.events ? `p50 ${lag.p50_ms} ms, p99 ${lag.p99_ms} ms over ${lag.events} event(s)${lag.sampled ? ' (a sample)' : ''}` : 'no events stored'}`,
          );
        const m = s.redis_memory;
        if (m)
          ctx.out(
            `Redis memory: ${mb(m.used_bytes)} of ${m.max_bytes ? mb(m.max_bytes) : 'no maxmemory'}${m.ratio === null ? '' : ` (${(m.ratio * 100).toFixed(1)}%)`}, policy ${m.policy}`,
          );
        if (s.failed_jobs) ctx.out(`Failed jobs: ${s.failed_jobs.count}${s.failed_jobs.count ? ' (central-logger jobs failed / jobs retry)' : ''}`);
        if (s.dead_letters)
          ctx.out(`Dead letters: ${s.dead_letters.count}${s.dead_letters.count ? ' (central-logger dead-letters list / show / replay)' : ''}`);
        if (s.schedules) {
          ctx.out();
          ctx.out(
            table(
              ['SCHEDULED', 'EVERY', 'LAST RUN', 'NEXT RUN'],
              s.schedules.map((r) => [
                r.name,
                r.every_ms ? `${Math.round(r.every_ms / 1000)} s` : '-',
                r.last ? `${when(r.last.finished_at)} ${r.last.ok ? 'ok' : `failed: ${r.last.error}`}` : 'never',
                when(r.next_at),
              ]),
            ),
          );
        }
        if (s.partitions) {
          ctx.out();
          ctx.out(
            table(
              ['PARTITION', 'ROWS (ESTIMATE)', 'SIZE'],
              s.partitions.map((p) => [p.name, p.rows_estimate === null ? '-' : String(p.rows_estimate), mb(p.bytes)]),
            ),
          );
        }
        for (const e of s.errors) ctx.out(`⚠️  ${e.part}: ${e.message}`);
      }),
    );
}
