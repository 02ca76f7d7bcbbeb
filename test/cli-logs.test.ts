// `central-logger logs` and `tail`: a tenant's commands, against the real ingest API, with no database.
// Each run of the CLI starts a node process with tsx: seconds on a loaded machine, hence the long timeouts.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, revokeKeyEverywhere } from '@central-logger/keys';
import { formatLine } from '../apps/admin/src/cli/tenant/format.js';
import { centralLogger, spawnService } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { logRow, seedLogs } from './support/reads.js';
import { createTenant, event, postLogs, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let reader: Tenant;
let redis: Redis;
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { CURSOR_SECRET: 'test-cursor-secret-of-at-least-32-chars' });
  reader = await createTenant(db.sql, 'reader', 'cli');
  redis = new Redis(REDIS_URL);
  // 1,200 old rows (two pages of 1,000), and three recent ones to filter
  await seedLogs(
    db.sql,
    Array.from({ length: 1200 }, (_, i) =>
      logRow(reader.clientId, { event_id: `old${String(i).padStart(4, '0')}`, executed_at: minutesAgo(180 + i / 100), message: `old ${i}` }),
    ),
  );
  await seedLogs(db.sql, [
    logRow(reader.clientId, {
      event_id: 'r1',
      executed_at: minutesAgo(3),
      level: 'error',
      workflow: 'billing',
      message: 'card declined',
      metadata: { region: 'eu' },
    }),
    logRow(reader.clientId, {
      event_id: 'r2',
      executed_at: minutesAgo(2),
      level: 'error',
      workflow: 'billing',
      message: 'card declined\n\u001b[2Jagain',
      metadata: { region: 'us' },
    }),
    logRow(reader.clientId, { event_id: 'r3', executed_at: minutesAgo(1), level: 'info', workflow: 'emails', message: null, status: 'SUCCESS' }),
  ]);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  await db?.drop();
});

// the commands need no database: the CLI gets one it cannot reach
const NO_DATABASE = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
const envFor = (key: string) => ({ ...NO_DATABASE, LOGGER_API_URL: stack.baseUrl, LOGGER_API_KEY: key });

describe('central-logger logs', () => {
  it('prints one readable line per event, newest first, and filters like the API', async () => {
    const res = await centralLogger(['logs', '--since', '1h'], envFor(reader.key));
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z INFO {2}emails \(SUCCESS\)$/);
    // control characters of a logged value are shown, not obeyed; no color off a terminal
    expect(lines[1]).toMatch(/ ERROR billing card declined\\n\\u001b\[2Jagain$/);
    expect(res.stdout).not.toContain('\u001b');
    const filtered = await centralLogger(['logs', '--level', 'error', '--meta', 'region=eu', '--json'], envFor(reader.key));
    expect(
      filtered.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).event_id),
    ).toEqual(['r1']);
  }, 180_000);

  it('pages through cursors up to --limit, as JSON lines the API returns', async () => {
    const all = await centralLogger(['logs', '--limit', '5000', '--json'], envFor(reader.key));
    expect(all.code).toBe(0);
    const ids = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).event_id);
    expect(ids).toHaveLength(1203);
    expect(new Set(ids).size).toBe(1203);
    const some = await centralLogger(['logs', '--limit', '1001', '--json'], envFor(reader.key));
    expect(some.stdout.trim().split('\n')).toHaveLength(1001);
    expect(
      some.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).event_id),
    ).toEqual(ids.slice(0, 1001));
  }, 180_000);

  it('says what is missing or wrong, with exit code 1', async () => {
    const none = await centralLogger(['logs'], { ...NO_DATABASE, LOGGER_API_URL: '', LOGGER_API_KEY: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('LOGGER_API_URL');
    expect(none.stderr).toContain('LOGGER_API_KEY');
    const bad = await centralLogger(['logs', '--level', 'loud'], envFor(reader.key));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Invalid query parameter: level \(level must be one of/);
    const since = await centralLogger(['logs', '--since', 'yesterday'], envFor(reader.key));
    expect(since.code).toBe(1);
    expect(since.stderr).toContain('--since takes a duration');
    const wrongKey = await centralLogger(['logs'], envFor(`clk_nothere_${'x'.repeat(40)}`));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('Invalid API key');
    expect(wrongKey.stderr).not.toContain('xxxxxxxx');
  }, 180_000);
});

describe('central-logger tail', () => {
  it('prints events as they are stored, reconnects with Last-Event-ID without a gap or a repeat, and stops on SIGTERM', async () => {
    const t = await createTenant(db.sql, 'owner', 'clitail');
    const writer = (await createKey(db.sql, { name: 'w', role: 'agent', clientId: t.clientId, bcryptCost: 4 })).key;
    const proc = spawnService('apps/admin/src/cli/main.ts', envFor(t.key), ['tail', '--json', '--environment', 'live']);
    try {
      await waitFor(async () => stack.ingest.app.tail.size > 0, 90_000, 'the CLI to connect');
      const first = (await postLogs(stack.baseUrl, writer, [event({ environment: 'live', message: 'one' }), event({ environment: 'other' })])).body.ids;
      await proc.waitForLine(/"message":"one"/, 10_000);
      // the server ends the stream; events stored before the CLI is back must still be printed, once
      for (const s of stack.ingest.app.tail.streams()) s.end('shutdown');
      const meanwhile = (await postLogs(stack.baseUrl, writer, [event({ environment: 'live', message: 'two' })])).body.ids;
      await proc.waitForLine(/"message":"two"/, 15_000);
      const after = (await postLogs(stack.baseUrl, writer, [event({ environment: 'live', message: 'three' })])).body.ids;
      await proc.waitForLine(/"message":"three"/, 10_000);
      const printed = proc.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l).event_id);
      expect(printed).toEqual([first[0], ...meanwhile, ...after]);
      expect(proc.lines.some((l) => l.includes('reconnecting'))).toBe(true);
    } finally {
      await proc.stop();
    }
    expect(proc.child.exitCode).toBe(0);
  }, 180_000);

  it('exits 1 with the reason when its key is revoked', async () => {
    const t = await createTenant(db.sql, 'reader', 'clirv');
    const proc = spawnService('apps/admin/src/cli/main.ts', envFor(t.key), ['tail']);
    try {
      await waitFor(async () => stack.ingest.app.tail.streams().length > 0, 90_000, 'the CLI to connect');
      await revokeKeyEverywhere(db.sql, redis, t.record.id);
      await proc.waitForLine(/revoked/, 10_000);
      await waitFor(async () => proc.child.exitCode !== null, 10_000, 'the CLI to exit');
      expect(proc.child.exitCode).toBe(1);
    } finally {
      await proc.stop();
    }
  }, 180_000);

  it('colors only the level, and only when asked (a terminal)', () => {
    const log = { event_id: 'e', executed_at: '2026-01-01T00:00:00.000000Z', level: 'error', status: 'FAILURE', workflow: 'wf', message: 'boom' };
    expect(formatLine(log, false)).toBe('2026-01-01T00:00:00.000000Z ERROR wf boom');
    expect(formatLine(log, true)).toBe('2026-01-01T00:00:00.000000Z \u001b[31mERROR\u001b[0m wf boom');
  });
});
