import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from './client.js';

/** The repository's `migrations/` folder. */
export const migrationsDir = resolve(fileURLToPath(new URL('../../../migrations', import.meta.url)));

// Any constant works; it only has to be the same in every process.
const MIGRATION_LOCK = 4_221_001;

/**
 * Earlier texts (SHA-256) of migrations that were edited after they shipped,
 * by file. A database that ran one of them is not refused: its ledger keeps
 * the checksum of what it really ran, and a later migration makes up the
 * difference. 050 gained its key_addresses seed after its first text had been
 * applied (migration 160 runs that seed on those databases). Never add to
 * this list to get past an edit: write a new migration instead.
 */
export const SUPERSEDED_MIGRATIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  '050_usage_alerts.sql': ['834bb32df52c3a07fe7b22ea262478a19e47b6924591ba12e12aefed6452eebd'],
});

export interface MigrationResult {
  applied: string[];
  skipped: number;
  /** Files this database ran in an earlier text that is known and accepted (SUPERSEDED_MIGRATIONS). */
  superseded: string[];
}

/** A migration file changed after this database applied it: migrations are append-only. */
export class MigrationChangedError extends Error {
  constructor(
    readonly file: string,
    readonly applied: string,
    readonly current: string,
  ) {
    super(
      `migration ${file} changed after this database applied it (applied sha256 ${applied.slice(0, 12)}…, file now ${current.slice(0, 12)}…). ` +
        `Migrations are append-only: restore the file (git log -p -- migrations/${file}) and put the change in a new migration.`,
    );
    this.name = 'MigrationChangedError';
  }
}

/** The checksum the ledger records for a migration's text. */
export function migrationChecksum(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Applies every `NNN_name.sql` not yet in the ledger, in order, in one
 * transaction under an advisory lock, so concurrent starts apply each once.
 * Before applying anything it checks every applied file against the
 * checksum the ledger recorded, and refuses to run (MigrationChangedError)
 * when one differs.
 */
export async function migrate(sql: Sql, dir = migrationsDir): Promise<MigrationResult> {
  const names = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const files = await Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), 'utf8') })));
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`create table if not exists schema_migrations (
      version text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`;
    const done = new Map((await tx`select version, checksum from schema_migrations`).map((r) => [r.version as string, r.checksum as string]));
    const superseded: string[] = [];
    const pending = files.filter(({ name, text }) => {
      const known = done.get(name);
      if (known === undefined) return true;
      const checksum = migrationChecksum(text);
      if (known === checksum) return false;
      if (!SUPERSEDED_MIGRATIONS[name]?.includes(known)) throw new MigrationChangedError(name, known, checksum);
      superseded.push(name);
      return false;
    });
    for (const { name, text } of pending) {
      await tx.unsafe(text);
      await tx`insert into schema_migrations (version, checksum) values (${name}, ${migrationChecksum(text)})`;
    }
    return { applied: pending.map((f) => f.name), skipped: files.length - pending.length, superseded };
  });
}
