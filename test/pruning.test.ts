import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneRecords } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const DAY = 86_400_000;

describe('pruneRecords (maintenance job)', () => {
  it('deletes bookkeeping past its keep time in batches, keeps the rest, and never touches the audit log or dead letters', async () => {
    const now = new Date();
    const old = new Date(now.getTime() - 100 * DAY);
    const ancient = new Date(now.getTime() - 500 * DAY);
    const recent = new Date(now.getTime() - DAY);
    const t = await createTenant(db.sql, 'agent');
    const sql = db.sql;
    for (const at of [old, old, old, recent]) await sql`insert into auth_failures (occurred_at, address, reason) values (${at}, '10.0.0.1', 'unknown_key')`;
    for (const at of [old, recent]) await sql`insert into admin_login_failures (username, ip, at) values ('ops', '10.0.0.1', ${at})`;
    await sql`insert into admin_users (username, password_hash) values ('ops', 'x')`;
    await sql`insert into admin_sessions (id, username, created_at, expires_at) values ('s_old', 'ops', ${old}, ${old}), ('s_live', 'ops', ${recent}, ${new Date(now.getTime() + DAY)})`;
    for (const [id, ack] of [
      ['a_old', old],
      ['a_open', null],
      ['a_recent', recent],
    ] as const) {
      await sql`insert into alerts (id, rule, subject, window_start, severity, summary, evidence, acknowledged_at)
        values (${id}, 'quota', ${id}, ${old}, 'warning', 's', '{}', ${ack})`;
    }
    await sql`insert into usage_hourly (hour, key_id, client_id, requests) values (${ancient}, ${t.record.id}, ${t.clientId}, 1), (${old}, ${t.record.id}, ${t.clientId}, 1)`;
    await sql`insert into key_addresses (key_id, address, first_seen, last_seen) values (${t.record.id}, '10.0.0.1', ${ancient}, ${ancient}), (${t.record.id}, '10.0.0.2', ${old}, ${old})`;
    await sql`insert into admin_audit (actor, action, target, details, ip, at) values ('ops', 'client.create', 'client:x', '{}', '1.1.1.1', ${ancient})`;
    await sql`insert into dead_letter_events (client_id, event_id, received_at, payload, error_message, failed_at) values (${t.clientId}, 'e', ${ancient}, '{}', 'x', ${ancient})`;

    const deleted = await pruneRecords(sql, now, { securityRecordsDays: 90, usageDays: 400, batch: 2 });
    expect(deleted).toEqual({ auth_failures: 3, admin_login_failures: 1, admin_sessions: 1, alerts: 1, usage_hourly: 1, key_addresses: 1 });
    const count = async (table: string) => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n as number;
    expect(await count('auth_failures')).toBe(1);
    expect((await sql`select id from admin_sessions`).map((r) => r.id)).toEqual(['s_live']);
    expect((await sql`select id from alerts order by id`).map((r) => r.id)).toEqual(['a_open', 'a_recent']);
    expect(await count('usage_hourly')).toBe(1);
    expect(await count('key_addresses')).toBe(1);
    expect(await count('admin_audit')).toBe(1);
    expect(await count('dead_letter_events')).toBe(1);
    expect(await pruneRecords(sql, now, { securityRecordsDays: 90, usageDays: 400, batch: 2 })).toMatchObject({ auth_failures: 0, alerts: 0 });
  });
});
