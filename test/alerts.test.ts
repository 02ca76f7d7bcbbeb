// Alert rules, each driven by real traffic through ingest-api (and the admin
// app's sign-in), with old history seeded where the rule needs "30 days" or a
// baseline; and, for each rule, normal traffic that raises nothing. The test
// runs the roll-up and the evaluation itself instead of waiting for the schedule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setLimitOverrides } from '@central-logger/limits';
import { listAlerts, type Alert, type Rule } from '@central-logger/alerts';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';
import { call, startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let stack: Stack;
let admin: AdminTestApp;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {
    TRUST_PROXY: 'true',
    AUTH_FAILURE_LIMIT: '1000',
    ALERT_ADDRESS_FAILURES: '6',
    ALERT_PREFIX_FAILURES: '5',
    ALERT_SPIKE_MIN_REQUESTS: '20',
    ALERT_SPIKE_FACTOR: '10',
    USAGE_ROLLUP_INTERVAL_MS: '3600000',
    ALERT_EVAL_INTERVAL_MS: '3600000',
  });
  admin = await startAdminApp(db, { TRUST_PROXY: 'true' });
});
afterAll(async () => {
  await admin?.close();
  await stack?.close();
  await db?.drop();
});

async function post(key: string | undefined, address: string, events = 1): Promise<number> {
  const res = await fetch(`${stack.baseUrl}/api/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify(Array.from({ length: events }, () => event())),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Writes buffered auth failures, rolls usage up, runs the rules: what the scheduled jobs do. */
async function evaluate(): Promise<void> {
  // the requests' usage is counted as each answer is sent and reaches Redis a moment later
  await stack.ingest.app.usage.settled();
  await stack.ingest.verifier.failures.flush();
  await stack.worker!.insights.rollUp();
  await stack.worker!.insights.evaluate();
}

async function alertsFor(rule: Rule, subject: string): Promise<Alert[]> {
  return (await listAlerts(db.sql, { rule, limit: 200 })).filter((a) => a.subject === subject);
}

const garbageKey = (i: number) => `clk_${'Z'.repeat(12)}_${String(i).padStart(53, 'x')}`;
const wrongSecret = (t: Tenant) => `${t.key.slice(0, -10)}AAAAAAAAAA`;

describe('rule 1: failed-auth spike from one address', () => {
  it('raises one alert for an address with many failed authentications (API keys and admin sign-ins)', async () => {
    for (let i = 0; i < 4; i++) expect(await post(garbageKey(i), '198.51.100.1')).toBe(401);
    for (let i = 0; i < 2; i++) {
      const res = await call(admin, 'POST', '/admin/api/login', {}, { username: 'nobody', password: 'guess' }, { 'x-forwarded-for': '198.51.100.1' });
      expect(res.status).toBe(401);
    }
    await evaluate();
    const [alert, ...more] = await alertsFor('auth_failures_address', '198.51.100.1');
    expect(more).toEqual([]);
    expect(alert!.evidence).toMatchObject({ address: '198.51.100.1', failures: 6, admin_sign_in_failures: 2 });
    // evaluated again: the same alert, not a second one
    await evaluate();
    expect(await alertsFor('auth_failures_address', '198.51.100.1')).toHaveLength(1);
  });

  it('raises nothing for an address with a few failures among normal traffic', async () => {
    const t = await createTenant(db.sql, 'agent', 'r1ok');
    for (let i = 0; i < 3; i++) expect(await post(t.key, '198.51.100.2')).toBe(202);
    expect(await post(garbageKey(9), '198.51.100.2')).toBe(401);
    await evaluate();
    expect(await alertsFor('auth_failures_address', '198.51.100.2')).toEqual([]);
  });
});

describe('rule 2: failed-auth spike against one key prefix', () => {
  it('raises an alert for a key whose secret is guessed from many addresses', async () => {
    const t = await createTenant(db.sql, 'agent', 'r2');
    for (let i = 0; i < 5; i++) expect(await post(wrongSecret(t), `192.0.2.${10 + i}`)).toBe(401);
    await evaluate();
    const [alert] = await alertsFor('auth_failures_prefix', t.record.prefix);
    expect(alert!.evidence).toMatchObject({ key_prefix: t.record.prefix, failures: 5, addresses: 5 });
    expect(alert!.keyId).toBe(t.record.id);
    expect(alert!.clientId).toBe(t.clientId);
  });

  it('raises nothing for a key used normally with one typo', async () => {
    const t = await createTenant(db.sql, 'agent', 'r2ok');
    for (let i = 0; i < 5; i++) expect(await post(t.key, '192.0.2.50')).toBe(202);
    expect(await post(wrongSecret(t), '192.0.2.50')).toBe(401);
    await evaluate();
    expect(await alertsFor('auth_failures_prefix', t.record.prefix)).toEqual([]);
  });
});

describe('rule 3: a revoked or expired key still in use', () => {
  it('raises an alert for each: revoked, and expired', async () => {
    const revoked = await createTenant(db.sql, 'agent', 'r3rev');
    const expired = await createTenant(db.sql, 'agent', 'r3exp');
    await db.sql`update api_keys set revoked_at = now() where id = ${revoked.record.id}`;
    await db.sql`update api_keys set expires_at = now() - interval '1 minute' where id = ${expired.record.id}`;
    expect(await post(revoked.key, '192.0.2.60')).toBe(401);
    expect(await post(expired.key, '192.0.2.61')).toBe(401);
    await evaluate();
    const [r] = await alertsFor('dead_key_in_use', revoked.record.prefix);
    expect(r!.evidence).toMatchObject({ reasons: ['api_key_revoked'], addresses: ['192.0.2.60'] });
    expect(r!.summary).toMatch(/^Revoked key/);
    const [e] = await alertsFor('dead_key_in_use', expired.record.prefix);
    expect(e!.evidence).toMatchObject({ reasons: ['api_key_expired'] });
  });

  it('raises nothing for an active key', async () => {
    const t = await createTenant(db.sql, 'agent', 'r3ok');
    expect(await post(t.key, '192.0.2.62')).toBe(202);
    await evaluate();
    expect(await alertsFor('dead_key_in_use', t.record.prefix)).toEqual([]);
  });
});

describe('rule 4: a key used from an address it has not used in 30 days', () => {
  it('raises an alert for a new address, and for one last used 40 days ago', async () => {
    const t = await createTenant(db.sql, 'agent', 'r4');
    await db.sql`insert into key_addresses (key_id, address, first_seen, last_seen) values
      (${t.record.id}, '203.0.113.10', now() - interval '90 days', now() - interval '1 day'),
      (${t.record.id}, '203.0.113.40', now() - interval '90 days', now() - interval '40 days')`;
    expect(await post(t.key, '203.0.113.99')).toBe(202);
    expect(await post(t.key, '203.0.113.40')).toBe(202);
    await evaluate();
    const [fresh] = await alertsFor('new_address', `${t.record.prefix}@203.0.113.99`);
    expect(fresh!.evidence).toMatchObject({ address: '203.0.113.99' });
    expect((fresh!.evidence.known_addresses as Array<{ address: string }>).map((k) => k.address)).toContain('203.0.113.10');
    expect(await alertsFor('new_address', `${t.record.prefix}@203.0.113.40`)).toHaveLength(1);
  });

  it('raises nothing for the addresses a key uses every day, nor for a brand-new key', async () => {
    const t = await createTenant(db.sql, 'agent', 'r4ok');
    await db.sql`insert into key_addresses (key_id, address, first_seen, last_seen) values (${t.record.id}, '203.0.113.11', now() - interval '90 days', now() - interval '1 day')`;
    const brandNew = await createTenant(db.sql, 'agent', 'r4new');
    expect(await post(t.key, '203.0.113.11')).toBe(202);
    expect(await post(brandNew.key, '203.0.113.12')).toBe(202);
    await evaluate();
    expect(await alertsFor('new_address', `${t.record.prefix}@203.0.113.11`)).toEqual([]);
    expect(await alertsFor('new_address', `${brandNew.record.prefix}@203.0.113.12`)).toEqual([]);
  });
});

/** Seeds a week of history: `perHour` requests an hour on average, one row a day. */
async function seedBaseline(t: Tenant, perHour: number): Promise<void> {
  const hour = Math.floor(Date.now() / HOUR) * HOUR;
  for (let d = 0; d < 7; d++) {
    await db.sql`insert into usage_hourly (hour, key_id, client_id, requests, events_accepted) values (${new Date(hour - 2 * HOUR - d * DAY)}, ${t.record.id}, ${t.clientId}, ${perHour * 24}, ${perHour * 24})`;
  }
}

describe("rule 5: requests far above the key's own baseline", () => {
  it('raises an alert for 25 requests this hour against a baseline of 1 an hour', async () => {
    const t = await createTenant(db.sql, 'agent', 'r5');
    await seedBaseline(t, 1);
    for (let i = 0; i < 25; i++) expect(await post(t.key, '192.0.2.70')).toBe(202);
    await evaluate();
    const [alert] = await alertsFor('request_spike', t.record.prefix);
    expect(alert!.evidence).toMatchObject({ requests: 25, baseline_per_hour: 1 });
  });

  it('raises nothing for the same 25 requests against a baseline of 5 an hour', async () => {
    const t = await createTenant(db.sql, 'agent', 'r5ok');
    await seedBaseline(t, 5);
    for (let i = 0; i < 25; i++) expect(await post(t.key, '192.0.2.71')).toBe(202);
    await evaluate();
    expect(await alertsFor('request_spike', t.record.prefix)).toEqual([]);
  });
});

describe('rule 6: a key unused for 30 days suddenly active', () => {
  it('raises an alert when a 60-day-old key with no use in 30 days sends a request', async () => {
    const t = await createTenant(db.sql, 'agent', 'r6');
    await db.sql`update api_keys set created_at = now() - interval '60 days' where id = ${t.record.id}`;
    await db.sql`insert into usage_hourly (hour, key_id, client_id, requests) values (date_trunc('hour', now() - interval '45 days'), ${t.record.id}, ${t.clientId}, 3)`;
    expect(await post(t.key, '192.0.2.80')).toBe(202);
    await evaluate();
    const [alert] = await alertsFor('dormant_key_active', t.record.prefix);
    expect(alert!.evidence).toMatchObject({ requests: 1, dormant_days: 30 });
  });

  it('raises nothing for an old key that was used 3 days ago', async () => {
    const t = await createTenant(db.sql, 'agent', 'r6ok');
    await db.sql`update api_keys set created_at = now() - interval '60 days' where id = ${t.record.id}`;
    await db.sql`insert into usage_hourly (hour, key_id, client_id, requests) values (date_trunc('hour', now() - interval '3 days'), ${t.record.id}, ${t.clientId}, 3)`;
    expect(await post(t.key, '192.0.2.81')).toBe(202);
    await evaluate();
    expect(await alertsFor('dormant_key_active', t.record.prefix)).toEqual([]);
  });
});

describe('rule 10: a key due for rotation', () => {
  it('raises an info alert for a working key with no expiry older than 90 days, with the command to rotate it', async () => {
    const t = await createTenant(db.sql, 'agent', 'r10');
    await db.sql`update api_keys set created_at = now() - interval '100 days' where id = ${t.record.id}`;
    await evaluate();
    const [alert] = await alertsFor('key_rotation_due', t.record.prefix);
    expect(alert).toMatchObject({ severity: 'info', keyId: t.record.id, clientId: t.clientId, evidence: { rotation_days: 90 } });
    expect(alert!.summary).toContain(`central-logger api-key rotate ${t.record.prefix}`);
    // once per period: evaluating again raises nothing new
    await evaluate();
    expect(await alertsFor('key_rotation_due', t.record.prefix)).toHaveLength(1);
  });

  it('raises nothing for a young key, an old key that expires, a revoked one, or one of an inactive client', async () => {
    const young = await createTenant(db.sql, 'agent', 'r10young');
    const expiring = await createTenant(db.sql, 'agent', 'r10exp');
    const revoked = await createTenant(db.sql, 'agent', 'r10rev');
    const inactive = await createTenant(db.sql, 'agent', 'r10off');
    await db.sql`update api_keys set created_at = now() - interval '10 days' where id = ${young.record.id}`;
    await db.sql`update api_keys set created_at = now() - interval '100 days', expires_at = now() + interval '30 days' where id = ${expiring.record.id}`;
    await db.sql`update api_keys set created_at = now() - interval '100 days', revoked_at = now() where id = ${revoked.record.id}`;
    await db.sql`update api_keys set created_at = now() - interval '100 days' where id = ${inactive.record.id}`;
    await db.sql`update clients set is_active = false where id = ${inactive.clientId}`;
    await evaluate();
    for (const t of [young, expiring, revoked, inactive]) expect(await alertsFor('key_rotation_due', t.record.prefix)).toEqual([]);
  });
});

describe('rule 7: a tenant past 80% / 100% of its daily quota', () => {
  it('raises a warning at 80% and a critical alert at 100%', async () => {
    const t = await createTenant(db.sql, 'agent', 'r7');
    await setLimitOverrides(db.sql, t.clientId, { eventsPerDay: 10 });
    expect(await post(t.key, '192.0.2.90', 8)).toBe(202);
    await waitFor(
      async () => (await db.sql`select 1 from quota_warnings where client_id = ${t.clientId} and threshold = 80`).length > 0,
      5_000,
      'the 80% warning',
    );
    await evaluate();
    const [eighty] = await alertsFor('quota', `${t.clientId}:80`);
    expect(eighty!.severity).toBe('warning');
    expect(eighty!.evidence).toMatchObject({ threshold: 80, events_per_day: 10 });
    expect(await alertsFor('quota', `${t.clientId}:100`)).toEqual([]);

    expect(await post(t.key, '192.0.2.90', 2)).toBe(202);
    await waitFor(
      async () => (await db.sql`select 1 from quota_warnings where client_id = ${t.clientId} and threshold = 100`).length > 0,
      5_000,
      'the 100% warning',
    );
    await evaluate();
    const [full] = await alertsFor('quota', `${t.clientId}:100`);
    expect(full!.severity).toBe('critical');
  });

  it('raises nothing for a tenant well within its quota', async () => {
    const t = await createTenant(db.sql, 'agent', 'r7ok');
    await setLimitOverrides(db.sql, t.clientId, { eventsPerDay: 1000 });
    expect(await post(t.key, '192.0.2.91', 5)).toBe(202);
    await evaluate();
    expect((await listAlerts(db.sql, { rule: 'quota', limit: 200 })).filter((a) => a.clientId === t.clientId)).toEqual([]);
  });
});
