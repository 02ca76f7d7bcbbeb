import type { Command } from 'commander';
import { CLIENT_ID_PATTERN, createClient, isUniqueViolation, listClients, setRetentionDays } from '@central-logger/db';
import { publishInvalidation, setClientActiveEverywhere } from '@central-logger/keys';
import { limitsDefaults } from '@central-logger/limits';
import { clientSummaryJson, getClientSummary } from '../../store/client-summary.js';
import { CliError } from '../errors.js';
import type { Run } from '../context.js';
import { table, when } from '../table.js';
import { audited, recordAudit } from '../../store/audit.js';
import { asSql } from '../../store/db.js';

export function registerClient(program: Command, run: Run): void {
  const client = program.command('client').description('manage clients (tenants)');

  client
    .command('create <id>')
    .description('create a client; <id> is the client_id its logs are stored under')
    .option('--name <name>', 'display name (defaults to the id)')
    .action((id: string, opts: { name?: string }) =>
      run(
        async (ctx) => {
          if (!CLIENT_ID_PATTERN.test(id))
            throw new CliError(`Invalid client id "${id}": use 1-63 letters, digits, '_', '-' or '.', starting with a letter or digit`);
          try {
            const c = await ctx.sql.begin(async (tx) => {
              const created = await createClient(asSql(tx), id, opts.name ?? id);
              await recordAudit(tx, audited.clientCreated(ctx.actor, created, null));
              return created;
            });
            ctx.out(`✓ Client created: ${c.id} (${c.name})`);
          } catch (err) {
            if (isUniqueViolation(err)) throw new CliError(`Client "${id}" already exists`);
            throw err;
          }
        },
        { writes: true },
      ),
    );

  client
    .command('list')
    .description('list clients')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      run(async (ctx) => {
        const clients = await listClients(ctx.sql);
        if (opts.json) return ctx.out(JSON.stringify(clients, null, 2));
        if (clients.length === 0) return ctx.out('No clients yet. Create one with: central-logger client create <id> --name <name>');
        ctx.out(
          table(
            ['ID', 'NAME', 'STATUS', 'CREATED', 'LAST HEARTBEAT'],
            clients.map((c) => [c.id, c.name, c.isActive ? 'active' : 'inactive', when(c.createdAt), when(c.lastHeartbeatAt)]),
          ),
        );
      }),
    );

  for (const [command, active, done, description] of [
    ['deactivate', false, 'deactivated', 'deactivate a client; its keys stop working on every process within a second'],
    ['activate', true, 'activated', 'activate a deactivated client again; its keys that are neither revoked nor expired work again within a second'],
  ] as const) {
    client
      .command(`${command} <id>`)
      .description(description)
      .action((id: string) =>
        run(
          async (ctx) => {
            const { result, announced } = await setClientActiveEverywhere(ctx.sql, ctx.redis(), id, active, (tx) =>
              recordAudit(tx, audited.clientStatus(ctx.actor, id, active, null)),
            );
            if (!result) throw new CliError(`No client "${id}"`);
            ctx.out(`✓ Client ${id} ${done}`);
            if (!announced) ctx.out('⚠️  Redis was unreachable: running processes notice within the key cache TTL instead of at once');
          },
          { writes: true },
        ),
      );
  }

  client
    .command('show <id>')
    .description("a client's retention, limits, quota today, and the error rate and top workflows of its stored events (as the dashboard's client page)")
    .option('--hours <n>', 'the window of stored events, by event time', '24')
    .option('--json', "print the admin API's JSON")
    .action((id: string, opts: { hours: string; json?: boolean }) =>
      run(async (ctx) => {
        const hours = Number(opts.hours);
        if (!Number.isInteger(hours) || hours < 1 || hours > 744) throw new CliError(`--hours must be an integer from 1 to 744, not "${opts.hours}"`);
        const s = await getClientSummary(ctx.sql, ctx.redis(), ctx.config.QUEUE_PREFIX, id, limitsDefaults(ctx.config), hours);
        if (!s) throw new CliError(`No client "${id}"`);
        const json = clientSummaryJson(s);
        if (opts.json) return ctx.out(JSON.stringify({ client_id: id, ...json }, null, 2));
        ctx.out(`Client ${id}: keeps logs ${json.retention_days} days`);
        ctx.out(`Quota ${json.quota.day} (UTC): ${json.quota.events_used ?? 'unknown (Redis unreachable)'} of ${json.quota.events_per_day} events`);
        ctx.out();
        ctx.out(
          table(
            ['LIMIT', 'IN FORCE', 'OVERRIDE'],
            Object.entries(json.limits.effective).map(([k, v]) => [
              k,
              String(v),
              json.limits.overrides[k as keyof typeof json.limits.overrides] === null
                ? '(default)'
                : String(json.limits.overrides[k as keyof typeof json.limits.overrides]),
            ]),
          ),
        );
        const e = json.events;
        ctx.out();
        ctx.out(
          e.examined === 0
            ? `No stored events ran in the last ${hours} h`
            : `Last ${hours} h by event time: ${e.failed} failed of ${e.examined} events${e.sampled ? ' (the newest only)' : ''}, error rate ${(e.error_rate! * 100).toFixed(1)}%`,
        );
        if (e.top_workflows.length)
          ctx.out(
            table(
              ['WORKFLOW', 'EVENTS', 'FAILED'],
              e.top_workflows.map((w) => [w.workflow ?? '(none)', String(w.events), String(w.failed)]),
            ),
          );
      }),
    );

  client
    .command('retention <id> <days>')
    .description("set how many days a client's logs are kept (1-3650, default 30); older events are refused at ingest and deleted by the maintenance job")
    .action((id: string, days: string) =>
      run(
        async (ctx) => {
          if (!/^\d+$/.test(days) || Number(days) < 1 || Number(days) > 3650)
            throw new CliError(`Invalid retention "${days}": use a whole number of days from 1 to 3650`);
          const found = await ctx.sql.begin(async (tx) => {
            if (!(await setRetentionDays(asSql(tx), id, Number(days)))) return false;
            await recordAudit(tx, audited.clientUpdated(ctx.actor, id, { retention_days: Number(days) }, null));
            return true;
          });
          if (!found) throw new CliError(`No client "${id}"`);
          ctx.out(`✓ Client ${id} keeps logs for ${Number(days)} days`);
          // ingest caches the retention with the key: have every process reload it
          const announced = await publishInvalidation(ctx.redis(), { clientId: id }).then(
            () => true,
            () => false,
          );
          if (!announced) ctx.out('⚠️  Redis was unreachable: ingest applies the new window within the key cache TTL instead of at once');
        },
        { writes: true },
      ),
    );
}
