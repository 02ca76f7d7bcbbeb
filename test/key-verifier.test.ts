import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, listen, closeServer, portOf } from '@central-logger/http';
import { ingestSchema, loadConfig } from '@central-logger/config';
import { KeyVerifier } from '@central-logger/keys';
import { LogsProducer, producerConnection } from '@central-logger/queue';
import { createIngestApp } from '../apps/ingest-api/src/app.js';
import { CursorCodec } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, deleteRedisKeys, event, postLogs, testEnv, waitFor } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('KeyVerifier cache', () => {
  it('answers a key seen recently without the database (so without bcrypt either)', async () => {
    const t = await createTenant(db.sql, 'agent');
    const verifier = new KeyVerifier(db.sql, { ttlMs: 60_000 });
    expect((await verifier.authenticate(t.key, '127.0.0.1')).clientId).toBe(t.clientId);
    // with the row gone, only the cache can still answer
    await db.sql`delete from api_keys where id = ${t.record.id}`;
    expect((await verifier.authenticate(t.key, '127.0.0.1')).clientId).toBe(t.clientId);
    verifier.invalidate({ keyId: t.record.id });
    await expect(verifier.authenticate(t.key, '127.0.0.1')).rejects.toMatchObject({ code: 'invalid_api_key' });
  });

  it('looks a key up again once its TTL has passed', async () => {
    let now = 1_000_000;
    const t = await createTenant(db.sql, 'agent');
    const verifier = new KeyVerifier(db.sql, { ttlMs: 1_000, now: () => now });
    await verifier.authenticate(t.key, '127.0.0.1');
    await db.sql`update api_keys set revoked_at = now(), is_active = false where id = ${t.record.id}`;
    now += 500;
    await expect(verifier.authenticate(t.key, '127.0.0.1')).resolves.toBeTruthy();
    now += 1_000;
    await expect(verifier.authenticate(t.key, '127.0.0.1')).rejects.toMatchObject({ code: 'api_key_revoked' });
  });

  it('verifies concurrent first uses of one key with a single lookup', async () => {
    const t = await createTenant(db.sql, 'agent');
    const verifier = new KeyVerifier(db.sql);
    const results = await Promise.all(Array.from({ length: 20 }, () => verifier.authenticate(t.key, '127.0.0.1')));
    expect(new Set(results.map((r) => r.keyId))).toEqual(new Set([t.record.id]));
    expect(verifier.size).toBe(1);
  });
});

describe('request logs', () => {
  it("carry the request id, the key prefix and a failure's error code, never the key", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const config = loadConfig(ingestSchema, testEnv(db));
    const redis = producerConnection(config.REDIS_URL);
    const producer = new LogsProducer(redis, config.QUEUE_PREFIX, { attempts: 1, backoffMs: 100, timeoutMs: 2_000 });
    const log = createLogger('ingest-api', 'debug', sink);
    const app = createIngestApp({
      config,
      sql: db.sql,
      redis,
      producer,
      verifier: new KeyVerifier(db.sql),
      reads: { readSql: db.sql, cursors: new CursorCodec('a test secret of some length') },
      log,
    });
    const server = await listen(app.listener, { host: '127.0.0.1', port: 0, requestTimeoutMs: 5_000, headersTimeoutMs: 5_000 });
    try {
      await waitFor(async () => redis.status === 'ready');
      const t = await createTenant(db.sql, 'agent');
      const base = `http://127.0.0.1:${portOf(server)}`;
      const ok = await postLogs(base, t.key, event());
      const bad = await postLogs(base, `${t.key.slice(0, -3)}zzz`, event());
      expect([ok.status, bad.status]).toEqual([202, 401]);
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'request');
      expect(records).toHaveLength(2);
      expect(records[0]).toMatchObject({ status: 202, key_prefix: t.record.prefix, request_id: ok.headers.get('x-request-id') });
      expect(records[1]).toMatchObject({ status: 401, error: bad.body.error, request_id: bad.headers.get('x-request-id') });
      expect(bad.body.error).toMatch(/api_key/);
      expect(records[0]).not.toHaveProperty('error');
      const secret = t.key.slice(t.record.prefix.length + 1);
      for (const line of lines) expect(line).not.toContain(secret.slice(0, 20));
    } finally {
      await closeServer(server);
      await producer.close();
      redis.disconnect();
      await deleteRedisKeys(config.QUEUE_PREFIX);
    }
  });
});
