import type { Command } from 'commander';
import { read } from 'read';
import { isUniqueViolation } from '@central-logger/db';
import { passwordProblem } from '../../auth/passwords.js';
import { createAdminUser, USERNAME_PATTERN } from '../../store/admin-users.js';
import { recordAudit } from '../../store/audit.js';
import { asSql } from '../../store/db.js';
import { CliError } from '../errors.js';
import type { Run } from '../context.js';

export function registerAdminUser(program: Command, run: Run): void {
  const adminUser = program.command('admin-user').description("manage the admin app's users");

  adminUser
    .command('create <username>')
    .description('create an admin user; the password is read from a prompt, or from stdin when it is not a terminal')
    .action((username: string) =>
      run(
        async (ctx) => {
          if (!USERNAME_PATTERN.test(username))
            throw new CliError(`Invalid username "${username}": use 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit`);
          const password = process.stdin.isTTY ? await promptTwice() : await readStdinLine();
          const problem = passwordProblem(password);
          if (problem) throw new CliError(problem);
          try {
            await ctx.sql.begin(async (tx) => {
              await createAdminUser(asSql(tx), username, password, ctx.config.BCRYPT_COST);
              await recordAudit(tx, { actor: ctx.actor, action: 'admin_user.create', target: `admin_user:${username}`, ip: null });
            });
          } catch (err) {
            if (isUniqueViolation(err)) throw new CliError(`Admin user "${username}" already exists`);
            throw err;
          }
          ctx.out(`✓ Admin user created: ${username}`);
          ctx.out('Sign in at the admin app (port 8001 by default).');
        },
        { writes: true },
      ),
    );
}

/** Asks without echo, twice, so a typo does not lock the user out. */
export async function promptTwice(): Promise<string> {
  const first = await read({ prompt: 'Password: ', silent: true, replace: '' });
  const second = await read({ prompt: 'Repeat password: ', silent: true, replace: '' });
  if (first !== second) throw new CliError('The passwords do not match');
  return first;
}

/** The first line of stdin, for scripts: `printf '%s\n' "$PW" | central-logger admin-user create ops`. */
export async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split(/\r?\n/)[0] ?? '';
}
