// `central-logger ship`: log lines from stdin or a file, shipped with the SDK to the real ingest API.
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { centralLogger, ROOT, spawnService } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db);
  dir = await mkdtemp(join(tmpdir(), 'cl-ship-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await stack?.close();
  await db?.drop();
});

// ship needs no database: the CLI gets one it cannot reach
const NO_DATABASE = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
const envFor = (t: Tenant, url = `${stack.baseUrl}/api/v1/logs`) => ({ ...NO_DATABASE, LOGGER_API_URL: url, LOGGER_API_KEY: t.key });
const rowsOf = (clientId: string) =>
  db.sql`select event_id, environment, status, level, message, workflow, metadata from workflow_logs where client_id = ${clientId} order by message`;
// polls: a generous deadline costs nothing when the rows come, and a CLI started under tsx on a loaded machine takes 10 s and more
const stored = async (clientId: string, n: number) => waitFor(async () => (await rowsOf(clientId)).length === n && rowsOf(clientId), 60_000, `${n} rows`);

describe('central-logger ship', () => {
  it('ships plain console output piped from `node app.js` as events: the line is the message, level info', async () => {
    const t = await createTenant(db.sql, 'agent');
    // an ordinary program: console.log of text and objects, a pino-style JSON line, an error's stack
    const app = join(dir, 'app.js');
    await writeFile(
      app,
      [
        `console.log('a server started on port', 3000);`,
        `console.log({ b: 1 });`,
        `console.log(JSON.stringify({ level: 40, msg: 'c slow query', ms: 900 }));`,
        `console.log('');`,
        `console.error('d not shipped: stderr is not piped');`,
        `console.log('{e looks like JSON but is not');`,
        `console.log('    at f (/srv/app.js:1:2)');`,
      ].join('\n'),
    );
    const { stdout } = await promisify(execFile)('sh', ['-c', `node ${app} 2>/dev/null | ${ROOT}bin/central-logger ship --environment console`], {
      env: { ...process.env, ...envFor(t), ENV_FILE: 'none' },
      timeout: 90_000,
    });
    expect(stdout.trim()).toBe('sent 5, failed 0');
    const rows = await stored(t.clientId, 5);
    // in the order written (the database's collation sorts punctuation its own way)
    const order = ['a', '{ b', 'c', '{e', '  '].map((start) => rows.findIndex((r) => r.message.startsWith(start)));
    expect(order.map((i) => [rows[i]!.environment, rows[i]!.status, rows[i]!.level, rows[i]!.message])).toEqual([
      ['console', 'SUCCESS', 'info', 'a server started on port 3000'],
      ['console', 'SUCCESS', 'info', '{ b: 1 }'],
      ['console', 'SUCCESS', 'warn', 'c slow query'],
      ['console', 'SUCCESS', 'info', '{e looks like JSON but is not'],
      ['console', 'SUCCESS', 'info', '    at f (/srv/app.js:1:2)'],
    ]);
    expect(rows.find((r) => r.level === 'warn')!.metadata).toEqual({ ms: 900 });
    expect(rows.filter((r) => r.level === 'info').map((r) => r.metadata)).toEqual([{}, {}, {}, {}]);
  }, 120_000);

  it('counts a plain line the service refuses (over MAX_EVENT_BYTES, a NUL) as failed and sends the rest', async () => {
    const t = await createTenant(db.sql, 'agent');
    const input = ['first fine line', 'x'.repeat(100 * 1024), 'a NUL \u0000 here', 'last fine line ☃ \ud800'].join('\n');
    const res = await centralLogger(['ship', '--environment', 'hostile'], envFor(t), { input });
    expect(res.stdout.trim()).toBe('sent 2, failed 2');
    expect(res.code).toBe(1);
    const rows = await stored(t.clientId, 2);
    // readline decodes the lone surrogate's bytes as U+FFFD; the service stores what arrives
    expect(rows.map((r) => r.message)).toEqual(['first fine line', expect.stringMatching(/^last fine line ☃ /)]);
  }, 120_000);

  it('--json-only refuses lines that are not JSON objects, counted as failed with their line numbers; maps pino lines', async () => {
    const t = await createTenant(db.sql, 'agent');
    const input = [
      JSON.stringify({ environment: 'prod', executed_at: new Date().toISOString(), status: 'SUCCESS', message: 'a event', workflow: 'sync' }),
      '{not json',
      JSON.stringify({ level: 50, time: Date.now(), msg: 'b pino error', pid: 7, hostname: 'h' }),
      '',
      '[1, 2]',
      JSON.stringify({ msg: 'c plain', user: 'u1' }),
    ].join('\n');
    const res = await centralLogger(['ship', '--json-only', '--environment', 'staging'], envFor(t), { input });
    expect(res.stdout.trim()).toBe('sent 3, failed 2');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('line 2: not valid JSON (--json-only)');
    expect(res.stderr).toContain('line 5: not a JSON object (--json-only)');
    expect(res.stderr).not.toContain(t.key);

    const rows = await stored(t.clientId, 3);
    expect(rows.map((r) => [r.environment, r.status, r.level, r.message])).toEqual([
      ['prod', 'SUCCESS', null, 'a event'],
      ['staging', 'FAILURE', 'error', 'b pino error'],
      ['staging', 'SUCCESS', null, 'c plain'],
    ]);
    expect(rows[1]!.metadata).toMatchObject({ pid: 7, hostname: 'h' });
    expect(rows[2]!.metadata).toEqual({ user: 'u1' });
  });

  it('ships a file with --url and --api-key (a base URL) and exits 0 when all were sent', async () => {
    const t = await createTenant(db.sql, 'agent');
    const file = join(dir, 'all-good.ndjson');
    await writeFile(file, `${Array.from({ length: 250 }, (_, i) => JSON.stringify({ status: 'SUCCESS', message: `m${i}` })).join('\n')}\n`);
    const res = await centralLogger(['ship', file, '--url', stack.baseUrl, '--api-key', t.key, '--environment', 'ci', '--workflow', 'nightly'], NO_DATABASE);
    expect(res).toMatchObject({ code: 0, stdout: 'sent 250, failed 0\n' });
    const rows = await stored(t.clientId, 250);
    expect(new Set(rows.map((r) => r.workflow))).toEqual(new Set(['nightly']));
  });

  it('reports a refused key once per batch, never printing it, and exits 1', async () => {
    const t = await createTenant(db.sql, 'reader');
    const res = await centralLogger(['ship', '--environment', 'x'], envFor(t), { input: '{"msg":"a"}\n{"msg":"b"}\n' });
    expect(res.code).toBe(1);
    expect(res.stdout.trim()).toBe('sent 0, failed 2');
    expect(res.stderr).toMatch(/2 events not delivered: insufficient_scope/);
    expect(res.stderr).not.toContain(t.key);
  });

  it('--follow tails a file through truncation and rotation, and flushes with a summary on SIGTERM', async () => {
    const t = await createTenant(db.sql, 'agent');
    const file = join(dir, 'app.log');
    const line = (m: string) => `${JSON.stringify({ level: 30, time: Date.now(), msg: m })}\n`;
    await writeFile(file, line('f1') + line('f2'));
    const proc = spawnService('apps/admin/src/cli/main.ts', envFor(t), ['ship', file, '--follow', '--environment', 'tail']);
    try {
      await stored(t.clientId, 2);
      await appendFile(file, `${line('f3')}{"msg":"f4 half`);
      await stored(t.clientId, 3);
      await appendFile(file, ' written"}\n');
      await stored(t.clientId, 4);
      await truncate(file, 0);
      await appendFile(file, line('f5'));
      await stored(t.clientId, 5);
      await rename(file, `${file}.1`);
      await appendFile(`${file}.1`, line('f6')); // written to the old file after the rename, before the new one exists
      await writeFile(file, line('f7'));
      await stored(t.clientId, 7);
      await proc.stop();
      expect(proc.child.exitCode).toBe(0);
      expect(proc.lines).toContain('sent 7, failed 0');
      expect((await rowsOf(t.clientId)).map((r) => r.message)).toEqual(['f1', 'f2', 'f3', 'f4 half written', 'f5', 'f6', 'f7']);
    } finally {
      await proc.stop();
    }
  }, 120_000);
});
