import type { Command } from 'commander';
import { CLIENT_ID_PATTERN, createClient, isUniqueViolation, listClients } from '@central-logger/db';
import { deactivateClientEverywhere } from '@central-logger/keys';
import { CliError } from '../errors.js';
import type { CliContext } from '../context.js';
import { table, when } from '../table.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export function registerClient(program: Command, run: Run): void {
  const client = program.command('client').description('manage clients (tenants)');

  client
    .command('create <id>')
    .description('create a client; <id> is the client_id its logs are stored under')
    .option('--name <name>', 'display name (defaults to the id)')
    .action((id: string, opts: { name?: string }) =>
      run(async (ctx) => {
        if (!CLIENT_ID_PATTERN.test(id)) throw new CliError(`Invalid client id "${id}": use 1-63 letters, digits, '_', '-' or '.', starting with a letter or digit`);
        try {
          const c = await createClient(ctx.sql, id, opts.name ?? id);
          ctx.out(`✓ Client created: ${c.id} (${c.name})`);
        } catch (err) {
          if (isUniqueViolation(err)) throw new CliError(`Client "${id}" already exists`);
          throw err;
        }
      }),
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
        ctx.out(table(['ID', 'NAME', 'STATUS', 'CREATED', 'LAST HEARTBEAT'], clients.map((c) => [c.id, c.name, c.isActive ? 'active' : 'inactive', when(c.createdAt), when(c.lastHeartbeatAt)])));
      }),
    );

  client
    .command('deactivate <id>')
    .description("deactivate a client; its keys stop working on every process within a second")
    .action((id: string) =>
      run(async (ctx) => {
        const { result, announced } = await deactivateClientEverywhere(ctx.sql, ctx.redis(), id);
        if (!result) throw new CliError(`No client "${id}"`);
        ctx.out(`✓ Client ${id} deactivated`);
        if (!announced) ctx.out('⚠️  Redis was unreachable: running processes notice within the key cache TTL instead of at once');
      }),
    );
}
