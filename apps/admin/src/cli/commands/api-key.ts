import type { Command } from 'commander';
import { getClient } from '@central-logger/db';
import { aKeyOf, createKey, expiryFrom, graceFrom, listKeys, revokeKeyEverywhere, rotateKeyEverywhere, ROLES, type Role } from '@central-logger/keys';
import { registerApiKeyImport } from './api-key-import.js';
import { CliError } from '../errors.js';
import type { Run } from '../context.js';
import { table, when } from '../table.js';
import { audited, recordAudit } from '../../store/audit.js';
import { asSql } from '../../store/db.js';

export function registerApiKey(program: Command, run: Run): void {
  const apiKey = program.command('api-key').description('manage API keys');

  apiKey
    .command('create <name>')
    .description('create a key; the key is printed once and never stored')
    .option('--client <id>', 'the client the key belongs to (not for admin keys)')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'agent')
    .option('--expires-in <duration>', 'e.g. 90d, 12h; default: never')
    .option('--expires-at <date>', 'an absolute expiry, e.g. 2027-01-31 or 2027-01-31T12:00:00Z')
    .action((name: string, opts: { client?: string; role: string; expiresIn?: string; expiresAt?: string }) =>
      run(
        async (ctx) => {
          const role = parseRole(opts.role);
          const expiresAt = expiryFrom(opts);
          if (role !== 'admin') {
            if (!opts.client) throw new CliError(`${aKeyOf(role)} needs --client <id>`);
            const client = await getClient(ctx.sql, opts.client);
            if (!client) throw new CliError(`No client "${opts.client}". Create it with: central-logger client create ${opts.client} --name <name>`);
            if (!client.isActive) throw new CliError(`Client "${opts.client}" is inactive`);
          } else if (opts.client) {
            throw new CliError('An admin key belongs to no client; drop --client');
          }
          const { key, record } = await ctx.sql.begin(async (tx) => {
            const created = await createKey(asSql(tx), {
              name,
              role,
              clientId: role === 'admin' ? null : opts.client!,
              expiresAt,
              bcryptCost: ctx.config.BCRYPT_COST,
              maxKeysPerClient: ctx.config.MAX_KEYS_PER_CLIENT,
            });
            await recordAudit(tx, audited.keyIssued(ctx.actor, created.record, null));
            return created;
          });
          ctx.out('✓ API key created successfully');
          ctx.out();
          ctx.out(`Key:     ${key}`);
          ctx.out(`Name:    ${record.name}`);
          ctx.out(`Role:    ${record.role}`);
          ctx.out(`Client:  ${record.clientId ?? '-'}`);
          ctx.out(`Prefix:  ${record.prefix}`);
          ctx.out(`ID:      ${record.id}`);
          ctx.out(`Expires: ${record.expiresAt ? when(record.expiresAt) : 'never'}`);
          ctx.out();
          ctx.out('⚠️  Save this key securely - it will not be shown again!');
        },
        { writes: true },
      ),
    );

  apiKey
    .command('list')
    .description('list keys (never their secrets)')
    .option('--client <id>', "only this client's keys")
    .option('--json', 'print JSON')
    .action((opts: { client?: string; json?: boolean }) =>
      run(async (ctx) => {
        const keys = await listKeys(ctx.sql, opts.client ? { clientId: opts.client } : {});
        if (opts.json) return ctx.out(JSON.stringify(keys, null, 2));
        if (keys.length === 0) return ctx.out('No API keys.');
        ctx.out(
          table(
            ['ID', 'PREFIX', 'NAME', 'ROLE', 'CLIENT', 'STATUS', 'CREATED', 'LAST USED', 'LAST IP', 'REQUESTS', 'EXPIRES', 'REPLACED BY', 'ROTATE'],
            keys.map((k) => [
              k.id,
              k.prefix,
              k.name,
              k.role,
              k.clientId ?? '-',
              k.status,
              when(k.createdAt),
              when(k.lastUsedAt),
              k.lastUsedIp ?? '-',
              String(k.requestCount),
              when(k.expiresAt),
              k.replacedBy ?? '-',
              k.rotationDue ? 'now (legacy)' : '-',
            ]),
          ),
        );
        const due = keys.filter((k) => k.rotationDue).length;
        if (due > 0) ctx.out(`⚠️  ${due} legacy key${due === 1 ? ' is' : 's are'} due for rotation now: central-logger api-key rotate <prefix>`);
      }),
    );

  apiKey
    .command('revoke <idOrPrefix>')
    .description('revoke a key by id or prefix; it stops working on every process within a second')
    .action((idOrPrefix: string) =>
      run(
        async (ctx) => {
          const { result, announced } = await revokeKeyEverywhere(ctx.sql, ctx.redis(), idOrPrefix, undefined, (tx, r) =>
            recordAudit(tx, {
              actor: ctx.actor,
              action: 'key.revoke',
              target: `key:${r.id}`,
              details: { prefix: r.prefix, name: r.name, client_id: r.clientId },
              ip: null,
            }),
          );
          if (!result) throw new CliError(`No API key with id or prefix "${idOrPrefix}"`);
          ctx.out(`✓ API key ${result.prefix} (${result.name}) revoked`);
          if (!announced) ctx.out('⚠️  Redis was unreachable: running processes notice within the key cache TTL instead of at once');
        },
        { writes: true },
      ),
    );

  apiKey
    .command('rotate <idOrPrefix>')
    .description('issue a replacement key that works at once; the old one keeps working for the grace period, then expires')
    .option('--grace <duration>', 'how long the old key keeps working, e.g. 24h, 30m, 7d', '24h')
    .action((idOrPrefix: string, opts: { grace: string }) =>
      run(
        async (ctx) => {
          const graceMs = graceFrom(opts.grace);
          const { result, announced } = await rotateKeyEverywhere(ctx.sql, ctx.redis(), undefined, idOrPrefix, {
            graceMs,
            bcryptCost: ctx.config.BCRYPT_COST,
            maxKeysPerClient: ctx.config.MAX_KEYS_PER_CLIENT,
            inTransaction: (tx, r) =>
              recordAudit(tx, {
                actor: ctx.actor,
                action: 'key.rotate',
                target: `key:${r.previous.id}`,
                details: { prefix: r.previous.prefix, replaced_by: r.record.prefix, old_expires_at: r.previous.expiresAt },
                ip: null,
              }),
          });
          ctx.out('✓ API key rotated');
          ctx.out();
          ctx.out(`Key:     ${result.key}`);
          ctx.out(`Prefix:  ${result.record.prefix}`);
          ctx.out(`ID:      ${result.record.id}`);
          ctx.out(`Replaces ${result.previous.prefix} (${result.previous.id}), which keeps working until ${when(result.previous.expiresAt)}`);
          ctx.out();
          ctx.out('⚠️  Save this key securely - it will not be shown again!');
          if (!announced) ctx.out("⚠️  Redis was unreachable: running processes learn the old key's expiry within the key cache TTL");
        },
        { writes: true },
      ),
    );

  registerApiKeyImport(apiKey, run);
}

function parseRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new CliError(`Unknown role "${role}": use one of ${ROLES.join(', ')}`);
  return role as Role;
}
