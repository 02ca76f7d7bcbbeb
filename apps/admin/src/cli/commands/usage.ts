import type { Command } from 'commander';
import { getClient } from '@central-logger/db';
import { getKey } from '@central-logger/keys';
import { authFailuresBySource, HOUR_MS, queryUsage } from '@central-logger/usage';
import { CliError } from '../errors.js';
import type { Run } from '../context.js';
import { table, when } from '../table.js';

interface UsageOptions {
  client?: string;
  key?: string;
  granularity: string;
  since: string;
  by: string;
}

/**
 * `central-logger usage [--client <id>] [--key <id|prefix>] [--by client|key] [--granularity hour|day] [--since 24h]`:
 * the admin API's usage (`GET usage`), as a table; `--by key` splits each bucket by key, as the client page does.
 */
export function registerUsage(program: Command, run: Run): void {
  program
    .command('usage')
    .description('requests, events, bytes, auth failures, 429s and rejected events, per hour or day (rolled up by the worker every minute)')
    .option('--client <id>', 'one client')
    .option('--key <id|prefix>', 'one key')
    .option('--by <what>', 'client, or key: a row per key and bucket', 'client')
    .option('--granularity <unit>', 'hour or day', 'hour')
    .option('--since <duration>', 'how far back, e.g. 24h, 7d', '24h')
    .action((opts: UsageOptions) =>
      run(async (ctx) => {
        if (opts.granularity !== 'hour' && opts.granularity !== 'day') throw new CliError(`--granularity must be hour or day, not "${opts.granularity}"`);
        if (opts.by !== 'client' && opts.by !== 'key') throw new CliError(`--by must be client or key, not "${opts.by}"`);
        const m = /^(\d{1,4})([hd])$/.exec(opts.since);
        if (!m) throw new CliError(`--since must be a number of hours or days, e.g. 24h or 7d, not "${opts.since}"`);
        const back = Number(m[1]) * (m[2] === 'h' ? HOUR_MS : 24 * HOUR_MS);
        if (opts.client !== undefined && !(await getClient(ctx.sql, opts.client))) throw new CliError(`No client "${opts.client}"`);
        const key = opts.key === undefined ? undefined : await getKey(ctx.sql, undefined, opts.key);
        if (opts.key !== undefined && !key) throw new CliError(`No API key with id or prefix "${opts.key}"`);
        const rows = await queryUsage(ctx.sql, {
          from: new Date(Date.now() - back),
          to: new Date(Date.now() + HOUR_MS),
          granularity: opts.granularity,
          by: opts.by,
          ...(opts.client ? { clientId: opts.client } : {}),
          ...(key ? { keyId: key.id } : {}),
        });
        if (rows.length === 0) return ctx.out('No usage recorded in that time');
        const perKey = key !== undefined || opts.by === 'key';
        ctx.out(
          table(
            ['BUCKET', 'CLIENT', ...(perKey ? ['KEY'] : []), 'REQUESTS', 'EVENTS', 'BYTES', 'AUTH FAILURES', '429s', 'REJECTED'],
            rows.map((r) => [
              r.bucket
                .toISOString()
                .slice(0, opts.granularity === 'hour' ? 13 : 10)
                .replace('T', ' '),
              r.clientId ?? '-',
              ...(perKey ? [r.keyId ?? '-'] : []),
              String(r.requests),
              String(r.eventsAccepted),
              String(r.bytes),
              String(r.authFailures),
              String(r.rateLimited),
              Object.entries(r.rejected)
                .map(([k, n]) => `${k}=${n}`)
                .join(' ') || '-',
            ]),
          ),
        );
      }),
    );
}

/** `central-logger auth-failures [--since 24h] [--limit 20]`: the usage page's failed authentications by address and by key prefix. */
export function registerAuthFailures(program: Command, run: Run): void {
  program
    .command('auth-failures')
    .description('failed authentications by address (admin sign-ins included) and by key prefix, most first')
    .option('--since <duration>', 'how far back, e.g. 24h, 7d', '24h')
    .option('--limit <n>', 'most rows of each', '20')
    .action((opts: { since: string; limit: string }) =>
      run(async (ctx) => {
        const m = /^(\d{1,4})([hd])$/.exec(opts.since);
        if (!m) throw new CliError(`--since must be a number of hours or days, e.g. 24h or 7d, not "${opts.since}"`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new CliError(`--limit must be an integer from 1 to 100, not "${opts.limit}"`);
        const to = new Date();
        const r = await authFailuresBySource(ctx.sql, { from: new Date(to.getTime() - Number(m[1]) * (m[2] === 'h' ? HOUR_MS : 24 * HOUR_MS)), to, limit });
        if (r.byAddress.length === 0) return ctx.out('No failed authentications in that time');
        ctx.out(
          table(
            ['ADDRESS', 'FAILURES', 'LAST', 'REASONS'],
            r.byAddress.map((a) => [a.address, String(a.failures), when(a.lastAt), a.reasons.join(',')]),
          ),
        );
        ctx.out();
        ctx.out(
          r.byKeyPrefix.length
            ? table(
                ['KEY PREFIX', 'CLIENT', 'FAILURES', 'LAST', 'REASONS'],
                r.byKeyPrefix.map((k) => [k.keyPrefix, k.clientId ?? '(no such key)', String(k.failures), when(k.lastAt), k.reasons.join(',')]),
              )
            : 'No failure named a key prefix',
        );
      }),
    );
}
