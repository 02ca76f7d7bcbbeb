// The live tail's engine without HTTP: a reader that takes nothing, and commits landing out of order.
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  createSql,
  CursorCodec,
  loadTenantTokenSecret,
  readerUrl,
  readTail,
  signTenantsOn,
  tailStart,
  type Sql,
  type TailPosition,
} from '@central-logger/db';
import { SseParser } from '@central-logger/tail/sse';
import { TailHub, TailNotifier } from '@central-logger/tail';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { deleteRedisKeys, REDIS_URL } from './support/stack.js';
import { logRow, seedLogs } from './support/reads.js';

let db: TestDatabase;
let readSql: Sql;
let redis: Redis;
const prefix = `{tailhub${Date.now().toString(36)}}`;
const cursors = new CursorCodec('test-cursor-secret-of-at-least-32-chars');

beforeAll(async () => {
  db = await createTestDatabase();
  readSql = createSql(readerUrl(db.url), { max: 2 });
  signTenantsOn(readSql, () => loadTenantTokenSecret(db.sql));
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await readSql?.end();
  await deleteRedisKeys(prefix);
  await db?.drop();
});

const hubOf = (extra: Partial<ConstructorParameters<typeof TailHub>[0]> = {}) =>
  new TailHub({ redis, redisTarget: REDIS_URL, prefix, readSql, cursors, maxPerKey: 5, maxPerClient: 20, heartbeatMs: 60_000, ...extra });

/** Everything read from `out` as SSE messages, as it comes. */
function collect(out: PassThrough) {
  const parser = new SseParser();
  const logs: Array<Record<string, any>> = [];
  out.setEncoding('utf8');
  out.on('data', (text: string) => {
    for (const m of parser.push(text)) if (m.event === 'message' && m.data) logs.push(JSON.parse(m.data));
  });
  return { logs, lastEventId: () => parser.lastEventId };
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('TailHub', () => {
  it('holds at most its buffer for a reader that takes nothing, cuts it after the stall, and the cursor resumes without a gap', async () => {
    const clientId = 'slow_reader';
    await createClient(db.sql, clientId, 'slow');
    const hub = hubOf({ bufferBytes: 64 * 1024, stallMs: 1_000, pageSize: 50 });
    const notifier = new TailNotifier(redis, prefix, { coalesceMs: 1 });
    try {
      const out = new PassThrough();
      const stream = await hub.open({ clientId, keyId: 'key_slow', filter: {}, recheck: async () => undefined, out });
      const opening = (out.read() as Buffer).toString();
      const start = /id: (\S+)/.exec(opening)![1]!;
      // 2,000 events of 4 KB: 8 MB stored, never read
      const rows = Array.from({ length: 2000 }, (_, i) => logRow(clientId, { message: `${i} ${'x'.repeat(4000)}` }));
      for (let i = 0; i < rows.length; i += 500) await seedLogs(db.sql, rows.slice(i, i + 500));
      notifier.stored(clientId);
      await notifier.flush();
      let most = 0;
      await until(() => {
        most = Math.max(most, stream.buffered);
        return hub.size === 0;
      }, 'the stalled stream to be cut');
      expect(await stream.done).toBe('slow_reader');
      expect(most).toBeGreaterThan(32 * 1024);
      expect(most).toBeLessThanOrEqual(64 * 1024 + 8 * 1024);
      // a new stream from the opening position gets all of it, once
      const again = new PassThrough();
      const got = collect(again);
      await hub.open({ clientId, keyId: 'key_slow', filter: {}, cursor: start, recheck: async () => undefined, out: again });
      await until(() => got.logs.length >= rows.length, 'every row');
      expect(got.logs.map((l) => l.event_id).sort()).toEqual(rows.map((r) => r.event_id).sort());
    } finally {
      await hub.close();
      await notifier.close();
    }
  });

  it('sends a row whose transaction commits after a later one has been sent: positions are snapshots, not numbers', async () => {
    const clientId = 'out_of_order';
    await createClient(db.sql, clientId, 'ooo');
    const start: TailPosition = await tailStart(readSql, clientId);
    // A starts (its xid is the smaller), B starts later and commits first
    const a = await db.sql.reserve();
    const b = await db.sql.reserve();
    try {
      await a`begin`;
      await a`insert into workflow_logs (client_id, event_id, received_at, executed_at, environment, status) values (${clientId}, 'first_begun', now(), now(), 'e', 'S')`;
      await b`begin`;
      await b`insert into workflow_logs (client_id, event_id, received_at, executed_at, environment, status) values (${clientId}, 'second_begun', now(), now(), 'e', 'S')`;
      await b`commit`;
      const page1 = await readTail(readSql, clientId, {}, start, { rows: 100, bytes: 1 << 20 });
      expect(page1.entries.map((e) => e.log.event_id)).toEqual(['second_begun']);
      await a`commit`;
      // resuming from the last row's position, or from the page's end, finds A's row and nothing again
      const fromRow = await readTail(readSql, clientId, {}, page1.entries[0]!.position, { rows: 100, bytes: 1 << 20 });
      const fromEnd = await readTail(readSql, clientId, {}, page1.next, { rows: 100, bytes: 1 << 20 });
      expect(fromRow.entries.map((e) => e.log.event_id)).toEqual(['first_begun']);
      expect(fromEnd.entries.map((e) => e.log.event_id)).toEqual(['first_begun']);
      expect((await readTail(readSql, clientId, {}, fromEnd.next, { rows: 100, bytes: 1 << 20 })).entries).toEqual([]);
    } finally {
      a.release();
      b.release();
    }
  });

  it('pages through a delta in order and a position in the middle of it resumes at the next row', async () => {
    const clientId = 'paged';
    await createClient(db.sql, clientId, 'paged');
    const start = await tailStart(readSql, clientId);
    const rows = Array.from({ length: 25 }, (_, i) =>
      logRow(clientId, { event_id: `p${String(i).padStart(2, '0')}`, received_at: new Date(Date.now() + i).toISOString() }),
    );
    await seedLogs(db.sql, rows);
    const seen: string[] = [];
    let at = start;
    for (let guard = 0; guard < 10; guard++) {
      const page = await readTail(readSql, clientId, {}, at, { rows: 10, bytes: 1 << 20 });
      seen.push(...page.entries.map((e) => e.log.event_id));
      // resume from the middle of the page: the rows after it, and only those
      if (page.entries.length > 3) {
        const mid = await readTail(readSql, clientId, {}, page.entries[2]!.position, { rows: 10, bytes: 1 << 20 });
        expect(mid.entries[0]?.log.event_id).toBe(page.entries[3]!.log.event_id);
      }
      at = page.next;
      if (!page.more) break;
    }
    expect(seen).toEqual(rows.map((r) => r.event_id));
  });

  it('cuts a read at its byte budget, before fetching the rest, and the next read goes on from there', async () => {
    const clientId = 'bytes_budget';
    await createClient(db.sql, clientId, 'bytes');
    const start = await tailStart(readSql, clientId);
    const rows = Array.from({ length: 10 }, (_, i) =>
      logRow(clientId, { event_id: `b${i}`, received_at: new Date(Date.now() + i).toISOString(), message: 'x'.repeat(10_000) }),
    );
    await seedLogs(db.sql, rows);
    const first = await readTail(readSql, clientId, {}, start, { rows: 100, bytes: 25_000 });
    // 10 KB each: the third crosses 25 KB and is the last one read
    expect(first.entries.map((e) => e.log.event_id)).toEqual(['b0', 'b1', 'b2']);
    expect(first.more).toBe(true);
    const rest = await readTail(readSql, clientId, {}, first.next, { rows: 100, bytes: 1 << 20 });
    expect(rest.entries.map((e) => e.log.event_id)).toEqual(['b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9']);
    expect(rest.more).toBe(false);
    // a single row bigger than the budget still goes
    const one = await readTail(readSql, clientId, {}, start, { rows: 100, bytes: 10 });
    expect(one.entries.map((e) => e.log.event_id)).toEqual(['b0']);
  });

  it('reads a live stream at most every minReadIntervalMs, however often its tenant commits', async () => {
    await createClient(db.sql, 'busy_tenant', 'busy');
    const hub = hubOf({ minReadIntervalMs: 200 });
    let reads = 0;
    hub.onRead = () => reads++;
    try {
      const out = new PassThrough();
      collect(out);
      const stream = await hub.open({ clientId: 'busy_tenant', keyId: 'k_busy', filter: { workflow: 'matches-nothing' }, recheck: async () => undefined, out });
      const started = performance.now();
      // a commit announced every 5 ms
      while (performance.now() - started < 1_000) {
        stream.notify();
        await new Promise((r) => setTimeout(r, 5));
      }
      const elapsed = performance.now() - started;
      expect(reads).toBeGreaterThan(0);
      expect(reads).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 1);
    } finally {
      await hub.close();
    }
  });

  it('publishes nothing for a tenant no one tails', async () => {
    const notifier = new TailNotifier(redis, prefix, { coalesceMs: 1 });
    const hub = hubOf();
    try {
      await createClient(db.sql, 'tailed_one', 'x');
      notifier.stored('nobody_tails_me');
      await notifier.flush();
      expect(notifier.counts).toEqual({ lookups: 1, published: 0 });
      const out = new PassThrough();
      collect(out);
      await hub.open({ clientId: 'tailed_one', keyId: 'k', filter: {}, recheck: async () => undefined, out });
      notifier.stored('nobody_tails_me');
      notifier.stored('tailed_one');
      await notifier.flush();
      expect(notifier.counts).toEqual({ lookups: 2, published: 1 });
      out.destroy();
      await until(() => hub.size === 0, 'the stream to end');
      await new Promise((r) => setTimeout(r, 100));
      notifier.stored('tailed_one');
      await notifier.flush();
      expect(notifier.counts.published).toBe(1);
    } finally {
      await hub.close();
      await notifier.close();
    }
  });
});
