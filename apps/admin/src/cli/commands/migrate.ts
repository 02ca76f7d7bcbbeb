import type { Command } from 'commander';
import { ensureDatabase, migrate, setReaderPassword } from '@central-logger/db';
import type { CliContext } from '../context.js';

export function registerMigrate(program: Command, run: (fn: (ctx: CliContext) => Promise<void>) => Promise<void>): void {
  program
    .command('migrate')
    .description('create the database if missing and apply pending migrations')
    .action(() =>
      run(async (ctx) => {
        if (await ensureDatabase(ctx.config.DATABASE_URL)) ctx.out('✓ Database created');
        const { applied, skipped } = await migrate(ctx.sql);
        for (const file of applied) ctx.out(`✓ Applied ${file}`);
        ctx.out(applied.length ? `${applied.length} migration(s) applied, ${skipped} already present` : `Up to date (${skipped} migrations)`);
        if (ctx.config.READER_PASSWORD !== undefined) {
          await setReaderPassword(ctx.sql, ctx.config.READER_PASSWORD);
          ctx.out('✓ Password of central_logger_reader set from READER_PASSWORD');
        }
      }),
    );
}
