import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLimitOverrides, recordQuotaWarning } from '@central-logger/limits';
import { centralLogger } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, REDIS_URL } from './support/stack.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const cli = (...args: string[]) => centralLogger(args, { DATABASE_URL: db.url, REDIS_URL, LOG_LEVEL: 'silent' });

describe('central-logger limits', () => {
  it("sets, shows and clears a client's overrides, and lists its quota warnings", async () => {
    const t = await createTenant(db.sql, 'agent');
    const set = await cli('limits', 'set', t.clientId, '--events-per-day', '5000', '--requests-per-second', '2.5');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/Limits of .* updated/);
    expect(await getLimitOverrides(db.sql, t.clientId)).toEqual({ eventsPerDay: 5000, requestsPerSecond: 2.5 });

    await recordQuotaWarning(db.sql, t.clientId, '2026-01-06', 80, 4000, 5000);
    const show = await cli('limits', 'show', t.clientId);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/events-per-day\s+5000/);
    expect(show.stdout).toMatch(/request-burst\s+\(default\)/);
    expect(show.stdout).toMatch(/2026-01-06\s+80%\s+4000\s+5000/);

    expect((await cli('limits', 'set', t.clientId, '--events-per-day', 'default')).code).toBe(0);
    expect(await getLimitOverrides(db.sql, t.clientId)).toEqual({ requestsPerSecond: 2.5 });
  });

  it('refuses bad values and unknown clients with one clear line and exit code 1', async () => {
    const t = await createTenant(db.sql, 'agent');
    const bad = await cli('limits', 'set', t.clientId, '--event-burst', '1.5');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/eventBurst must be a positive integer or "default", not "1.5"/);
    const none = await cli('limits', 'set', t.clientId);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/Nothing to set/);
    const unknown = await cli('limits', 'show', 'nobody-here');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No client "nobody-here"/);
  });
});
