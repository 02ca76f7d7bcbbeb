import type { Command } from 'commander';
import { getClient } from '@central-logger/db';
import { getLimitOverrides, listQuotaWarnings, setLimitOverrides, type Limits } from '@central-logger/limits';
import { audited, recordAudit } from '../../store/audit.js';
import { asSql } from '../../store/db.js';
import { CliError } from '../errors.js';
import type { CliContext, Run } from '../context.js';
import { table, when } from '../table.js';

const OPTIONS: Array<[flag: string, key: keyof Limits, integer: boolean, what: string]> = [
  ['--requests-per-second <n>', 'requestsPerSecond', false, 'sustained requests per second, per key'],
  ['--request-burst <n>', 'requestBurst', true, 'requests at once above the rate, per key'],
  ['--events-per-second <n>', 'eventsPerSecond', false, 'sustained events per second, per key'],
  ['--event-burst <n>', 'eventBurst', true, 'events at once above the rate, per key'],
  ['--tenant-events-per-second <n>', 'tenantEventsPerSecond', false, 'sustained events per second, per client across all its keys'],
  ['--tenant-event-burst <n>', 'tenantEventBurst', true, 'events at once above the rate, per client across all its keys'],
  ['--events-per-day <n>', 'eventsPerDay', true, 'events per UTC day, per client'],
];

/** `central-logger limits show|set <client>`: a client's ingest limit overrides (ingest picks them up within LIMITS_CACHE_TTL_MS). */
export function registerLimits(program: Command, run: Run): void {
  const limits = program.command('limits').description("a client's ingest limit overrides (others use the RATE_* defaults)");

  limits
    .command('show <client>')
    .description("show a client's overrides and its quota warnings")
    .action((clientId: string) =>
      run(async (ctx) => {
        await requireClient(ctx, clientId);
        const overrides = await getLimitOverrides(ctx.sql, clientId);
        ctx.out(
          table(
            ['LIMIT', 'OVERRIDE'],
            OPTIONS.map(([flag, key]) => [flag.split(' ')[0]!.slice(2), overrides[key] === undefined ? '(default)' : String(overrides[key])]),
          ),
        );
        const warnings = await listQuotaWarnings(ctx.sql, clientId);
        if (warnings.length) {
          ctx.out();
          ctx.out(
            table(
              ['DAY', 'QUOTA REACHED', 'EVENTS', 'QUOTA', 'RECORDED'],
              warnings.map((w) => [w.day, `${w.threshold}%`, String(w.eventsUsed), String(w.eventsPerDay), when(w.recordedAt)]),
            ),
          );
        }
      }),
    );

  const set = limits.command('set <client>').description("override a client's limits; 'default' clears one");
  for (const [flag, , , what] of OPTIONS) set.option(flag, what);
  set.action((clientId: string, opts: Record<string, string | undefined>) =>
    run(
      async (ctx) => {
        await requireClient(ctx, clientId);
        const changes: { [K in keyof Limits]?: number | null } = {};
        for (const [, key, integer] of OPTIONS) {
          const raw = opts[key];
          if (raw !== undefined) changes[key] = parseLimit(raw, key, integer);
        }
        if (Object.keys(changes).length === 0) throw new CliError(`Nothing to set: give at least one of ${OPTIONS.map(([f]) => f.split(' ')[0]).join(', ')}`);
        await ctx.sql.begin(async (tx) => {
          await setLimitOverrides(asSql(tx), clientId, changes);
          await recordAudit(tx, audited.clientUpdated(ctx.actor, clientId, { limits: changes }, null));
        });
        ctx.out(`✓ Limits of ${clientId} updated; ingest applies them within LIMITS_CACHE_TTL_MS (5 s by default)`);
      },
      { writes: true },
    ),
  );
}

async function requireClient(ctx: CliContext, clientId: string): Promise<void> {
  if (!(await getClient(ctx.sql, clientId))) throw new CliError(`No client "${clientId}"`);
}

function parseLimit(raw: string, key: string, integer: boolean): number | null {
  if (raw === 'default') return null;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new CliError(`${key} must be a positive ${integer ? 'integer' : 'number'} or "default", not "${raw}"`);
  }
  return n;
}
