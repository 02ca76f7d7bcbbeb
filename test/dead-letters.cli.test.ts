// central-logger dead-letters list|replay, through bin/central-logger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertDeadLetters } from '@central-logger/db';
import { centralLogger } from './support/child-processes.js';
import { logRow } from './support/rows.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { REDIS_URL } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const cli = (...args: string[]) => centralLogger(args, { DATABASE_URL: db.url, REDIS_URL, LOG_LEVEL: 'silent' });

const row = (eventId: string, metadata: Record<string, unknown> = {}) => logRow('acme', { event_id: eventId, environment: 'prod', message: 'm', metadata });

describe('central-logger dead-letters', () => {
  it('lists dead letters and replays one whose cause is gone: stored once, and no longer listed', async () => {
    await insertDeadLetters(db.sql, [row('fixed-now')], { code: '23514', message: 'a check that has since been dropped' });
    const list = await cli('dead-letters', 'list');
    expect(list.stdout).toMatch(/acme\s+fixed-now\s+23514\s+a check that has since been dropped/);
    const id = /^(\d+)\s/m.exec(list.stdout.split('\n').slice(2).join('\n'))![1]!;
    const replay = await cli('dead-letters', 'replay', id);
    expect(replay.stdout).toContain('✓ Event fixed-now of acme stored');
    expect((await db.sql`select count(*)::int as n from workflow_logs where event_id = 'fixed-now'`)[0]!.n).toBe(1);
    expect((await cli('dead-letters', 'list')).stdout).toContain('No dead letters.');
  });

  it('keeps a dead letter Postgres still refuses, and says why in one line', async () => {
    await insertDeadLetters(db.sql, [row('still-bad', { k: 'nul \u0000' })], { code: '22P05', message: 'unsupported Unicode escape sequence' });
    const [{ id }] = (await db.sql`select id from dead_letter_events where event_id = 'still-bad'`) as unknown as [{ id: string }];
    const replay = await cli('dead-letters', 'replay', String(id));
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/Postgres still refuses dead letter/);
    expect((await db.sql`select count(*)::int as n from dead_letter_events where event_id = 'still-bad'`)[0]!.n).toBe(1);
    expect((await cli('dead-letters', 'replay', '999999')).stderr).toMatch(/No dead letter 999999/);
  });
});
