import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, type Stack, type Tenant } from './support/stack.js';
import { getJson } from './support/reads.js';
import { openTail, type TailClient } from './support/sse.js';

let db: TestDatabase;
let stack: Stack;
let owner: Tenant;
let agent: Tenant;
const open: TailClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {
    CURSOR_SECRET: 'test-cursor-secret-of-at-least-32-chars',
    TAIL_HEARTBEAT_MS: '300',
    MAX_TAILS_PER_KEY: '50',
    MAX_TAILS_PER_CLIENT: '50',
  });
  owner = await createTenant(db.sql, 'owner', 'tail');
  agent = await createTenant(db.sql, 'agent', 'tail');
});
afterAll(async () => {
  for (const t of open) t.close();
  await stack?.close();
  await db?.drop();
});

async function tail(params: Record<string, string | undefined> = {}, headers: Record<string, string> = {}, key = owner.key) {
  const t = await openTail(stack.baseUrl, key, params, headers);
  open.push(t);
  return t;
}

async function send(events: Record<string, unknown>[], key = agentKeyOf(owner)): Promise<string[]> {
  const res = await postLogs(stack.baseUrl, await key, events);
  expect(res.status).toBe(202);
  return res.body.ids as string[];
}

// the owner's tenant gets an agent key of its own, to write with
const agentKeys = new Map<string, Promise<string>>();
function agentKeyOf(t: Tenant): Promise<string> {
  let k = agentKeys.get(t.clientId);
  if (!k) {
    k = import('@central-logger/keys').then(
      async ({ createKey }) => (await createKey(db.sql, { name: 'writer', role: 'agent', clientId: t.clientId, bcryptCost: 4 })).key,
    );
    agentKeys.set(t.clientId, k);
  }
  return k;
}

const logCount = (n: number) => (t: TailClient) => () => t.logs().length >= n;

describe('GET /api/v1/logs/tail', () => {
  it('streams each event once stored, exactly as GET /api/v1/logs/:id returns it, with a resumable id', async () => {
    const t = await tail();
    expect(t.status).toBe(200);
    expect(t.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(t.headers.get('cache-control')).toContain('no-store');
    const ids = await send([event({ message: 'first', metadata: { b: 1, a: { z: 2, y: [1, 'x'] } } }), event({ message: 'second', level: 'warn' })]);
    await t.until(logCount(2)(t), 10_000, 'two events');
    const got = t.logs();
    expect(got.map((l) => l.event_id).sort()).toEqual([...ids].sort());
    for (const log of got) {
      const one = await getJson(stack.baseUrl, `/api/v1/logs/${log.event_id}`, owner.key);
      expect(log).toEqual(one.body);
    }
    const withData = t.messages.filter((m) => m.data !== '');
    expect(withData.every((m) => m.hasId && m.lastEventId.length > 0)).toBe(true);
    expect(new Set(withData.map((m) => m.lastEventId)).size).toBe(2);
    t.close();
  });

  it('sends nothing stored before it opened, and a comment heartbeat with the position', async () => {
    await send([event({ message: 'before' })]);
    await new Promise((r) => setTimeout(r, 300));
    const t = await tail();
    await t.until((m) => m.filter((x) => x.comments.includes('heartbeat')).length >= 2, 10_000, 'two heartbeats');
    expect(t.logs()).toEqual([]);
    const beats = t.messages.filter((m) => m.comments.includes('heartbeat'));
    expect(beats.every((b) => b.hasId && b.data === '')).toBe(true);
    t.close();
  });

  it('applies the filters of GET /api/v1/logs', async () => {
    const t = await tail({ level: 'error', workflow: 'billing', 'metadata.region': 'eu', q: 'CARD' });
    await send([
      event({ workflow: 'billing', level: 'error', message: 'card declined', metadata: { region: 'eu' } }),
      event({ workflow: 'billing', level: 'error', message: 'card declined', metadata: { region: 'us' } }),
      event({ workflow: 'emails', level: 'error', message: 'card declined', metadata: { region: 'eu' } }),
      event({ workflow: 'billing', level: 'info', message: 'card declined', metadata: { region: 'eu' } }),
      event({ workflow: 'billing', level: 'error', message: 'timeout', metadata: { region: 'eu' } }),
    ]);
    // a later event that matches: once it is there, every earlier one has been read
    await send([event({ workflow: 'billing', level: 'error', message: 'Card again', metadata: { region: 'eu' } })]);
    await t.until(logCount(2)(t), 10_000, 'the matching events');
    await new Promise((r) => setTimeout(r, 300));
    expect(t.logs().map((l) => l.message)).toEqual(['card declined', 'Card again']);
    t.close();
  });

  it('filters by trace_id like the read API', async () => {
    const trace = 'ab'.repeat(16);
    const t = await tail({ trace_id: trace.toUpperCase() });
    await send([event({ message: 'other', metadata: { trace_id: 'cd'.repeat(16) } }), event({ message: 'mine', metadata: { trace_id: trace } })]);
    await t.until(logCount(1)(t), 10_000, 'the traced event');
    expect(t.logs().map((l) => l.message)).toEqual(['mine']);
    t.close();
  });

  it('resumes with Last-Event-ID with no gap and no repeat while events keep arriving', async () => {
    const first = await tail({ environment: 'resume' });
    const sent: string[] = [];
    let sending = true;
    const producer = (async () => {
      for (let i = 0; sending && i < 200; i++) {
        sent.push(...(await send([event({ environment: 'resume', message: `n${i}` }), event({ environment: 'resume', message: `n${i}b` })])));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await first.until(logCount(20)(first), 15_000, 'some events');
    first.close();
    const lastId = first.lastEventId();
    const before = first.logs().map((l) => l.event_id);
    // events keep being stored while no one is connected
    await new Promise((r) => setTimeout(r, 300));
    const second = await tail({ environment: 'resume' }, { 'last-event-id': lastId });
    await new Promise((r) => setTimeout(r, 300));
    sending = false;
    await producer;
    await second.until(() => before.length + second.logs().length >= sent.length, 20_000, 'every event sent');
    await new Promise((r) => setTimeout(r, 300));
    const all = [...before, ...second.logs().map((l) => l.event_id)];
    expect(all.length).toBe(sent.length);
    expect(new Set(all)).toEqual(new Set(sent));
    second.close();
  });

  it('resumes with ?cursor= too, and the header wins over it', async () => {
    const t = await tail({ environment: 'cursor' });
    await send([event({ environment: 'cursor', message: 'c1' })]);
    await t.until(logCount(1)(t), 10_000, 'c1');
    const afterC1 = t.lastEventId();
    t.close();
    await send([event({ environment: 'cursor', message: 'c2' })]);
    const byQuery = await tail({ environment: 'cursor', cursor: afterC1 });
    await byQuery.until(logCount(1)(byQuery), 10_000, 'c2');
    expect(byQuery.logs().map((l) => l.message)).toEqual(['c2']);
    const afterC2 = byQuery.lastEventId();
    byQuery.close();
    await send([event({ environment: 'cursor', message: 'c3' })]);
    const both = await tail({ environment: 'cursor', cursor: afterC1 }, { 'last-event-id': afterC2 });
    await both.until(logCount(1)(both), 10_000, 'c3');
    await new Promise((r) => setTimeout(r, 300));
    expect(both.logs().map((l) => l.message)).toEqual(['c3']);
    both.close();
  });

  it('needs a reader or owner: an agent key is 403', async () => {
    const t = await tail({}, {}, agent.key);
    expect(t.status).toBe(403);
    expect(t.error).toMatchObject({ error: 'insufficient_scope' });
  });

  it.each([
    [{ level: 'loud' }, 'level'],
    [{ from: '2026-01-01' }, 'from'],
    [{ limit: '5' }, 'limit'],
    [{ nope: '1' }, 'nope'],
    [{ 'metadata.a b': 'x' }, 'metadata.a b'],
    [{ q: 'a\u0000b' }, 'q'],
    [{ cursor: 'garbage' }, 'cursor'],
    [{ cursor: 'x'.repeat(9000) }, 'cursor'],
  ])('refuses bad parameters %j with 400 naming them', async (params, field) => {
    const t = await tail(params as Record<string, string>);
    expect(t.status).toBe(400);
    expect(t.error).toMatchObject({ error: 'validation_failed' });
    expect(t.error.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(t.error.request_id).toMatch(/^req_/);
  });

  it('refuses a page cursor of GET /api/v1/logs as a tail position', async () => {
    await send([event(), event()]);
    const page = await getJson(stack.baseUrl, '/api/v1/logs?limit=1', owner.key);
    expect(page.body.next_cursor).toEqual(expect.any(String));
    const t = await tail({}, { 'last-event-id': page.body.next_cursor });
    expect(t.status).toBe(400);
  });
});
