import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, type Stack } from './support/stack.js';

const DEPTH = 4; // MAX_METADATA_DEPTH here
let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_METADATA_DEPTH: String(DEPTH) }, { worker: false });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

/** 4 M of `[` then 4 M of `]`: 8 MB that gzip to about 8 KB. JSON.parse of it blocks for seconds. */
const bomb = gzipSync(Buffer.concat([Buffer.alloc(4_000_000, '['), Buffer.alloc(4_000_000, ']')]), { level: 9 });

/** Metadata `levels` objects deep: `{a: {a: ... {a: 1}}}`. */
function nested(levels: number): Record<string, unknown> {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v as Record<string, unknown>;
}

describe('nesting depth is checked on the raw text, before JSON.parse', () => {
  it('refuses the bracket bomb (8 MB of brackets, about 8 KB gzipped) quickly with 400 naming the limit', async () => {
    expect(bomb.length).toBeLessThan(10_000);
    const t = await createTenant(db.sql, 'agent');
    const started = performance.now();
    const res = await postLogs(stack.baseUrl, t.key, bomb, { 'content-encoding': 'gzip' });
    const ms = performance.now() - started;
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.message).toBe(
      `JSON may be nested at most ${DEPTH + 3} levels deep (MAX_METADATA_DEPTH ${DEPTH} plus the event and its envelope); this body is nested deeper`,
    );
    expect(res.body.request_id).toMatch(/^req_/);
    expect(ms).toBeLessThan(2_000); // about 3 s of JSON.parse without the check (9 s on a loaded machine)
  });

  it('/health and another tenant answer while four bombs are in flight', async () => {
    const [attacker, victim] = [await createTenant(db.sql, 'agent'), await createTenant(db.sql, 'agent')];
    const bombs = Array.from({ length: 4 }, () => postLogs(stack.baseUrl, attacker.key, bomb, { 'content-encoding': 'gzip' }));
    const started = performance.now();
    const health = await fetch(`${stack.baseUrl}/health`);
    const healthMs = performance.now() - started;
    const other = await postLogs(stack.baseUrl, victim.key, event());
    const otherMs = performance.now() - started;
    expect(health.status).toBe(200);
    expect(other.status).toBe(202);
    expect((await Promise.all(bombs)).map((r) => r.status)).toEqual([400, 400, 400, 400]);
    // generous bounds for a shared machine; the bench prints the figures
    expect(healthMs).toBeLessThan(2_000); // 12 s and more without the check
    expect(otherMs).toBeLessThan(3_000);
  });

  it('accepts a body at exactly the allowed depth: {"logs": [event]} with metadata nested MAX_METADATA_DEPTH deep', async () => {
    const t = await createTenant(db.sql, 'agent');
    const ok = await postLogs(stack.baseUrl, t.key, { logs: [event({ metadata: nested(DEPTH) })] });
    expect(ok.status).toBe(202);
    const deeper = await postLogs(stack.baseUrl, t.key, { logs: [event({ metadata: nested(DEPTH + 1) })] });
    expect(deeper.status).toBe(400);
    expect(deeper.body.message).toMatch(/nested at most 7 levels deep/);
  });

  it('counts no brackets inside strings, escaped quotes included', async () => {
    const t = await createTenant(db.sql, 'agent');
    const res = await postLogs(stack.baseUrl, t.key, [event({ message: `\\"${'[{'.repeat(500)}\\"`, metadata: { 'k"[[[[[[[[': '\\[[[[[[[[[[' } })]);
    expect(res.status).toBe(202);
  });

  it('checks each NDJSON line, also after a line that leaves a string open', async () => {
    const t = await createTenant(db.sql, 'agent');
    const ok = `${JSON.stringify(event({ metadata: nested(DEPTH) }))}\n${JSON.stringify(event())}\n`;
    expect((await postLogs(stack.baseUrl, t.key, ok, { 'content-type': 'application/x-ndjson' })).status).toBe(202);
    // the first line is invalid (an unterminated string): the second, parsed alone, must still be checked
    const sneaky = `{"message": "open\\\n${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
    const res = await postLogs(stack.baseUrl, t.key, sneaky, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/nested at most 7 levels deep/);
  });
});

describe('admin JSON bodies', () => {
  let admin: AdminTestApp;
  beforeAll(async () => {
    admin = await startAdminApp(db);
  });
  afterAll(async () => {
    await admin?.close();
  });

  it('refuses a body nested past 32 levels before parsing it', async () => {
    const { key } = await createAdminKey(db.sql);
    const res = await fetch(`${admin.baseUrl}/admin/api/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^JSON may be nested at most 32 levels deep/);
  });
});
