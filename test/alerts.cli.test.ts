// central-logger alerts list|ack and central-logger usage, through bin/central-logger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAlert } from '@central-logger/alerts';
import { createKey } from '@central-logger/keys';
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

describe('central-logger alerts', () => {
  it('lists open alerts, acknowledges one (audited), and no longer lists it as open', async () => {
    const { alert } = await upsertAlert(db.sql, {
      rule: 'quota',
      subject: 'acme:80',
      windowStart: new Date(Date.UTC(2026, 0, 1)),
      severity: 'warning',
      summary: 'Client acme reached 80% of its daily quota',
      evidence: { threshold: 80 },
    });
    const list = await cli('alerts', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(alert.id);
    expect(list.stdout).toContain('Client acme reached 80% of its daily quota');

    const ack = await cli('alerts', 'ack', alert.id);
    expect(ack.code).toBe(0);
    expect(ack.stdout).toContain(`Alert ${alert.id} acknowledged`);
    const [audit] = await db.sql`select action, target, actor from admin_audit where action = 'alert.ack'`;
    expect(audit).toMatchObject({ target: `alert:${alert.id}` });
    expect(audit!.actor).toMatch(/^cli:/);

    expect((await cli('alerts', 'list')).stdout).toContain('No open alerts');
    expect((await cli('alerts', 'list', '--status', 'all')).stdout).toContain(alert.id);
    const missing = await cli('alerts', 'ack', 'alr_nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No alert "alr_nope"');
    expect((await cli('alerts', 'list', '--status', 'closed')).code).toBe(1);
  });
});

describe('central-logger usage', () => {
  it("shows a client's usage per hour, and refuses an unknown client", async () => {
    const t = await createTenant(db.sql, 'agent', 'usagecli');
    await db.sql`insert into usage_hourly (hour, key_id, client_id, requests, events_accepted, bytes, rejected) values (date_trunc('hour', now()), ${t.record.id}, ${t.clientId}, 12, 340, 5600, ${db.sql.json({ validation_failed: 2 })})`;
    const out = await cli('usage', '--client', t.clientId);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`${t.clientId}\\s+12\\s+340\\s+5600\\s+0\\s+0\\s+validation_failed=2`));
    const byKey = await cli('usage', '--key', t.record.prefix, '--granularity', 'day', '--since', '2d');
    expect(byKey.stdout).toContain(t.record.id);
    // --by key: a row per key and hour, bytes and rejections included
    const second = await createKey(db.sql, { name: 'second', role: 'agent', clientId: t.clientId, bcryptCost: 4 });
    await db.sql`insert into usage_hourly (hour, key_id, client_id, requests, events_accepted, bytes, rate_limited) values (date_trunc('hour', now()), ${second.record.id}, ${t.clientId}, 3, 4, 77, 9)`;
    const perKey = await cli('usage', '--client', t.clientId, '--by', 'key');
    expect(perKey.code).toBe(0);
    expect(perKey.stdout).toMatch(/\bKEY\b/);
    expect(perKey.stdout).toMatch(new RegExp(`${t.clientId}\\s+${t.record.id}\\s+12\\s+340\\s+5600\\s+0\\s+0\\s+validation_failed=2`));
    expect(perKey.stdout).toMatch(new RegExp(`${t.clientId}\\s+${second.record.id}\\s+3\\s+4\\s+77\\s+0\\s+9\\s+-`));
    expect((await cli('usage', '--by', 'workflow')).stderr).toContain('--by must be client or key');
    const missing = await cli('usage', '--client', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No client "nope"');
  });
});
