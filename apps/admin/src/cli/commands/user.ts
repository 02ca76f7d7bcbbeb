import type { Command } from 'commander';
import { isAppError } from '@central-logger/errors';
import { listTenantUsers, provisionUser, retireUser, USER_ROLES } from '@central-logger/tenant-auth';
import { CliError } from '../errors.js';
import type { Run } from '../context.js';
import { table, when } from '../table.js';
import { promptTwice, readStdinLine } from './admin-user.js';

/** `central-logger user …`: the people of a tenant, who sign in to the ingest API (tokens, console sessions). */
export function registerUser(program: Command, run: Run): void {
  const user = program.command('user').description("manage tenants' users (they sign in with POST /api/v1/auth/login)");

  user
    .command('create <username>')
    .description('create a user of a client; the password is read from a prompt, or from stdin when it is not a terminal')
    .requiredOption('--client <id>', 'the client (tenant) the user belongs to')
    .requiredOption('--role <role>', `${USER_ROLES.join(' or ')}`)
    .action((username: string, opts: { client: string; role: string }) =>
      run(
        async (ctx) => {
          const password = process.stdin.isTTY ? await promptTwice() : await readStdinLine();
          const u = await oneLine(
            provisionUser(
              ctx.sql,
              { clientId: opts.client, username, role: opts.role, password },
              { actor: ctx.actor, ip: null, bcryptCost: ctx.config.BCRYPT_COST },
            ),
          );
          ctx.out(`✓ User created: ${u.username} (${u.role} of ${u.clientId}, id ${u.id})`);
          ctx.out('They sign in with POST /api/v1/auth/login {"username", "password"}.');
        },
        { writes: true },
      ),
    );

  user
    .command('list')
    .description('list users')
    .option('--client <id>', "only this client's")
    .option('--json', 'print JSON')
    .action((opts: { client?: string; json?: boolean }) =>
      run(async (ctx) => {
        const users = await listTenantUsers(ctx.sql, opts.client);
        if (opts.json) return ctx.out(JSON.stringify(users, null, 2));
        if (users.length === 0) return ctx.out('No users yet. Create one with: central-logger user create <name> --client <id> --role owner|reader');
        ctx.out(
          table(
            ['ID', 'USERNAME', 'CLIENT', 'ROLE', 'STATUS', 'CREATED', 'LAST LOGIN'],
            users.map((u) => [u.id, u.username, u.clientId, u.role, u.isActive ? 'active' : 'inactive', when(u.createdAt), when(u.lastLoginAt)]),
          ),
        );
      }),
    );

  user
    .command('deactivate <id-or-username>')
    .description('deactivate a user; their access tokens stop working on every process within a second')
    .action((idOrUsername: string) =>
      run(
        async (ctx) => {
          const { user: u, announced } = await oneLine(retireUser(ctx.sql, ctx.redis(), idOrUsername, { actor: ctx.actor, ip: null }));
          ctx.out(`✓ User ${u.username} deactivated`);
          if (!announced) ctx.out('⚠️  Redis was unreachable: running processes notice within the key cache TTL instead of at once');
        },
        { writes: true },
      ),
    );
}

// the shared checks answer AppErrors; the CLI prints them as one line
async function oneLine<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isAppError(err)) throw new CliError(err.message);
    throw err;
  }
}
