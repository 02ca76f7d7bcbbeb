import { Command } from 'commander';
import { ConfigError } from '@central-logger/config';
import { createCliContext, type CliContext, type RunOptions } from './context.js';
import { CliError } from './errors.js';
import { registerApiKey } from './commands/api-key.js';
import { registerClient } from './commands/client.js';
import { registerMigrate } from './commands/migrate.js';
import { registerAdminUser } from './commands/admin-user.js';
import { registerUser } from './commands/user.js';
import { registerLimits } from './commands/limits.js';
import { registerAlerts } from './commands/alerts.js';
import { registerAuthFailures, registerUsage } from './commands/usage.js';
import { registerDeadLetters } from './commands/dead-letters.js';
import { registerJobs } from './commands/jobs.js';
import { registerShip } from './commands/ship.js';
import { registerLogs } from './commands/logs.js';
import { registerSystem } from './commands/system.js';

/** Runs one command with a fresh context; failures print one line and set exit code 1. */
async function run(fn: (ctx: CliContext) => Promise<void>, options: RunOptions = {}): Promise<void> {
  let ctx: CliContext | undefined;
  try {
    ctx = createCliContext(options);
    // first, before anything can fail: a change made in an unexpected database is seen at once
    if (options.writes) ctx.out(`Database: ${ctx.database}`);
    await fn(ctx);
  } catch (err) {
    process.exitCode = 1;
    if (err instanceof CliError || err instanceof ConfigError) console.error(`✗ ${err.message}`);
    else if ((err as { code?: string }).code === 'ECONNREFUSED')
      console.error('✗ Cannot reach Postgres at DATABASE_URL. Start it (docker compose up -d postgres) or set DATABASE_URL.');
    else console.error(`✗ ${(err as Error).message}`);
  } finally {
    await ctx?.close();
  }
}

/** `run` for the commands that only call the ingest API: the same one-line failures, no database. */
async function runWithoutDatabase(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    process.exitCode = 1;
    console.error(`✗ ${(err as Error).message}`);
  }
}

const program = new Command('central-logger').description('central-logger administration').showHelpAfterError();
registerMigrate(program, run);
registerClient(program, run);
registerApiKey(program, run);
registerAdminUser(program, run);
registerUser(program, run);
registerLimits(program, run);
registerAlerts(program, run);
registerUsage(program, run);
registerAuthFailures(program, run);
registerDeadLetters(program, run);
registerJobs(program, run);
registerSystem(program, run);
// ship, logs and tail talk to the ingest API only: no context, so no database is needed
registerShip(program);
registerLogs(program, runWithoutDatabase);

await program.parseAsync(process.argv);
