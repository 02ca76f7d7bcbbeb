// The request bodies ingest-api holds at once are bounded, per client and in
// total: one tenant streaming large bodies on many connections gets 429 once it
// holds its share, others keep getting 202; a process full of bodies cuts the
// largest holder (429) for a client below its fair share and answers 503 only to
// a client at its share or when nothing can be reclaimed; whatever a request held
// is given back when it ends, cut off or not.
import { connect, type Socket } from 'node:net';
import { constants, gzipSync } from 'node:zlib';
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

  /** A hold of `owner` whose body is being read, taking `bytes`; `cut` gets the error its revoke cuts it with. */
  function reading(budget: BodyBudget, owner: string, bytes: number) {
    const hold = budget.hold(owner);
    const cut: unknown[] = [];
    hold.onRevoke((err) => cut.push(err));
    hold.take(bytes);
    return { hold, cut };
  }
  const rateLimited = expect.objectContaining({
    code: 'rate_limited',
    status: 429,
    headers: expect.objectContaining({ 'Retry-After': '2', Connection: 'close' }),
  });

  it('when the process is full, cuts the largest holder above its fair share (429) for a requester below its own', () => {
    const budget = new BodyBudget({ maxBytes: 100, maxPerOwnerBytes: 50, retryAfterS: 2 });
    const a = reading(budget, 'a', 40);
    const b = reading(budget, 'b', 40);
    // c holds nothing, its fair share is 100 / 3: a and b both hold more; a and b tie, a has held longest
    const c = reading(budget, 'c', 20).hold;
    expect(budget.heldBytes).toBe(100);
    expect(a.cut).toEqual([]);
    c.take(10);
    expect(a.cut).toEqual([rateLimited]);
    expect(b.cut).toEqual([]);
    expect(budget.heldBytes).toBe(70);
    expect(() => a.hold.take(1)).toThrow(rateLimited);
    // a's bytes went back with the revoke: its release gives back nothing more, twice
    a.hold.release();
    a.hold.release();
    expect(budget.heldBytes).toBe(70);
    expect(a.cut).toHaveLength(1);
    // b, holding 40 of its share of 100 / 3 once d holds the rest, is refused 503 as before, and cuts nobody
    const d = reading(budget, 'd', 30);
    expect(budget.heldBytes).toBe(100);
    expect(() => b.hold.take(5)).toThrow(expect.objectContaining({ code: 'unavailable', status: 503 }));
    // so is a requester at its share while another holds more: d (35) is refused, b (40) is not cut
    c.release();
    d.hold.take(5);
    const e = reading(budget, 'e', 25);
    expect(budget.heldBytes).toBe(100);
    expect(() => d.hold.take(5)).toThrow(expect.objectContaining({ code: 'unavailable', status: 503 }));
    expect([b.cut, d.cut, e.cut]).toEqual([[], [], []]);
    expect(budget.heldBytes).toBe(100);
  });

  it('revokes the largest hold of the largest holder first, only as many as make room, and only holds still being read', () => {
    const budget = new BodyBudget({ maxBytes: 100, maxPerOwnerBytes: 60, retryAfterS: 2 });
    const a1 = reading(budget, 'a', 20);
    const a2 = reading(budget, 'a', 35);
    const b = reading(budget, 'b', 45);
    // a (55) holds the most; its 35 alone makes room for c's 30
    const c = budget.hold('c');
    c.take(30);
    expect(a2.cut).toEqual([rateLimited]);
    expect(a1.cut).toEqual([]);
    expect(b.cut).toEqual([]);
    expect(budget.heldBytes).toBe(95);
    // a body read whole is not revoked: b's is, and a's 20 still being read is below the share
    b.hold.offRevoke();
    expect(() => c.take(10)).toThrow(expect.objectContaining({ code: 'unavailable', status: 503 }));
    expect(b.cut).toEqual([]);
    expect(a1.cut).toEqual([]);
    expect(budget.heldBytes).toBe(95);
    b.hold.release();
    a1.hold.release();
    a2.hold.release();
    c.release();
    expect(budget.heldBytes).toBe(0);
  });

  it('revokes nothing when what it could revoke would not make room', () => {
    const budget = new BodyBudget({ maxBytes: 100, maxPerOwnerBytes: 60, retryAfterS: 2 });
    const a = reading(budget, 'a', 20);
    budget.hold('a').take(20); // read whole: not revocable
    budget.hold('b').take(60); // likewise
    // a and b hold more than the share of 100 / 3, but all c could have is a's 20, not the 30 it needs
    const c = budget.hold('c');
    expect(() => c.take(30)).toThrow(expect.objectContaining({ code: 'unavailable', status: 503 }));
    expect(a.cut).toEqual([]);
    expect(budget.heldBytes).toBe(100);
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

  const cuts = () => metric(`http://127.0.0.1:${portOf(stack.ingest.metricsServer)}/metrics`, 'ingest_body_cuts_total');
  const held = () => metric(`http://127.0.0.1:${portOf(stack.ingest.metricsServer)}/metrics`, 'ingest_body_bytes_in_flight');

  /**
   * A POST whose body stops after `sent` of its declared `declared` bytes: the server holds what it read.
   * With `gzip`, the `sent` bytes are gzipped and flushed without ending the stream, so gunzip yields them all.
   */
  function stalledPost(key: string, declared: number, sent: number, gzip = false): Socket {
    const { port } = new URL(stack.baseUrl);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.on('error', () => {});
    const text = `{"logs": [${' '.repeat(sent - 10)}`;
    socket.write(
      `POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\n` +
        `${gzip ? 'Content-Encoding: gzip\r\n' : ''}Content-Length: ${declared}\r\n\r\n`,
    );
    socket.write(gzip ? gzipSync(text, { finishFlush: constants.Z_SYNC_FLUSH }) : text);
    open.push(socket);
    return socket;
  }

  /** What the server sends on `socket`, as it arrives; `closed` resolves with all of it once the connection is closed. */
  function answerOn(socket: Socket): { text: string; closed: Promise<string> } {
    const answer = { text: '', closed: new Promise<string>((resolve) => socket.once('close', () => resolve(answer.text))) };
    socket.on('data', (data: Buffer) => {
      answer.text += data.toString('latin1');
    });
    return answer;
  }

  it('holds one client to its share (429, the connection closed), leaves the others theirs, and answers 503 only when the process is full and the client holds its fair share; ends of requests give the bytes back', async () => {
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

    // B holds 170,000 more and C 20,000: 490,000 of 500,000, so B's 20 KB body no longer fits anywhere. A full
    // process makes room for a client below its fair share (500,000 / 3 clients) by cutting whoever holds the most
    // (the next test), but B holds more than its share: 503 for B, although A holds more still, and nobody is cut
    const bStalled = stalledPost(b.key, 190_000, 85_000);
    stalledPost(b.key, 190_000, 85_000);
    stalledPost(c.key, 190_000, 20_000);
    await waitFor(async () => (await held()) === 490_000, 10_000, 'B’s and C’s bodies to be read');
    const full = await postLogs(stack.baseUrl, b.key, event({ message: 'b'.repeat(20_000) }));
    expect(full.status).toBe(503);
    expect(full.body).toMatchObject({ error: 'unavailable' });
    expect(full.headers.get('retry-after')).toBe('5');
    expect(await held()).toBe(490_000);

    // cut-off requests give back what they held: C's big body fits again
    bStalled.destroy();
    await waitFor(async () => (await held()) === 405_000, 10_000, 'B’s cut-off body to be given back');
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

  it('when the process is full, serves a client below its fair share by cutting the largest holder above its own (429, the connection closed)', async () => {
    // one attacker with the keys of several clients must not stall everyone: here A and B stall bodies until the
    // process is nearly full, A holding the most, its largest body gzipped (cut while gunzip waits for more)
    for (const gzip of [false, true]) {
      const aLargest = answerOn(stalledPost(a.key, 190_000, 150_000, gzip));
      const aOther = answerOn(stalledPost(a.key, 190_000, 120_000));
      const bStalled = answerOn(stalledPost(b.key, 190_000, 180_000));
      await waitFor(async () => (await held()) === 450_000, 10_000, 'A’s and B’s bodies to be read');

      // C's 60 KB body does not fit, but C holds nothing: A, above its share of 500,000 / 3 and holding the most
      // (270,000), gives back its largest body, just enough (B, above its share too, keeps its own)
      expect((await postLogs(stack.baseUrl, c.key, event({ message: 'c'.repeat(60_000) }))).status).toBe(202);
      const cut = await aLargest.closed;
      expect(cut).toMatch(/^HTTP\/1\.1 429 /);
      expect(cut).toMatch(/\r\nretry-after: 5\r\n/i);
      expect(cut).toMatch(/\r\nconnection: close\r\n/i);
      expect(cut).toContain('"error":"rate_limited"');
      // what the cut request held went back once, C's body when it was queued; the cut is counted
      expect(await held()).toBe(300_000);
      expect(await cuts()).toBe(gzip ? 2 : 1);
      expect([aOther.text, bStalled.text]).toEqual(['', '']);

      for (const s of open) s.destroy();
      await waitFor(async () => (await held()) === 0, 10_000, 'every body to be given back');
    }
  });

  it('refuses settings where one client could fill the process, or where a body within the limits could never fit', () => {
    const env = testEnv(db);
    expect(() => loadConfig(ingestSchema, { ...env, MAX_INFLIGHT_BODY_BYTES: '1000000', MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: '2000000' })).toThrow(ConfigError);
    expect(() => loadConfig(ingestSchema, { ...env, MAX_BODY_BYTES: '1000000', MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: '500000' })).toThrow(
      /MAX_INFLIGHT_BODY_BYTES_PER_CLIENT/,
    );
  });
});
