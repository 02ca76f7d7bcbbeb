// With TRUST_PROXY the client's address is the X-Forwarded-For entry the
// trusted proxy appended (TRUST_PROXY_HOPS from the right), never one the
// client wrote itself: per-address failure limits, sign-in limits and
// in-flight bounds count that address, on the raw routes and the Koa ones.
import type { IncomingMessage } from 'node:http';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAddress, closeServer, listen, portOf, trustProxy } from '@central-logger/http';
import { generateKey } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { heartbeat } from './support/keys.js';
import { event, postLogs, startStack, type Stack } from './support/stack.js';

const request = (forwarded: string | string[] | undefined, peer = '10.0.0.1') =>
  ({ headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded }, socket: { remoteAddress: peer } }) as unknown as IncomingMessage;
const oneProxy = { TRUST_PROXY: true, TRUST_PROXY_HOPS: 1 };

describe('clientAddress', () => {
  it('takes the entry the trusted proxy appended, whatever the client put left of it', () => {
    expect(clientAddress(request('198.51.100.7'), oneProxy)).toBe('198.51.100.7');
    expect(clientAddress(request('6.6.6.6, 198.51.100.7'), oneProxy)).toBe('198.51.100.7');
    expect(clientAddress(request(' 6.6.6.6 ,, 5.5.5.5,198.51.100.7 '), oneProxy)).toBe('198.51.100.7');
    // a repeated header is one list, in order
    expect(clientAddress(request(['6.6.6.6', '198.51.100.7']), oneProxy)).toBe('198.51.100.7');
  });

  it('counts TRUST_PROXY_HOPS proxies from the right', () => {
    const twoProxies = { TRUST_PROXY: true, TRUST_PROXY_HOPS: 2 };
    expect(clientAddress(request('6.6.6.6, 198.51.100.7, 10.1.1.1'), twoProxies)).toBe('198.51.100.7');
    expect(clientAddress(request('198.51.100.7, 10.1.1.1'), twoProxies)).toBe('198.51.100.7');
    expect(clientAddress(request('198.51.100.7'), twoProxies)).toBe('198.51.100.7');
  });

  it('is the socket peer without TRUST_PROXY, or without the header', () => {
    expect(clientAddress(request('6.6.6.6'), { TRUST_PROXY: false, TRUST_PROXY_HOPS: 1 })).toBe('10.0.0.1');
    expect(clientAddress(request(undefined), oneProxy)).toBe('10.0.0.1');
    expect(clientAddress(request(' , '), oneProxy)).toBe('10.0.0.1');
  });

  it("is Koa's ctx.ip in an app set up with trustProxy", async () => {
    const app = new Koa();
    trustProxy(app, oneProxy);
    app.use((ctx) => {
      ctx.body = { ip: ctx.ip, ips: ctx.ips };
    });
    const server = await listen(app, { host: '127.0.0.1', port: 0, requestTimeoutMs: 5_000, headersTimeoutMs: 5_000 });
    try {
      const res = await fetch(`http://127.0.0.1:${portOf(server)}/`, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' } });
      expect(await res.json()).toEqual({ ip: '198.51.100.7', ips: ['198.51.100.7'] });
    } finally {
      await closeServer(server);
    }
  });
});

describe('behind a proxy that appends to X-Forwarded-For (TRUST_PROXY=true)', () => {
  let db: TestDatabase;
  let stack: Stack;
  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, { TRUST_PROXY: 'true', AUTH_FAILURE_LIMIT: '4', AUTH_FAILURE_FLUSH_MS: '60000' }, { worker: false });
  });
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
  });

  it('a spoofed leftmost entry does not change the address the failure limit counts, on raw and Koa routes', async () => {
    const proxied = (i: number) => ({ 'x-forwarded-for': `203.0.113.${i}, 198.51.100.7` });
    const wrong = () => generateKey().key;
    expect((await postLogs(stack.baseUrl, wrong(), event(), proxied(1))).status).toBe(401);
    expect((await heartbeat(stack.baseUrl, wrong(), proxied(2))).status).toBe(401);
    expect((await postLogs(stack.baseUrl, wrong(), event(), proxied(3))).status).toBe(401);
    expect((await heartbeat(stack.baseUrl, wrong(), proxied(4))).status).toBe(401);
    // the fifth failure from 198.51.100.7 is over the limit of 4, whatever the client wrote in front
    for (const res of [await postLogs(stack.baseUrl, wrong(), event(), proxied(5)), await heartbeat(stack.baseUrl, wrong(), proxied(6))]) {
      expect(res.status).toBe(429);
      expect(res.body.error).toBe('rate_limited');
    }
    // another client behind the same proxy is not
    expect((await heartbeat(stack.baseUrl, wrong(), { 'x-forwarded-for': '198.51.100.7, 198.51.100.8' })).status).toBe(401);

    await stack.ingest.verifier.failures.flush();
    const rows = await db.sql`select distinct address from auth_failures`;
    expect(rows.map((r) => r.address).sort()).toEqual(['198.51.100.7', '198.51.100.8']);
  });
});
