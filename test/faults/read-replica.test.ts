// READ_REPLICA_URL on a real primary and streaming standby of this file's own
// (test/support/replica.ts): which reads the standby serves, the lag header,
// the standby too far behind (READ_REPLICA_MAX_LAG_MS: reads go to the
// primary), the standby down (reads fall back to the primary), /ready's
// replica state through all three, and the primary down (reads still answer
// from the standby, even past the cutoff; ingest still answers 202 from Redis).
import { PassThrough, Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  createSql,
  CursorCodec,
  ensureDatabase,
  loadTenantTokenSecret,
  migrate,
  ReadRouter,
  readerUrl,
  signTenantsOn,
  tailStart,
  type Sql,
} from '@central-logger/db';
import { SseParser } from '@central-logger/tail/sse';
import { TailHub } from '@central-logger/tail';
import { startPrimaryAndStandby, type PrimaryAndStandby } from '../support/replica.js';
import { createTenant, deleteRedisKeys, event, postLogs, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from '../support/stack.js';
import { getJson, logRow, seedLogs } from '../support/reads.js';

let pg: PrimaryAndStandby;
let owner: Sql;
let standbySuper: Sql;
let stack: Stack;
let tenant: Tenant;
const DB = 'central_logger';
// small enough to reach in a test, large enough that the first test sees a lag of a second on the standby
const MAX_LAG_MS = 5_000;
const logs: string[] = [];

beforeAll(async () => {
  pg = await startPrimaryAndStandby();
  await ensureDatabase(pg.primary.url(DB));
  owner = createSql(pg.primary.url(DB), { max: 4 });
  await migrate(owner);
  tenant = await createTenant(owner, 'owner', 'replica');
  standbySuper = createSql(pg.standby.url(DB), { max: 1 });
  // the migrated database has reached the standby
  await waitFor(
    // until then the standby may not even have the table (42P01): not yet, not a failure
    async () => (await standbySuper`select count(*)::int as n from clients where id = ${tenant.clientId}`.catch(() => [{ n: 0 }]))[0]!.n === 1,
    20_000,
    'the standby to replay',
  );
  const db = { url: pg.primary.url(DB), sql: owner, drop: async () => {} };
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  stack = await startStack(
    db,
    { READ_REPLICA_URL: readerUrl(pg.standby.url(DB)), READ_REPLICA_POOL_SIZE: '2', READ_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS) },
    { log: pino({ level: 'info' }, sink) },
  );
}, 120_000);

afterAll(async () => {
  await stack?.close().catch(() => {});
  await owner?.end({ timeout: 1 }).catch(() => {});
  await standbySuper?.end({ timeout: 1 }).catch(() => {});
  await pg?.destroy();
});

const lagOf = (r: { headers: Headers }) => r.headers.get('x-data-lag-ms');
const ids = (body: { data: Array<{ event_id: string }> }) => body.data.map((l) => l.event_id);
/** GET /ready, its status and body. */
const readiness = async () => {
  const r = await fetch(`${stack.baseUrl}/ready`);
  return { status: r.status, body: (await r.json()) as { status: string; checks: Record<string, string>; replica?: string; replica_lag_ms?: number | null } };
};
const gaugeValue = async (name: string) =>
  Number(new RegExp(`${name}\\{[^}]*\\} (\\S+)`).exec(await stack.ingest.app.registry.getSingleMetricAsString(name))?.[1]);
const logged = (message: string) => logs.filter((l) => l.includes(message)).length;

describe('READ_REPLICA_URL', () => {
  it('serves list, export, stats and histogram from the standby with X-Data-Lag-Ms, and a lookup by id from the primary', async () => {
    const [first] = await seedLogs(owner, [logRow(tenant.clientId)]);
    await waitFor(async () => ids((await getJson(stack.baseUrl, '/api/v1/logs', tenant.key)).body).includes(first!.event_id), 10_000, 'replay');

    // replay paused: a row stored now is on the primary only
    await standbySuper`select pg_wal_replay_pause()`;
    try {
      const [late] = await seedLogs(owner, [logRow(tenant.clientId, { status: 'LATE' })]);
      const list = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
      expect(list.status).toBe(200);
      expect(ids(list.body)).toEqual([first!.event_id]);
      expect(Number(lagOf(list))).toBeGreaterThanOrEqual(0);
      const exported = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key, { accept: 'application/x-ndjson' });
      expect(exported.status).toBe(200);
      expect(lagOf(exported)).not.toBeNull();
      expect(String(exported.body)).not.toContain(late!.event_id);
      const stats = await getJson(stack.baseUrl, '/api/v1/stats?group_by=status', tenant.key);
      expect(stats.status).toBe(200);
      expect(lagOf(stats)).not.toBeNull();
      expect(stats.body.data.map((b: { key: string }) => b.key)).not.toContain('LATE');
      const histogram = await getJson(stack.baseUrl, '/api/v1/logs/histogram', tenant.key);
      expect(histogram.status).toBe(200);
      expect(lagOf(histogram)).not.toBeNull();
      expect(histogram.body.total).toBe(1);
      // the lookup by id reads the primary: the row is there, and no lag is claimed
      const one = await getJson(stack.baseUrl, `/api/v1/logs/${late!.event_id}`, tenant.key);
      expect(one.status).toBe(200);
      expect(lagOf(one)).toBeNull();
      // the standby falls behind while replay is paused, and the header and the gauge say so
      const lagged = await waitFor(
        async () => {
          const r = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
          return Number(lagOf(r)) >= 1_000 && r;
        },
        10_000,
        'a lag of a second',
      );
      expect(ids(lagged.body)).toEqual([first!.event_id]);
      const gauge = /read_replica_lag_seconds\{[^}]*\} (\S+)/.exec(await stack.ingest.app.registry.getSingleMetricAsString('read_replica_lag_seconds'));
      expect(Number(gauge?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      await standbySuper`select pg_wal_replay_resume()`;
    }
    // replay resumed: the row reaches the list, and a standby that has replayed all it received reports no lag
    await waitFor(async () => (await getJson(stack.baseUrl, '/api/v1/logs', tenant.key)).body.data.length === 2, 10_000, 'the paused row after replay');
    await waitFor(async () => lagOf(await getJson(stack.baseUrl, '/api/v1/stats', tenant.key)) === '0', 10_000, 'a lag of 0 once caught up');
  });

  it('sends reads to the primary while the lag is above READ_REPLICA_MAX_LAG_MS, says so in /ready, and returns to the standby once under', async () => {
    const ok = await waitFor(
      async () => {
        const r = await readiness();
        return r.body.replica === 'ok' && r;
      },
      10_000,
      'replica ok',
    );
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' }, replica: 'ok', replica_lag_ms: expect.any(Number) });
    expect(ok.body.replica_lag_ms).toBeLessThanOrEqual(MAX_LAG_MS);
    const [seen] = await seedLogs(owner, [logRow(tenant.clientId)]);
    await waitFor(async () => ids((await getJson(stack.baseUrl, '/api/v1/logs', tenant.key)).body).includes(seen!.event_id), 10_000, 'replay');

    await standbySuper`select pg_wal_replay_pause()`;
    try {
      // WAL after the pause: the standby has received what it has not replayed, so its lag grows
      const [late] = await seedLogs(owner, [logRow(tenant.clientId, { status: 'PAST_CUTOFF' })]);
      const lagging = await waitFor(
        async () => {
          const r = await readiness();
          return r.body.replica === 'lagging' && r;
        },
        20_000,
        'replica lagging',
      );
      // still ready: the primary serves those reads
      expect(lagging.status).toBe(200);
      expect(lagging.body.status).toBe('ready');
      expect(lagging.body.replica_lag_ms).toBeGreaterThan(MAX_LAG_MS);
      const list = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
      expect(list.status).toBe(200);
      expect(lagOf(list)).toBeNull();
      expect(ids(list.body)).toContain(late!.event_id);
      const stats = await getJson(stack.baseUrl, '/api/v1/stats?group_by=status', tenant.key);
      expect(lagOf(stats)).toBeNull();
      expect(stats.body.data.map((b: { key: string }) => b.key)).toContain('PAST_CUTOFF');
      expect(await gaugeValue('read_replica_up')).toBe(0);
      expect(await gaugeValue('read_replica_lag_seconds')).toBeGreaterThan(MAX_LAG_MS / 1000);
      // once when reads left, not per sample or per request
      await new Promise((r) => setTimeout(r, 1_500));
      expect(logged('read replica lag above READ_REPLICA_MAX_LAG_MS')).toBe(1);
    } finally {
      await standbySuper`select pg_wal_replay_resume()`;
    }
    await waitFor(async () => (await readiness()).body.replica === 'ok', 10_000, 'replica ok after replay');
    const back = await waitFor(
      async () => {
        const r = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
        return lagOf(r) !== null && r;
      },
      10_000,
      'reads back on the standby',
    );
    expect(Number(lagOf(back))).toBeLessThanOrEqual(MAX_LAG_MS);
    expect(await gaugeValue('read_replica_up')).toBe(1);
    expect(logged('read replica lag back under READ_REPLICA_MAX_LAG_MS')).toBe(1);
  });

  it('falls back to the primary while the standby is down, and returns to it once it answers', async () => {
    await pg.standby.stop();
    try {
      // the first read may meet the dead pool: it is retried on the primary, never a 500
      const during = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
      expect(during.status).toBe(200);
      expect(lagOf(during)).toBeNull();
      // /ready says the standby is down, and stays 200: its reads are on the primary
      const down = await waitFor(
        async () => {
          const r = await readiness();
          return r.body.replica === 'down' && r;
        },
        10_000,
        'replica down',
      );
      expect(down.status).toBe(200);
      expect(down.body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' }, replica: 'down', replica_lag_ms: null });
      const [fresh] = await seedLogs(owner, [logRow(tenant.clientId)]);
      // read-your-writes while on the primary
      const after = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
      expect(ids(after.body)).toContain(fresh!.event_id);
      expect(await stack.ingest.app.registry.getSingleMetricAsString('read_replica_up')).toMatch(/read_replica_up\{[^}]*\} 0/);
    } finally {
      await pg.standby.start();
    }
    await waitFor(async () => lagOf(await getJson(stack.baseUrl, '/api/v1/stats', tenant.key)) !== null, 15_000, 'reads back on the standby');
  });

  it('keeps answering reads from the standby and ingest with 202 while the primary is down', async () => {
    const before = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
    await pg.primary.stop();
    try {
      const list = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
      expect(list.status).toBe(200);
      expect(lagOf(list)).not.toBeNull();
      expect(ids(list.body)).toEqual(ids(before.body));
      const stats = await getJson(stack.baseUrl, '/api/v1/stats', tenant.key);
      expect(stats.status).toBe(200);
      const accepted = await postLogs(stack.baseUrl, tenant.key, [event(), event()]);
      expect(accepted.status).toBe(202);
      // the jobs wait in Redis for the primary
      expect(await stack.drained()).toBe(false);
      // cut off from its primary, the standby's lag is the age of its last replayed commit: past the cutoff,
      // reads are sent to the primary, cannot be served there, and are answered by the standby all the same
      const cutOff = await waitFor(
        async () => {
          const r = await readiness();
          return r.body.replica === 'lagging' && r;
        },
        20_000,
        'the standby past the cutoff',
      );
      expect(cutOff.status).toBe(503);
      expect(cutOff.body.checks.postgres).toBe('unreachable');
      const old = await getJson(stack.baseUrl, '/api/v1/logs', tenant.key);
      expect(old.status).toBe(200);
      expect(Number(lagOf(old))).toBeGreaterThan(MAX_LAG_MS);
      expect(ids(old.body)).toEqual(ids(before.body));
    } finally {
      await pg.primary.start();
    }
  });
});

describe('live tail catch-up on the standby', () => {
  let readSql: Sql;
  let replicaSql: Sql;
  let redis: Redis;
  const prefix = `{replicatail${Date.now().toString(36)}}`;

  beforeAll(async () => {
    readSql = createSql(readerUrl(pg.primary.url(DB)), { max: 2 });
    replicaSql = createSql(readerUrl(pg.standby.url(DB)), { max: 2 });
    for (const s of [readSql, replicaSql]) signTenantsOn(s, () => loadTenantTokenSecret(owner));
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await readSql?.end();
    await replicaSql?.end();
    await deleteRedisKeys(prefix);
  });

  it('shows why a tail never takes a position on a standby: its snapshot lists no transaction in flight, its xmin does', async () => {
    const open = await owner.reserve();
    try {
      await open`begin`;
      await open`insert into clients (id, name) values ('in_flight', 'in flight')`;
      const [{ xid }] = (await open`select pg_current_xact_id()::text as xid`) as unknown as [{ xid: string }];
      // a later transaction that completes: a snapshot lists in-flight ids below the newest completed one only
      await owner`select pg_current_xact_id()`;
      const [primary] = await owner`select pg_current_snapshot()::text as s`;
      expect(String(primary!.s).split(':')[2]!.split(',')).toContain(xid);
      // the standby knows the transaction (its xmin stops there) but does not list it as in flight
      const snap = await waitFor(
        async () => {
          const [r] = await standbySuper`select pg_current_snapshot()::text as s`;
          return BigInt(String(r!.s).split(':')[1]!) > BigInt(xid) && String(r!.s);
        },
        10_000,
        'the standby to see the transaction',
      );
      const [xmin, , xip] = snap.split(':');
      expect(BigInt(xmin!)).toBeLessThanOrEqual(BigInt(xid));
      expect(xip).toBe('');
      await open`rollback`;
    } finally {
      open.release();
    }
  });

  it('reads what the standby replayed there, the rest on the primary: every row once, in commit order', async () => {
    const clientId = 'tail_catch_up';
    await createClient(owner, clientId, 'tail');
    const router = new ReadRouter(readSql, replicaSql);
    await router.ready();
    const reads: boolean[] = [];
    const hub = new TailHub({
      redis,
      redisTarget: REDIS_URL,
      prefix,
      readSql,
      router,
      cursors: new CursorCodec('a test secret of some length, 32+'),
      maxPerKey: 5,
      maxPerClient: 20,
    });
    hub.onRead = (rows, _ms, standby) => rows > 0 && reads.push(standby);
    try {
      const start = await tailStart(readSql, clientId);
      const replayed = await seedLogs(owner, [logRow(clientId, { message: 'replayed 1' }), logRow(clientId, { message: 'replayed 2' })]);
      // a later commit of another tenant moves the standby's xmin past them once replayed
      await seedLogs(owner, [logRow(tenant.clientId)]);
      await waitFor(async () => (await standbySuper`select count(*)::int as n from workflow_logs where client_id = ${clientId}`)[0]!.n === 2, 10_000, 'replay');
      // a standby learns which transactions are still running from the primary's running-xacts record, written
      // every 15 s when idle and at each checkpoint: force one, then wait for the standby's xmin to pass the rows
      const [{ xmin }] = (await owner`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`) as unknown as [{ xmin: string }];
      await owner`checkpoint`;
      await waitFor(
        async () => BigInt((await standbySuper`select pg_snapshot_xmin(pg_current_snapshot())::text as x`)[0]!.x) >= BigInt(xmin),
        10_000,
        "the standby's xmin",
      );
      await standbySuper`select pg_wal_replay_pause()`;
      let pending: Awaited<ReturnType<typeof seedLogs>>;
      const out = new PassThrough();
      const parser = new SseParser();
      const got: string[] = [];
      out.setEncoding('utf8');
      out.on('data', (text: string) => {
        for (const m of parser.push(text)) if (m.event === 'message' && m.data) got.push(JSON.parse(m.data).message);
      });
      try {
        pending = await seedLogs(owner, [logRow(clientId, { message: 'primary only' })]);
        const cursor = hub.encodeCursor(clientId, start);
        await hub.open({ clientId, keyId: 'key_tail', filter: {}, cursor, recheck: async () => undefined, out });
        await waitFor(async () => got.length >= 3, 10_000, 'three rows');
      } finally {
        await standbySuper`select pg_wal_replay_resume()`;
      }
      await new Promise((r) => setTimeout(r, 300));
      // one transaction's rows come in event_id order; the paused commit after them
      expect(got).toHaveLength(3);
      expect(got.slice(0, 2).sort()).toEqual(replayed.map((r) => r.message).sort());
      expect(got[2]).toBe(pending![0]!.message);
      // the replayed rows came from the standby, the paused one from the primary
      expect(reads).toEqual([true, false]);

      // a position the standby has not reached is read on the primary (else the stream would move back)
      await standbySuper`select pg_wal_replay_pause()`;
      try {
        const ahead = await tailStart(readSql, clientId);
        const later = await seedLogs(owner, [logRow(clientId, { message: 'after the position' })]);
        reads.length = 0;
        const out2 = new PassThrough();
        const parser2 = new SseParser();
        const got2: string[] = [];
        out2.setEncoding('utf8');
        out2.on('data', (text: string) => {
          for (const m of parser2.push(text)) if (m.event === 'message' && m.data) got2.push(JSON.parse(m.data).message);
        });
        await hub.open({ clientId, keyId: 'key_tail', filter: {}, cursor: hub.encodeCursor(clientId, ahead), recheck: async () => undefined, out: out2 });
        await waitFor(async () => got2.length >= 1, 10_000, 'the row after the position');
        await new Promise((r) => setTimeout(r, 300));
        expect(got2).toEqual([later[0]!.message]);
        expect(reads).toEqual([false]);
      } finally {
        await standbySuper`select pg_wal_replay_resume()`;
      }
    } finally {
      await hub.close();
      router.close();
    }
  });
});
