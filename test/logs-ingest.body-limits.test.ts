import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, type Stack } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('body limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(
      db,
      { MAX_BODY_BYTES: '200000', MAX_DECOMPRESSED_BYTES: '100000', MAX_EVENTS_PER_REQUEST: '20', MAX_EVENT_BYTES: '5000', MAX_METADATA_DEPTH: '4' },
      { worker: false },
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each([
    ['wire bytes', () => [event({ message: 'x'.repeat(250_000) })], {}, /at most 200000 bytes/],
    [
      'decompressed bytes',
      () => gzipSync(JSON.stringify([event({ message: 'x'.repeat(150_000) })])),
      { 'content-encoding': 'gzip' },
      /decompressed request body may be at most 100000 bytes/,
    ],
    ['events per request', () => Array.from({ length: 21 }, () => event()), {}, /at most 20 events/],
    ['bytes per event', () => [event({ message: 'x'.repeat(6_000) })], {}, /at most 5000 bytes/],
  ] as const)('413 payload_too_large naming the limit: %s', async (_what, body, headers, message) => {
    const t = await createTenant(db.sql, 'agent');
    const res = await postLogs(stack.baseUrl, t.key, body(), headers);
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
    expect(res.body.message).toMatch(message);
  });

  it('413 for metadata nested past MAX_METADATA_DEPTH, naming the limit and where', async () => {
    const t = await createTenant(db.sql, 'agent');
    const ok = await postLogs(stack.baseUrl, t.key, event({ metadata: { a: { b: { c: { d: 1 } } } } }));
    expect(ok.status).toBe(202);
    const deep = await postLogs(stack.baseUrl, t.key, [event(), event({ metadata: { a: { b: { c: { d: { e: 1 } } } } } })]);
    expect(deep.status).toBe(413);
    expect(deep.body.error).toBe('payload_too_large');
    expect(deep.body.message).toBe('Metadata may be nested at most 4 levels deep; event 1 is nested deeper (at metadata.a.b.c.d)');
  });

  it('400 naming the field for NUL characters, at the edge', async () => {
    const t = await createTenant(db.sql, 'agent');
    const nul = await postLogs(stack.baseUrl, t.key, event({ message: 'a\u0000b' }));
    expect(nul.status).toBe(400);
    expect(nul.body.details[0]).toMatchObject({ index: 0, field: 'message' });
  });

  it('cuts a gzip bomb off while it streams: 413 before the client has sent the whole body', async () => {
    const t = await createTenant(db.sql, 'agent');
    // 50 MB of spaces inflate from about 50 kB of gzip; send a first part only and keep the request open
    const bomb = gzipSync(Buffer.alloc(50_000_000, 0x20));
    const res = await postOpen(stack.baseUrl, t.key, bomb.subarray(0, Math.floor(bomb.length / 2)), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).message).toMatch(/decompressed request body may be at most 100000 bytes/);
  });

  it('stops reading a chunked body without Content-Length at the wire limit: 413 while it streams', async () => {
    const t = await createTenant(db.sql, 'agent');
    const res = await postOpen(stack.baseUrl, t.key, Buffer.alloc(150_000, 0x20));
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).message).toMatch(/^The request body may be at most 100000 bytes/);
    // the rest of a refused body is not read: the connection closes
    expect(res.connection).toBe('close');
  });
});

/** Sends `part` as the start of a chunked body and never ends it: the answer must come while the body is open. */
function postOpen(
  baseUrl: string,
  key: string,
  part: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; connection: string | undefined }> {
  const url = new URL(`${baseUrl}/api/v1/logs`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key, 'transfer-encoding': 'chunked', ...headers },
      },
      (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => {
          req.destroy();
          resolve({ status: r.statusCode ?? 0, body, connection: r.headers.connection });
        });
      },
    );
    req.on('error', reject);
    req.write(part);
  });
}
