// One configuration loader for every entry point (loadEnvConfig): the .env of
// the working directory under the environment. The CLI honours it like the
// services, and its commands that write say which database they use, never
// with its password.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, cliSchema, ingestSchema, loadEnvConfig } from '@central-logger/config';
import { describeDatabase } from '@central-logger/db';
import { centralLogger, spawnService } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { REDIS_URL } from './support/stack.js';

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'cl-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

/** A working directory of its own holding `.env` with `lines`. */
async function projectWithEnv(name: string, lines: string[]): Promise<string> {
  const cwd = join(dir, name);
  await rm(cwd, { recursive: true, force: true });
  await mkdir(cwd);
  await writeFile(join(cwd, '.env'), `${lines.join('\n')}\n`);
  return cwd;
}

/** This file's database URL with a password the server (trusting local connections) ignores. */
function urlWithPassword(password: string): string {
  const url = new URL(db.url);
  url.password = password;
  return url.toString();
}

describe('loadEnvConfig', () => {
  it('reads .env in the working directory, under the environment, which wins', async () => {
    const cwd = await projectWithEnv('precedence', ['# a comment', 'INGEST_PORT=8123', 'LOG_LEVEL=debug', 'QUEUE_PREFIX="{quoted}"']);
    const c = loadEnvConfig(ingestSchema, { cwd, env: { LOG_LEVEL: 'warn' } });
    expect(c.INGEST_PORT).toBe(8123);
    expect(c.QUEUE_PREFIX).toBe('{quoted}');
    expect(c.LOG_LEVEL).toBe('warn');
  });

  it('reads no file with ENV_FILE=none, another with ENV_FILE, and names a missing one', async () => {
    const cwd = await projectWithEnv('choice', ['INGEST_PORT=8123']);
    await writeFile(join(cwd, 'other.env'), 'INGEST_PORT=8456\n');
    expect(loadEnvConfig(ingestSchema, { cwd, env: { ENV_FILE: 'none' } }).INGEST_PORT).toBe(8000);
    expect(loadEnvConfig(ingestSchema, { cwd, env: { ENV_FILE: 'other.env' } }).INGEST_PORT).toBe(8456);
    expect(() => loadEnvConfig(ingestSchema, { cwd, env: { ENV_FILE: 'missing.env' } })).toThrow(ConfigError);
    expect(() => loadEnvConfig(ingestSchema, { cwd, env: { ENV_FILE: 'missing.env' } })).toThrow(/ENV_FILE: .*missing\.env does not exist/);
    // no .env at all is the usual case, not an error
    expect(loadEnvConfig(cliSchema, { cwd: dir, env: {} }).DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/central_logger');
  });

  it('lists a bad value from .env like one from the environment', async () => {
    const cwd = await projectWithEnv('bad', ['INGEST_PORT=eighty']);
    expect(() => loadEnvConfig(ingestSchema, { cwd, env: {} })).toThrow(/INGEST_PORT/);
  });
});

describe('describeDatabase', () => {
  it('names the database, host, port and user, never the password', () => {
    expect(describeDatabase('postgres://admin:hunter2-secret@db.internal:6432/logs')).toBe('logs on db.internal:6432 as admin');
    expect(describeDatabase('postgres://127.0.0.1/central_logger')).toBe('central_logger on 127.0.0.1:5432');
    expect(describeDatabase('postgres://u:p%40ss@[::1]:5433/x%20y')).toBe('x y on [::1]:5433 as u');
    expect(describeDatabase('postgres://u:pw@localhost/central_logger?host=/run/postgresql')).toBe('central_logger on /run/postgresql:5432 as u');
  });
});

describe('every entry point reads .env the same way', () => {
  // ENV_FILE: '' lifts the test helpers' ENV_FILE=none: the CLI reads <cwd>/.env as a user's shell would have it
  const asUser = { ENV_FILE: '' };

  it('the CLI run in a directory with a .env uses its database, and says which without the password', async () => {
    const password = 'not-to-be-printed-7f3a';
    const cwd = await projectWithEnv('cli', [`DATABASE_URL=${urlWithPassword(password)}`, `REDIS_URL=${REDIS_URL}`, 'BCRYPT_COST=4']);
    const name = new URL(db.url).pathname.slice(1);

    const created = await centralLogger(['client', 'create', 'from_dotenv'], asUser, { cwd });
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Client created: from_dotenv');
    expect((await db.sql`select id from clients where id = 'from_dotenv'`).length).toBe(1);
    // written as the admin role, on this file's database: said first
    expect(created.stdout.split('\n')[0]).toBe(`Database: ${name} on 127.0.0.1:5432 as central_logger_admin`);

    const key = await centralLogger(['api-key', 'create', 'k', '--client', 'from_dotenv', '--role', 'agent'], asUser, { cwd });
    expect(key.code).toBe(0);
    expect(key.stdout).toContain(`Database: ${name} on 127.0.0.1:5432`);

    // migrate connects as the owner, whose URL carries the password
    const migrated = await centralLogger(['migrate'], asUser, { cwd });
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toContain(`Database: ${name} on 127.0.0.1:5432 as postgres`);
    for (const res of [created, key, migrated]) expect(res.stdout + res.stderr).not.toContain(password);

    // a command that only reads prints no such line: its --json stays JSON
    const listed = await centralLogger(['client', 'list', '--json'], asUser, { cwd });
    expect(JSON.parse(listed.stdout).map((c: { id: string }) => c.id)).toContain('from_dotenv');
  }, 120_000);

  it('the environment wins over .env for the CLI too', async () => {
    const cwd = await projectWithEnv('cli-env-wins', ['DATABASE_URL=postgres://postgres@127.0.0.1:1/nowhere']);
    const res = await centralLogger(['client', 'create', 'env_wins'], { ...asUser, DATABASE_URL: db.url }, { cwd });
    expect(res.code).toBe(0);
    expect((await db.sql`select id from clients where id = 'env_wins'`).length).toBe(1);
  });

  it('each app reads ENV_FILE: a bad value there stops it at start-up, named', async () => {
    const file = join(dir, 'apps.env');
    await writeFile(file, 'LOG_LEVEL=loudest\n');
    const apps = ['apps/ingest-api/src/main.ts', 'apps/worker/src/main.ts', 'apps/admin/src/main.ts'].map((entry) => spawnService(entry, { ENV_FILE: file }));
    try {
      for (const app of apps) {
        // an app that ignored the file would start instead: it is given a minute, then stopped below
        const code = app.child.exitCode ?? (await Promise.race([new Promise((resolve) => app.child.once('exit', resolve)), sleep(60_000, 'still running')]));
        expect(code).toBe(1);
        expect(app.lines.join('\n')).toMatch(/LOG_LEVEL/);
      }
    } finally {
      await Promise.all(apps.map((app) => app.stop()));
    }
  }, 120_000);
});
