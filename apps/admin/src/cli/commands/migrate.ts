import type { Command } from 'commander';
import { ensureDatabase, migrate, ROLES, setRolePasswords } from '@central-logger/db';
import type { Run } from '../context.js';

/** `central-logger migrate`: the one command that connects as the owner (DATABASE_URL). */
export function registerMigrate(program: Command, run: Run): void {
  program
    .command('migrate')
    .description("create the database if missing, apply pending migrations, and set the roles' passwords (*_DB_PASSWORD, READER_PASSWORD)")
    .action(() =>
      run(
        async (ctx) => {
          if (await ensureDatabase(ctx.config.DATABASE_URL)) ctx.out('✓ Database created');
          const { applied, skipped, superseded } = await migrate(ctx.sql);
          for (const file of superseded)
            ctx.out(`ℹ ${file}: this database ran an earlier text of it, edited after it shipped; a later migration makes up the difference`);
          for (const file of applied) ctx.out(`✓ Applied ${file}`);
          ctx.out(applied.length ? `${applied.length} migration(s) applied, ${skipped} already present` : `Up to date (${skipped} migrations)`);
          const c = ctx.config;
          const set = await setRolePasswords(ctx.sql, {
            ingest: c.INGEST_DB_PASSWORD,
            worker: c.WORKER_DB_PASSWORD,
            admin: c.ADMIN_DB_PASSWORD,
            reader: c.READER_PASSWORD,
          });
          for (const role of set) ctx.out(`✓ Password of ${ROLES[role]} set`);
        },
        { asOwner: true, writes: true },
      ),
    );
}
