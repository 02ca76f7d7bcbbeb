// Migrations are append-only: a shipped file never changes. The repository's
// files are pinned in migrations/SHA256SUMS, and the migrator refuses a
// database whose ledger recorded another text of a file it applied.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { MigrationChangedError, migrate, migrationChecksum, migrationsDir, SUPERSEDED_MIGRATIONS } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** A copy of the repository's migrations that a test may edit. */
function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-migrations-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(migrationsDir, dir, { recursive: true });
  return dir;
}

describe('the shipped migrations', () => {
  const pinned = readFileSync(join(migrationsDir, 'SHA256SUMS'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/) as [string, string]);

  it('each keeps the text pinned in migrations/SHA256SUMS (a changed one is a new migration instead)', () => {
    expect(pinned.length).toBeGreaterThan(10);
    const changed = pinned.filter(([sum, file]) => migrationChecksum(readFileSync(join(migrationsDir, file), 'utf8')) !== sum).map(([, file]) => file);
    expect(changed).toEqual([]);
  });

  it('pins every migration in the tree: a new one is pinned in the change that adds it', () => {
    const pinnedFiles = new Set(pinned.map(([, file]) => file));
    expect(readdirSync(migrationsDir).filter((file) => file.endsWith('.sql') && !pinnedFiles.has(file))).toEqual([]);
  });

  it('none pinned has gone, and the only earlier texts accepted are of pinned files', () => {
    const files = new Set(readdirSync(migrationsDir));
    expect(pinned.filter(([, file]) => !files.has(file))).toEqual([]);
    const pinnedFiles = new Set(pinned.map(([, file]) => file));
    expect(Object.keys(SUPERSEDED_MIGRATIONS).filter((file) => !pinnedFiles.has(file))).toEqual([]);
  });
});

describe('the migrator', () => {
  it('refuses to run when an applied file changed, naming it, and applies nothing', async () => {
    const dir = copyOfMigrations();
    appendFileSync(join(dir, '030_client_limits.sql'), '\n-- an edit after release\n');
    writeFileSync(join(dir, '999_after.sql'), 'create table after_the_edit (id int);\n');
    const err = await migrate(db.sql, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationChangedError);
    expect((err as Error).message).toMatch(/030_client_limits\.sql changed after this database applied it/);
    expect((err as Error).message).toMatch(/new migration/);
    // the pending file was not applied: the refusal comes before any change
    expect((await db.sql`select to_regclass('after_the_edit') as t`)[0]!.t).toBeNull();
  });

  it('applies a new file once and leaves the unchanged ones alone', async () => {
    const dir = copyOfMigrations();
    writeFileSync(join(dir, '998_new.sql'), 'create table a_new_table (id int);\n');
    const first = await migrate(db.sql, dir);
    expect(first.applied).toEqual(['998_new.sql']);
    expect(first.superseded).toEqual([]);
    expect((await migrate(db.sql, dir)).applied).toEqual([]);
    const [row] = await db.sql`select checksum from schema_migrations where version = '998_new.sql'`;
    expect(row!.checksum).toBe(migrationChecksum('create table a_new_table (id int);\n'));
  });

  it('accepts a database that ran the first text of 050, and 160 seeds the key addresses that text did not', async () => {
    const [earlier] = SUPERSEDED_MIGRATIONS['050_usage_alerts.sql']!;
    const used = await createTenant(db.sql);
    await db.sql`update api_keys set last_used_ip = '203.0.113.7', last_used_at = now() where id = ${used.record.id}`;
    // as that database's ledger reads: 050's first text, 160 not run yet
    await db.sql`update schema_migrations set checksum = ${earlier!} where version = '050_usage_alerts.sql'`;
    await db.sql`delete from schema_migrations where version = '160_key_addresses_seed.sql'`;
    const result = await migrate(db.sql);
    expect(result.superseded).toEqual(['050_usage_alerts.sql']);
    expect(result.applied).toEqual(['160_key_addresses_seed.sql']);
    expect(await db.sql`select address from key_addresses where key_id = ${used.record.id}`).toEqual([{ address: '203.0.113.7' }]);
    // the ledger keeps what this database really ran
    expect((await db.sql`select checksum from schema_migrations where version = '050_usage_alerts.sql'`)[0]!.checksum).toBe(earlier);
  });

  it('160 adds nothing on a database that ran 050 as it is now', async () => {
    const used = await createTenant(db.sql);
    await db.sql`update api_keys set last_used_ip = '203.0.113.8', last_used_at = now() where id = ${used.record.id}`;
    await db.sql`update schema_migrations set checksum = ${migrationChecksum(readFileSync(join(migrationsDir, '050_usage_alerts.sql'), 'utf8'))} where version = '050_usage_alerts.sql'`;
    await db.sql`delete from schema_migrations where version = '160_key_addresses_seed.sql'`;
    expect((await migrate(db.sql)).applied).toEqual(['160_key_addresses_seed.sql']);
    expect(await db.sql`select address from key_addresses where key_id = ${used.record.id}`).toEqual([]);
  });
});
