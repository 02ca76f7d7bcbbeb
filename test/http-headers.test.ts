import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminSchema, loadConfig } from '@central-logger/config';
import { createRegistry, portOf, serveMetrics, styleHash } from '@central-logger/http';
import { createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, testEnv, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let admin: AdminTestApp;
let owner: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
  admin = await startAdminApp(db);
  owner = await createTenant(db.sql, 'owner');
});
afterAll(async () => {
  await admin?.close();
  await stack?.close();
  await db?.drop();
});

const get = (url: string, key?: string) => fetch(url, { headers: key ? { 'x-api-key': key } : {} });

describe('headers on every answer', () => {
  it('X-Content-Type-Options: nosniff on success, error and raw-ingest answers of both apps', async () => {
    const answers = [
      await get(`${stack.baseUrl}/health`),
      await get(`${stack.baseUrl}/openapi.json`),
      await get(`${stack.baseUrl}/nope`),
      await get(`${stack.baseUrl}/api/v1/logs`),
      await get(`${stack.baseUrl}/api/v1/logs?x=1`, owner.key),
      await fetch(`${stack.baseUrl}/api/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': owner.key },
        body: JSON.stringify(event()),
      }),
      await fetch(`${stack.baseUrl}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      await get(`${admin.baseUrl}/health`),
      await get(`${admin.baseUrl}/admin/api/clients`),
      await get(`${admin.baseUrl}/nope`),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 404, 401, 400, 202, 401, 200, 401, 404]);
    for (const r of answers) expect(r.headers.get('x-content-type-options'), r.url).toBe('nosniff');
  });

  it('Cache-Control: no-store on authenticated reads, key endpoints and their errors', async () => {
    const paths = ['/api/v1/logs', '/api/v1/logs/evt_nope', '/api/v1/stats', '/api/v1/keys', '/api/v1/limits', '/API/V1/LOGS'];
    for (const path of paths) {
      for (const key of [owner.key, undefined]) {
        const res = await get(`${stack.baseUrl}${path}`, key);
        expect(res.headers.get('cache-control'), `${path} ${res.status}`).toBe('no-store');
      }
    }
    const posted = await postLogs(stack.baseUrl, owner.key, event());
    expect(posted.headers.get('cache-control')).toBe('no-store');
    const { key } = await createAdminKey(db.sql);
    const keys = await fetch(`${admin.baseUrl}/admin/api/keys`, { headers: { authorization: `Bearer ${key}` } });
    expect(keys.status).toBe(200);
    expect(keys.headers.get('cache-control')).toBe('no-store');
  });

  it('HTML (/docs, the dashboard) has a CSP without unsafe-inline that forbids framing, and X-Frame-Options', async () => {
    for (const url of [`${stack.baseUrl}/docs`, `${admin.baseUrl}/`]) {
      const res = await get(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).not.toMatch(/unsafe-inline/);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('the inline style of /docs is allowed by its hash, so the page keeps its look under the CSP', async () => {
    const res = await get(`${stack.baseUrl}/docs`);
    const html = await res.text();
    const css = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    expect(res.headers.get('content-security-policy')).toContain(`style-src '${styleHash(css)}'`);
    expect(html.match(/<style>/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script|style="/);
  });
});

describe('/metrics off the public port', () => {
  it('the admin app has its own /metrics listener on 127.0.0.1, and none on its public port', async () => {
    expect((await get(`${admin.baseUrl}/metrics`)).status).toBe(404);
    expect(admin.service.metricsServer.address()).toMatchObject({ address: '127.0.0.1' });
    await get(`${admin.baseUrl}/health`);
    const text = await (await get(`http://127.0.0.1:${portOf(admin.service.metricsServer)}/metrics`)).text();
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/health",status="200",service="admin"\} [1-9]/m);
    expect(text).toMatch(/^process_resident_memory_bytes/m);
  });

  it('with METRICS_TOKEN, /metrics wants it as a bearer token', async () => {
    const server = await serveMetrics(createRegistry('t'), { host: '127.0.0.1', port: 0, token: 'a-metrics-token-of-some-length' });
    try {
      const url = `http://127.0.0.1:${portOf(server)}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: 'Bearer a-metrics-token-of-some-length' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/process_cpu/);
      expect((await fetch(url.replace('/metrics', '/health'))).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('refuses to start with /metrics on a non-loopback address and no token', async () => {
    const config = loadConfig(adminSchema, testEnv(db, { METRICS_HOST: '0.0.0.0' }));
    expect(config.METRICS_HOST).toBe('0.0.0.0');
    await expect(serveMetrics(createRegistry('t'), { host: config.METRICS_HOST, port: 0 })).rejects.toThrow(/set METRICS_TOKEN/);
  });
});

describe("Node's own parser errors (clientError)", () => {
  it.each(['ingest-api', 'admin'])('%s answers an invalid byte in the URL with the JSON error and a request id', async (app) => {
    const port = Number(new URL(app === 'admin' ? admin.baseUrl : stack.baseUrl).port);
    // a README example pasted with an ellipsis: raw UTF-8 in the request line
    const raw = Buffer.concat([Buffer.from('GET /api/v1/logs?q=caf'), Buffer.from('é…', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]);
    const answer = await rawRequest(port, raw);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toMatch(/\r\nContent-Type: application\/json; charset=utf-8/i);
    expect(head).toMatch(/\r\nConnection: close/i);
    expect(head).toMatch(/\r\nX-Content-Type-Options: nosniff/i);
    const json = JSON.parse(body!);
    expect(json).toEqual({ error: 'bad_request', message: expect.stringMatching(/percent-encode/), request_id: expect.stringMatching(/^req_[0-9a-f]{32}$/) });
    expect(head).toContain(`\r\nX-Request-Id: ${json.request_id}\r\n`);
  });

  it('answers other malformed request lines the same way, and the server keeps serving', async () => {
    const port = Number(new URL(stack.baseUrl).port);
    const answer = await rawRequest(port, Buffer.from('GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({
      error: 'bad_request',
      message: expect.stringMatching(/^The request is not valid HTTP\/1\.1/),
    });
    expect((await get(`${stack.baseUrl}/health`)).status).toBe(200);
  });
});

/** Writes `raw` on a fresh connection and reads until the server closes it. */
function rawRequest(port: number, raw: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
  });
}
