// Two real ingest-api processes and a worker, as deployed: revocation and
// client deactivation reach both within a second without a restart, and no
// full key appears anywhere in what the processes write or the database holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, generateKey, revokeKeyEverywhere, withChecksum } from '@central-logger/keys';
import { Redis } from 'ioredis';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api, heartbeat, insertLegacyKey } from './support/keys.js';
import { centralLogger, spawnIngestApi, spawnService, type ServiceProcess } from './support/child-processes.js';
import { createTenant, deleteRedisKeys, event, postLogs, REDIS_URL, testEnv, waitFor } from './support/stack.js';

let db: TestDatabase;
let env: Record<string, string>;
let p1: ServiceProcess & { baseUrl: string };
let p2: ServiceProcess & { baseUrl: string };
let worker: ServiceProcess;
let redis: Redis;
/** Every full key this file ever held: none may show up in any output. */
const keys: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db, { LOG_LEVEL: 'trace', KEY_USAGE_FLUSH_MS: '500', AUTH_FAILURE_FLUSH_MS: '200', AUTH_FAILURE_LIMIT: '10000' });
  [p1, p2] = await Promise.all([spawnIngestApi(env), spawnIngestApi(env)]);
  worker = spawnService('apps/worker/src/main.ts', env);
  await worker.waitForLine(/"worker started"/);
  redis = new Redis(REDIS_URL);
}, 60_000);
afterAll(async () => {
  await Promise.all([p1?.stop(), p2?.stop(), worker?.stop()]);
  redis?.disconnect();
  if (env) await deleteRedisKeys(env.QUEUE_PREFIX!);
  await db?.drop();
});

/** Polls both processes with `key` until each answers 401; the milliseconds each took from `since`. */
async function firstRejection(key: string, since: number): Promise<Array<{ ms: number; error: string }>> {
  return Promise.all(
    [p1, p2].map(async (p) => {
      for (;;) {
        const res = await heartbeat(p.baseUrl, key);
        if (res.status === 401) return { ms: Date.now() - since, error: res.body.error as string };
        if (Date.now() - since > 5_000) return { ms: Infinity, error: `still ${res.status}` };
      }
    }),
  );
}

describe('revocation across processes', () => {
  it('a revoked key fails on both processes within 1 s, with api_key_revoked', async () => {
    const t = await createTenant(db.sql, 'agent');
    keys.push(t.key);
    // both processes have verified (and cached) the key
    for (const p of [p1, p2]) expect((await heartbeat(p.baseUrl, t.key)).status).toBe(200);
    const { announced } = await revokeKeyEverywhere(db.sql, redis, t.record.id);
    expect(announced).toBe(true);
    const results = await firstRejection(t.key, Date.now());
    for (const r of results) {
      expect(r.error).toBe('api_key_revoked');
      expect(r.ms).toBeLessThan(1_000);
    }
  });

  it("`central-logger client deactivate` stops the client's keys on both processes within 1 s; `client activate` brings them back", async () => {
    const t = await createTenant(db.sql, 'owner');
    keys.push(t.key);
    for (const p of [p1, p2]) expect((await heartbeat(p.baseUrl, t.key)).status).toBe(200);
    const cli = await centralLogger(['client', 'deactivate', t.clientId], env);
    const since = Date.now();
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`Client ${t.clientId} deactivated`);
    expect(cli.stdout).not.toContain('Redis was unreachable');
    for (const r of await firstRejection(t.key, since)) {
      expect(r.error).toBe('client_inactive');
      expect(r.ms).toBeLessThan(1_000);
    }

    // and `client activate` brings the keys back on both processes, as fast
    const back = await centralLogger(['client', 'activate', t.clientId], env);
    const reactivated = Date.now();
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`Client ${t.clientId} activated`);
    for (const p of [p1, p2]) {
      await waitFor(async () => (await heartbeat(p.baseUrl, t.key)).status === 200, 1_000, 'the key to work again');
    }
    expect(Date.now() - reactivated).toBeLessThan(2_000);
    const audit = await db.sql`select action from admin_audit where target = ${`client:${t.clientId}`} order by id`;
    expect(audit.map((r) => r.action)).toEqual(['client.deactivate', 'client.activate']);
  });

  it("a rotation's grace period reaches both processes: the old key expires there too", async () => {
    const t = await createTenant(db.sql, 'agent');
    keys.push(t.key);
    for (const p of [p1, p2]) expect((await heartbeat(p.baseUrl, t.key)).status).toBe(200);
    const cli = await centralLogger(['api-key', 'rotate', t.record.prefix, '--grace', '1s'], env);
    expect(cli.code).toBe(0);
    const newKey = /Key:\s+(\S+)/.exec(cli.stdout)![1]!;
    keys.push(newKey);
    const results = await firstRejection(t.key, Date.now());
    for (const r of results) expect(r.error).toBe('api_key_expired');
    for (const p of [p1, p2]) expect((await heartbeat(p.baseUrl, newKey)).status).toBe(200);
  });
});

describe('no full key anywhere', () => {
  it('under a workload of good, bad, revoked, expired, legacy and rotated keys, no output and no table holds a key', async () => {
    const owner = await createTenant(db.sql, 'owner');
    const agent = await createTenant(db.sql, 'agent');
    const legacy = await insertLegacyKey(db.sql, agent.clientId);
    const expired = await createKey(db.sql, { name: 'old', role: 'agent', clientId: agent.clientId, expiresAt: new Date(Date.now() + 100), bcryptCost: 4 });
    const unknown = generateKey().key;
    const wrongSecret = withChecksum(agent.key.slice(0, 17) + generateKey().key.slice(17, 60));
    const badChecksum = agent.key.slice(0, -1) + (agent.key.endsWith('A') ? 'B' : 'A');
    const created = (await api(p1.baseUrl, 'POST', '/api/v1/keys', owner.key, { name: 'made here' })).body;
    const rotated = (await api(p2.baseUrl, 'POST', `/api/v1/keys/${created.id}/rotate`, owner.key, { grace: '1h' })).body;
    const revoked = (await api(p1.baseUrl, 'POST', '/api/v1/keys', owner.key, { name: 'revoke me' })).body;
    await api(p2.baseUrl, 'DELETE', `/api/v1/keys/${revoked.id}`, owner.key);
    keys.push(owner.key, agent.key, legacy.key, expired.key, unknown, wrongSecret, badChecksum, created.key, rotated.key, revoked.key);
    await new Promise((r) => setTimeout(r, 150));

    const requests: Array<Promise<unknown>> = [];
    for (const p of [p1, p2]) {
      for (const key of keys) {
        requests.push(postLogs(p.baseUrl, key, [event(), event({ status: 'FAILURE' })]));
        requests.push(heartbeat(p.baseUrl, undefined, { authorization: `Bearer ${key}` }));
        requests.push(heartbeat(p.baseUrl, undefined, { 'x-api-key': `ApiKey ${key}` }));
        requests.push(postLogs(p.baseUrl, key, '{"broken json', {}));
        requests.push(api(p.baseUrl, 'GET', '/api/v1/keys', key));
        requests.push(heartbeat(p.baseUrl, undefined, { authorization: `Basic ${key}` }));
        requests.push(heartbeat(p.baseUrl, `${key}x`));
      }
    }
    await Promise.all(requests);
    // let usage, failures and the worker's inserts reach Postgres, then stop everything so its last words are captured
    await waitFor(async () => Number((await db.sql`select count(*) as n from workflow_logs`)[0]!.n) > 0, 10_000, 'logs stored');
    await new Promise((r) => setTimeout(r, 700));
    await Promise.all([p1.stop(), p2.stop(), worker.stop()]);

    const output = [...p1.lines, ...p2.lines, ...worker.lines];
    expect(output.length).toBeGreaterThan(10);
    expect(output.some((l) => l.includes('"level":10') || l.includes('"level":20') || l.includes('"level":30'))).toBe(true);
    const tables = await db.sql`
      select 'api_keys' as t, row_to_json(k)::text as row from api_keys k
      union all select 'auth_failures', row_to_json(f)::text from auth_failures f
      union all select 'clients', row_to_json(c)::text from clients c
      union all select 'workflow_logs', row_to_json(w)::text from workflow_logs w`;
    expect(tables.some((r) => r.t === 'auth_failures')).toBe(true);
    const haystack = [...output, ...tables.map((r) => r.row as string)];
    for (const key of keys) {
      const found = haystack.filter((line) => line.includes(key));
      expect(found, `a full key appeared in ${found.length} line(s)`).toEqual([]);
    }
  });
});
