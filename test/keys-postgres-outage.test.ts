// Postgres away for longer than KEY_CACHE_TTL_MS: ingest keeps answering 202
// (queued in Redis) for the keys and users it verified, from their last known
// state, for up to KEY_STATE_STALE_MAX_MS; whatever it cannot verify gets
// 503 unavailable with Retry-After, never a 500; a revocation announced over
// Redis still stops its key.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestSchema, loadConfig, type IngestConfig } from '@central-logger/config';
import { createSql, CursorCodec, type Sql } from '@central-logger/db';
import { closeServer, createLogger, listen, portOf } from '@central-logger/http';
import { FailureLimiter, KeyVerifier, revokeKeyEverywhere, subscribeInvalidations } from '@central-logger/keys';
import { LogsProducer, producerConnection } from '@central-logger/queue';
import { createTenantUser, deactivateUserEverywhere, DEV_TENANT_TOKEN_SECRET, subscribeUserInvalidations, TenantTokens } from '@central-logger/tenant-auth';
import { createIngestApp } from '../apps/ingest-api/src/app.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api } from './support/keys.js';
import { createTenant, deleteRedisKeys, event, postLogs, REDIS_URL, testEnv, waitFor, type Tenant } from './support/stack.js';

const TTL_MS = 60_000;
const STALE_MAX_MS = 5 * 60_000;
const ADDRESS = '192.0.2.44';

/** A TCP relay to Postgres that the test cuts: its connections reset, new ones refused, as when the network or the server goes. */
async function relayTo(url: string): Promise<{ url: string; cut(): void }> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayed = new URL(url);
  relayed.hostname = '127.0.0.1';
  relayed.port = String((server.address() as { port: number }).port);
  return {
    url: relayed.toString(),
    cut() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe('ingest over HTTP while Postgres is unreachable', () => {
  let db: TestDatabase;
  let config: IngestConfig;
  let pool: Sql;
  let relay: Awaited<ReturnType<typeof relayTo>>;
  let server: HttpServer;
  let base: string;
  let redis: ReturnType<typeof producerConnection>;
  let producer: LogsProducer;
  let publisher: Redis;
  let verifier: KeyVerifier;
  const stops: Array<() => Promise<void>> = [];
  const clock = { now: Date.now() };

  beforeAll(async () => {
    db = await createTestDatabase();
    // limits are read again at every request, so their fallback is exercised too
    config = loadConfig(ingestSchema, testEnv(db, { LIMITS_CACHE_TTL_MS: '1' }));
    relay = await relayTo(db.url);
    pool = createSql(relay.url, { max: 4 });
    redis = producerConnection(REDIS_URL);
    publisher = new Redis(REDIS_URL);
    producer = new LogsProducer(redis, config.QUEUE_PREFIX, { attempts: 1, backoffMs: 100, timeoutMs: 2_000 });
    const limiter = new FailureLimiter(publisher, { limit: 2, windowSeconds: 60, keyPrefix: config.QUEUE_PREFIX });
    verifier = new KeyVerifier(pool, { ttlMs: TTL_MS, staleMaxMs: STALE_MAX_MS, readTimeoutMs: 2_000, limiter, now: () => clock.now });
    const tokens = new TenantTokens(pool, DEV_TENANT_TOKEN_SECRET, { ttlMs: TTL_MS, staleMaxMs: STALE_MAX_MS, readTimeoutMs: 2_000, now: () => clock.now });
    // subscribed before any key is verified: a (re)subscription forgets every state
    await Promise.all([
      new Promise<void>((resolve) => stops.push(subscribeInvalidations(REDIS_URL, verifier, () => {}, resolve))),
      new Promise<void>((resolve) => stops.push(subscribeUserInvalidations(REDIS_URL, tokens, () => {}, resolve))),
    ]);
    const app = createIngestApp({
      config,
      sql: pool,
      redis,
      producer,
      verifier,
      tokens,
      reads: { readSql: pool, cursors: new CursorCodec('a test secret of some length') },
      log: createLogger('ingest-api', 'silent'),
    });
    server = await listen(app.listener, { host: '127.0.0.1', port: 0, requestTimeoutMs: 10_000, headersTimeoutMs: 10_000 });
    base = `http://127.0.0.1:${portOf(server)}`;
    await waitFor(async () => redis.status === 'ready');
  });
  afterAll(async () => {
    if (server) await closeServer(server);
    for (const stop of stops) await stop();
    await producer?.close();
    redis?.disconnect();
    publisher?.disconnect();
    await pool?.end({ timeout: 1 });
    if (config) await deleteRedisKeys(config.QUEUE_PREFIX);
    await db?.drop();
  });

  it('keeps 202 for keys and users it verified, 503 (not 500) for others, refuses what is revoked, and stops at the stale limit', async () => {
    const [known, revoked, unknown] = await Promise.all([createTenant(db.sql, 'owner'), createTenant(db.sql), createTenant(db.sql)]);
    const seenUser = await createTenantUser(db.sql, {
      clientId: known.clientId,
      username: `seen_${known.clientId}`,
      role: 'owner',
      password: null,
      bcryptCost: 4,
      createdBy: 'test',
    });
    const retiredUser = await createTenantUser(db.sql, {
      clientId: known.clientId,
      username: `retired_${known.clientId}`,
      role: 'owner',
      password: null,
      bcryptCost: 4,
      createdBy: 'test',
    });
    const unseenUser = await createTenantUser(db.sql, {
      clientId: known.clientId,
      username: `unseen_${known.clientId}`,
      role: 'owner',
      password: null,
      bcryptCost: 4,
      createdBy: 'test',
    });
    const tokenOf = async (u: typeof seenUser) => (await new TenantTokens(db.sql, DEV_TENANT_TOKEN_SECRET, { now: () => clock.now }).issue(u)).accessToken;
    const [seenToken, retiredToken, unseenToken] = await Promise.all([tokenOf(seenUser), tokenOf(retiredUser), tokenOf(unseenUser)]);
    const me = (token: string) => api(base, 'GET', '/api/v1/auth/me', undefined, undefined, { authorization: `Bearer ${token}` });
    const ingest = (t: Tenant) => postLogs(base, t.key, [event(), event()], { 'x-forwarded-for': ADDRESS });

    expect((await ingest(known)).status).toBe(202);
    expect((await ingest(revoked)).status).toBe(202);
    expect((await me(seenToken)).status).toBe(200);
    expect((await me(retiredToken)).status).toBe(200);
    const queued = await producer.queue.getJobCounts('waiting', 'prioritized', 'delayed');

    relay.cut();
    clock.now += 2 * TTL_MS;

    // a key verified before: its last known state answers; the events are queued in Redis
    const during = await ingest(known);
    expect(during.status).toBe(202);
    expect(during.body.accepted).toBe(2);
    const after = await producer.queue.getJobCounts('waiting', 'prioritized', 'delayed');
    expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(Object.values(queued).reduce((a, b) => a + b, 0) + 1);
    expect(verifier.staleAnswers).toBeGreaterThan(0);
    // and again, answered at once from the same state
    expect((await ingest(known)).status).toBe(202);
    expect((await api(base, 'POST', '/api/v1/heartbeat', known.key, { timestamp: new Date().toISOString() })).status).toBe(200);
    // the client's limits: the last known (read again at every request here, and failing)
    const limits = await api(base, 'GET', '/api/v1/limits', known.key);
    expect(limits.status).toBe(200);
    // (the usable keys are counted in Postgres: unknown while it is down)
    expect((limits.body as { usage: { keys: unknown } }).usage.keys).toBeNull();

    // a key this process never verified: 503 with Retry-After, not 500
    const refused = await ingest(unknown);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: 'unavailable' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // nor is an outage counted against the address (its limit is 2 failures): no 429
    for (let i = 0; i < 3; i++) expect((await ingest(unknown)).status).toBe(503);
    // the OTLP route authenticates the same way
    const otlp = await fetch(`${base}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': unknown.key },
      body: '{"resourceLogs":[]}',
    });
    expect(otlp.status).toBe(503);

    // revoked by the admin (who still reaches Postgres) and announced over Redis: the key stops here too
    await revokeKeyEverywhere(db.sql, publisher, revoked.record.id);
    const stopped = await waitFor(
      async () => {
        const r = await ingest(revoked);
        return r.status !== 202 && r;
      },
      5_000,
      'the revocation to arrive',
    );
    expect(stopped.status).toBe(503);
    expect(stopped.body.error).toBe('unavailable');

    // tenant users: a user seen before keeps working; one never seen, or deactivated meanwhile, does not
    expect((await me(seenToken)).status).toBe(200);
    const unseen = await me(unseenToken);
    expect(unseen.status).toBe(503);
    expect(unseen.body.error).toBe('unavailable');
    await deactivateUserEverywhere(db.sql, publisher, retiredUser.id);
    const retired = await waitFor(
      async () => {
        const r = await me(retiredToken);
        return r.status !== 200 && r;
      },
      5_000,
      'the deactivation to arrive',
    );
    expect(retired.status).toBe(503);

    // past KEY_STATE_STALE_MAX_MS since Postgres last confirmed it, the state is no longer trusted
    clock.now += STALE_MAX_MS;
    const tooOld = await ingest(known);
    expect(tooOld.status).toBe(503);
    expect(tooOld.body.error).toBe('unavailable');
    expect((await me(seenToken)).status).toBe(503);
  });
});

describe('KeyVerifier against a database that stops taking connections', () => {
  let db: TestDatabase;
  let maintenance: postgres.Sql;
  let name: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const url = new URL(db.url);
    name = url.pathname.slice(1);
    url.pathname = '/postgres';
    maintenance = postgres(url.toString(), { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await maintenance?.unsafe(`alter database ${name} allow_connections true`);
    await maintenance?.end();
    await db?.drop();
  });

  it('answers verified keys from their state, refuses the rest with 503, and reads again once Postgres is back', async () => {
    const [known, doubted, unknown] = await Promise.all([createTenant(db.sql), createTenant(db.sql), createTenant(db.sql)]);
    const clock = { now: Date.now() };
    const verifier = new KeyVerifier(db.sql, { ttlMs: TTL_MS, staleMaxMs: STALE_MAX_MS, readTimeoutMs: 1_000, now: () => clock.now });
    await verifier.authenticate(known.key, ADDRESS);
    await verifier.authenticate(doubted.key, ADDRESS);

    await maintenance.unsafe(`alter database ${name} allow_connections false`);
    await maintenance.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
    clock.now += 2 * TTL_MS;

    await expect(verifier.authenticate(known.key, ADDRESS)).resolves.toMatchObject({ clientId: known.clientId });
    await expect(verifier.authenticate(unknown.key, ADDRESS)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    // an announced change to a key (or its client) is not answered from the old state
    verifier.invalidate({ clientId: doubted.clientId });
    await expect(verifier.authenticate(doubted.key, ADDRESS)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    await expect(verifier.authenticate(known.key, ADDRESS)).resolves.toMatchObject({ clientId: known.clientId });
    // so is every key after an `all` (the subscriber reconnected: messages may have been lost)
    verifier.invalidate({ all: true });
    await expect(verifier.authenticate(known.key, ADDRESS)).rejects.toMatchObject({ code: 'unavailable' });

    await maintenance.unsafe(`alter database ${name} allow_connections true`);
    // postgres.js reconnects after a backoff of its own
    await waitFor(
      async () =>
        verifier.authenticate(unknown.key, ADDRESS).then(
          () => true,
          () => false,
        ),
      30_000,
      'Postgres to answer again',
    );
    await expect(verifier.authenticate(known.key, ADDRESS)).resolves.toMatchObject({ clientId: known.clientId });
    await expect(verifier.authenticate(doubted.key, ADDRESS)).resolves.toMatchObject({ clientId: doubted.clientId });
    await verifier.close();
  });
});
