import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from './client.js';

/** The repository's `migrations/` folder. */
export const migrationsDir = resolve(fileURLToPath(new URL('../../../migrations', import.meta.url)));

// Any constant works; it only has to be the same in every process.
const MIGRATION_LOCK = 4_221_001;

export interface MigrationResult {
  applied: string[];
  skipped: number;
}

/**
 * Applies every `NNN_name.sql` not yet in the ledger, in order, in one
 * transaction under an advisory lock, so concurrent starts apply each once.
 * A file whose content changed after it was applied is an error.
 */
export async function migrate(sql: Sql, dir = migrationsDir): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`create table if not exists schema_migrations (
      version text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`;
    const done = new Map((await tx`select version, checksum from schema_migrations`).map((r) => [r.version as string, r.checksum as string]));
    const applied: string[] = [];
    for (const file of files) {
      const text = await readFile(join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(text).digest('hex');
      const known = done.get(file);
      if (known !== undefined) {
        if (known !== checksum) throw new Error(`migration ${file} changed after it was applied; add a new migration instead`);
        continue;
      }
      await tx.unsafe(text);
      await tx`insert into schema_migrations (version, checksum) values (${file}, ${checksum})`;
      applied.push(file);
    }
    return { applied, skipped: files.length - applied.length };
  });
}
