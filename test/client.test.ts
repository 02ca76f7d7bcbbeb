import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CentralLoggerClient, type DeliveryError } from '@central-logger/client';
import { closeServer, portOf } from '@central-logger/http';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_EVENTS_PER_REQUEST: '50' });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const stored = async (clientId: string) => (await db.sql`select event_id from workflow_logs where client_id = ${clientId}`).map((r) => r.event_id as string);

/**
 * Forwards requests to the ingest API; for the first `lose` requests it throws
 * the real answer away and tells the client 503, as a flaky network would.
 */
async function flakyProxy(target: string, lose: number): Promise<{ url: string; server: Server; seen: () => number }> {
  let seen = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
    const body = await upstream.text();
    if (++seen <= lose) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"error":"unavailable"}');
    } else {
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${portOf(server)}`, server, seen: () => seen };
}

describe('CentralLoggerClient (packages/client)', () => {
  it('ships buffered events in batches and stores each once', async () => {
    const t = await createTenant(db.sql, 'agent');
    const client = new CentralLoggerClient({ url: stack.baseUrl, apiKey: t.key, batchSize: 40 });
    const ids = Array.from({ length: 100 }, (_, i) => client.log({ environment: 'sdk', status: 'SUCCESS', message: `m${i}` }));
    await client.close();
    await waitFor(async () => (await stored(t.clientId)).length === 100);
    expect((await stored(t.clientId)).sort()).toEqual([...ids].sort());
  });

  it('retries a batch whose answer was lost, and the service stores it once', async () => {
    const t = await createTenant(db.sql, 'agent');
    const proxy = await flakyProxy(stack.baseUrl, 2);
    try {
      const client = new CentralLoggerClient({ url: proxy.url, apiKey: t.key, retryBaseMs: 10 });
      for (let i = 0; i < 5; i++) client.log({ environment: 'sdk', status: 'SUCCESS' });
      await client.close();
      expect(proxy.seen()).toBe(3);
      await waitFor(() => stack.drained());
      expect(await stored(t.clientId)).toHaveLength(5);
    } finally {
      await closeServer(proxy.server);
    }
  });

  it('splits a batch the service finds too large', async () => {
    const t = await createTenant(db.sql, 'agent');
    const client = new CentralLoggerClient({ url: stack.baseUrl, apiKey: t.key, batchSize: 120 });
    for (let i = 0; i < 120; i++) client.log({ environment: 'sdk', status: 'SUCCESS' });
    await client.close();
    await waitFor(async () => (await stored(t.clientId)).length === 120);
  });

  it('reports a refusal it must not retry (a bad key) without retrying', async () => {
    const errors: DeliveryError[] = [];
    const proxy = await flakyProxy(stack.baseUrl, 0);
    try {
      const client = new CentralLoggerClient({ url: proxy.url, apiKey: 'clk_wrong', onError: (e) => errors.push(e) });
      client.log({ environment: 'sdk', status: 'SUCCESS' });
      await client.close();
      expect(proxy.seen()).toBe(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ status: 401, code: 'invalid_api_key' });
      expect(errors[0]!.events).toHaveLength(1);
    } finally {
      await closeServer(proxy.server);
    }
  });
});
