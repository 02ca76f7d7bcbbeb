// The request bodies ingest-api holds at once are bounded, per client and in
// total: one tenant streaming large bodies on many connections gets 429 once it
// holds its share, others keep getting 202, and only a process full of bodies
// answers 503; whatever a request held is given back when it ends, cut off or not.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ingestSchema, loadConfig } from '@central-logger/config';
import { BodyBudget, portOf } from '@central-logger/http';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { metric } from './support/metrics.js';
import { createTenant, event, postLogs, startStack, testEnv, waitFor, type Stack, type Tenant } from './support/stack.js';

describe('BodyBudget', () => {
  it('refuses an owner past its share with 429 and everyone past the total with 503; a release gives back all a hold took', () => {
    const budget = new BodyBudget({ maxBytes: 100, maxPerOwnerBytes: 60, retryAfterS: 2 });
    const a = budget.hold('a');
    a.take(50);
    expect(() => a.take(20)).toThrow(expect.objectContaining({ code: 'rate_limited', status: 429, headers: expect.objectContaining({ 'Retry-After': '2' }) }));
    const b = budget.hold('b');
    b.take(40);
    // b is within its share, but a and b together would pass the total
    expect(() => b.take(20)).toThrow(expect.objectContaining({ code: 'unavailable', status: 503 }));
    expect(budget.heldBytes).toBe(90);
    a.release();
    a.release(); // twice: nothing more given back
    expect(budget.heldBytes).toBe(40);
    b.take(20);
    expect(budget.heldBytes).toBe(60);
    b.release();
    expect(budget.heldBytes).toBe(0);
  });
});

describe('in-flight request bodies (MAX_INFLIGHT_BODY_BYTES, MAX_INFLIGHT_BODY_BYTES_PER_CLIENT)', () => {
  let db: TestDatabase;
  let stack: Stack;
  let a: Tenant;
  let b: Tenant;
  let c: Tenant;
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, {
      MAX_BODY_BYTES: '200000',
      MAX_DECOMPRESSED_BYTES: '200000',
      MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: '300000',
      MAX_INFLIGHT_BODY_BYTES: '500000',
    });
    a = await createTenant(db.sql, 'agent', 'bodies-a');
    b = await createTenant(db.sql, 'agent', 'bodies-b');
    c = await createTenant(db.sql, 'agent', 'bodies-c');
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await stack?.close();
    await db?.drop();
  });

  const held = () => metric(`http://127.0.0.1:${portOf(stack.ingest.metricsServer)}/metrics`, 'ingest_body_bytes_in_flight');

  /** A POST whose body stops after `sent` of its declared `declared` bytes: the server holds what it read. */
  function stalledPost(key: string, declared: number, sent: number): Socket {
    const { port } = new URL(stack.baseUrl);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.on('error', () => {});
    socket.write(
      `POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n` +
        `{"logs": [${' '.repeat(sent - 10)}`,
    );
    open.push(socket);
    return socket;
  }

  it('holds one client to its share (429, the connection closed), leaves the others theirs, and answers 503 only when the process is full; ends of requests give the bytes back', async () => {
    // warm the keys (bcrypt once each) so that what follows is about bodies alone
    for (const t of [a, b, c]) expect((await postLogs(stack.baseUrl, t.key, event())).status).toBe(202);

    stalledPost(a.key, 190_000, 150_000);
    stalledPost(a.key, 190_000, 150_000);
    await waitFor(async () => (await held()) === 300_000, 10_000, 'both of A’s bodies to be read');

    // A holds its share: a third body of A's is refused as it arrives, with Retry-After; B is unaffected
    const refused = await postLogs(stack.baseUrl, a.key, event({ message: 'x'.repeat(20_000) }));
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'rate_limited', request_id: expect.any(String) });
    expect(refused.headers.get('retry-after')).toBe('5');
    expect((await postLogs(stack.baseUrl, b.key, event({ message: 'b is fine' }))).status).toBe(202);
    expect(await held()).toBe(300_000);

    // B holds 150,000 more: 450,000 of 500,000, so C's 60 KB body no longer fits anywhere
    const bStalled = stalledPost(b.key, 190_000, 150_000);
    await waitFor(async () => (await held()) === 450_000, 10_000, 'B’s body to be read');
    const full = await postLogs(stack.baseUrl, c.key, event({ message: 'c'.repeat(60_000) }));
    expect(full.status).toBe(503);
    expect(full.body).toMatchObject({ error: 'unavailable' });
    expect(full.headers.get('retry-after')).toBe('5');

    // cut-off requests give back what they held: C's big body fits again
    bStalled.destroy();
    await waitFor(async () => (await held()) === 300_000, 10_000, 'B’s cut-off body to be given back');
    expect((await postLogs(stack.baseUrl, c.key, event({ message: 'c'.repeat(60_000) }))).status).toBe(202);
    for (const s of open) s.destroy();
    await waitFor(async () => (await held()) === 0, 10_000, 'every body to be given back');
    // a body is read only for a verified key: a stalled body under a key that does not exist holds nothing
    const unknown = stalledPost('cl_live_0000000000000000000000000000000000000000', 190_000, 150_000);
    await new Promise<void>((resolve) => unknown.once('data', () => resolve()));
    expect(await held()).toBe(0);
    // and A, no longer holding anything, is served again
    expect((await postLogs(stack.baseUrl, a.key, event({ message: 'x'.repeat(20_000) }))).status).toBe(202);
  });

  it('refuses settings where one client could fill the process, or where a body within the limits could never fit', () => {
    const env = testEnv(db);
    expect(() => loadConfig(ingestSchema, { ...env, MAX_INFLIGHT_BODY_BYTES: '1000000', MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: '2000000' })).toThrow(ConfigError);
    expect(() => loadConfig(ingestSchema, { ...env, MAX_BODY_BYTES: '1000000', MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: '500000' })).toThrow(
      /MAX_INFLIGHT_BODY_BYTES_PER_CLIENT/,
    );
  });
});
