import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setLimitOverrides } from '@central-logger/limits';
import { OTLP_TYPES } from '@central-logger/otlp';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { otlpEnv, runOtelService, startRecordingProxy, succeeded } from './support/otel.js';
import { createTenant, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_BODY_BYTES: '20000', MAX_DECOMPRESSED_BYTES: '100000', MAX_EVENTS_PER_REQUEST: '50', MAX_EVENT_BYTES: '8000' });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const now = () => String(BigInt(Date.now()) * 1_000_000n);
const requestOf = (records: object[]) => ({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] });
const protobuf = (body: object) => OTLP_TYPES.request.encode(OTLP_TYPES.request.fromObject(body)).finish();

async function post(body: Uint8Array | string, headers: Record<string, string>) {
  const res = await fetch(`${stack.baseUrl}/v1/logs`, { method: 'POST', headers, body });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** The google.rpc.Status of an error answer, decoded from protobuf or JSON, with its ErrorInfo. */
function statusOf(bytes: Uint8Array, contentType: string | null): { code: number; message: string; reason: string; requestId: string } {
  if (contentType === 'application/json') {
    const s = JSON.parse(Buffer.from(bytes).toString()) as {
      code: number;
      message: string;
      details: Array<{ '@type': string; reason: string; metadata: { request_id: string } }>;
    };
    expect(s.details[0]!['@type']).toBe('type.googleapis.com/google.rpc.ErrorInfo');
    return { code: s.code, message: s.message, reason: s.details[0]!.reason, requestId: s.details[0]!.metadata.request_id };
  }
  expect(contentType).toBe('application/x-protobuf');
  const s = OTLP_TYPES.status.decode(bytes) as unknown as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
  expect(s.details[0]!.type_url).toBe('type.googleapis.com/google.rpc.ErrorInfo');
  const info = OTLP_TYPES.errorInfo.decode(s.details[0]!.value) as unknown as { reason: string; metadata: Record<string, string> };
  return { code: s.code, message: s.message, reason: info.reason, requestId: info.metadata.request_id! };
}

describe("POST /v1/logs errors, answered as the OTLP/HTTP spec says (google.rpc.Status in the request's encoding)", () => {
  it("401 for no key and a wrong key (with WWW-Authenticate), 403 for a key without logs:write, another tenant's rows untouched", async () => {
    const reader = await createTenant(db.sql, 'reader');
    const body = protobuf(requestOf([{ timeUnixNano: now(), body: { stringValue: 'x' } }]));
    const cases: Array<[Record<string, string>, number, number, string]> = [
      [{}, 401, 16, 'api_key_required'],
      [{ 'x-api-key': 'clk_nope_nope' }, 401, 16, 'invalid_api_key'],
      [{ 'x-api-key': reader.key }, 403, 7, 'insufficient_scope'],
    ];
    for (const [headers, httpStatus, grpc, reason] of cases) {
      const { res, bytes } = await post(body, { 'content-type': 'application/x-protobuf', ...headers });
      expect(res.status, reason).toBe(httpStatus);
      const status = statusOf(bytes, res.headers.get('content-type'));
      expect(status).toMatchObject({ code: grpc, reason, requestId: res.headers.get('x-request-id') });
      if (httpStatus === 401) expect(res.headers.get('www-authenticate')).toContain('ApiKey');
    }
    expect((await db.sql`select count(*)::int as n from workflow_logs where client_id = ${reader.clientId}`)[0]!.n).toBe(0);
  });

  it("400 with a Status for an undecodable body, in the request's encoding; 415 for another media type or encoding", async () => {
    const t = await createTenant(db.sql, 'agent');
    const key = { 'x-api-key': t.key };
    const garbage = await post(Buffer.from('garbage, not protobuf'), { 'content-type': 'application/x-protobuf', ...key });
    expect(garbage.res.status).toBe(400);
    expect(statusOf(garbage.bytes, garbage.res.headers.get('content-type'))).toMatchObject({
      code: 3,
      reason: 'validation_failed',
      message: expect.stringMatching(/not a valid OTLP protobuf ExportLogsServiceRequest/),
    });
    const json = await post('{"resourceLogs": [', { 'content-type': 'application/json', ...key });
    expect(json.res.status).toBe(400);
    expect(statusOf(json.bytes, json.res.headers.get('content-type'))).toMatchObject({
      code: 3,
      reason: 'validation_failed',
      message: 'The body is not valid JSON',
    });
    const gzip = await post(Buffer.from('not gzip'), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', ...key });
    expect(gzip.res.status).toBe(400);
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-protobuf', 'content-encoding': 'br' }] as Array<
      Record<string, string>
    >) {
      const r = await post('x', { ...headers, ...key });
      expect(r.res.status).toBe(415);
      expect(statusOf(r.bytes, r.res.headers.get('content-type')).reason).toBe('unsupported_media_type');
    }
  });

  it('413 for a body, a decompressed body or a record count over the limits; a gzip bomb is cut off while it streams', async () => {
    const t = await createTenant(db.sql, 'agent');
    const key = { 'x-api-key': t.key, 'content-type': 'application/x-protobuf' };
    const big = await post(protobuf(requestOf([{ body: { stringValue: 'x'.repeat(30_000) } }])), key);
    expect(big.res.status).toBe(413);
    expect(statusOf(big.bytes, big.res.headers.get('content-type'))).toMatchObject({ code: 8, reason: 'payload_too_large' });
    const many = await post(protobuf(requestOf(Array.from({ length: 51 }, () => ({ body: { stringValue: 'x' } })))), key);
    expect(many.res.status).toBe(413);
    expect(statusOf(many.bytes, many.res.headers.get('content-type')).message).toBe('A request may hold at most 50 log records; this one holds 51');
    const bomb = gzipSync(Buffer.alloc(50_000_000, 0x20));
    const cut = await postOpen(t.key, bomb.subarray(0, 15_000));
    expect(cut.status).toBe(413);
    expect(cut.connection).toBe('close');
  });

  it('rejects a record over MAX_EVENT_BYTES alone (partial success), and refuses JSON nested past its bound before parsing it', async () => {
    const t = await createTenant(db.sql, 'agent');
    const body = gzipSync(
      protobuf(
        requestOf([
          { timeUnixNano: now(), body: { stringValue: 'y'.repeat(9_000) } },
          { timeUnixNano: now(), body: { stringValue: 'small' } },
        ]),
      ),
    );
    const { res, bytes } = await post(body, { 'x-api-key': t.key, 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    const answer = OTLP_TYPES.response.toObject(OTLP_TYPES.response.decode(bytes), { longs: Number }) as {
      partialSuccess: { rejectedLogRecords: number; errorMessage: string };
    };
    expect(answer.partialSuccess.rejectedLogRecords).toBe(1);
    expect(answer.partialSuccess.errorMessage).toMatch(/logRecords\[0\]: An event may be at most 8000 bytes; the record is about/);
    await waitFor(async () => (await db.sql`select message from workflow_logs where client_id = ${t.clientId}`).length === 1, 10_000, 'the small record');

    const started = performance.now();
    const deep = await post(gzipSync(`{"resourceLogs":${'['.repeat(90_000)}`), {
      'x-api-key': t.key,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(deep.res.status).toBe(400);
    expect(statusOf(deep.bytes, deep.res.headers.get('content-type')).message).toMatch(/nested at most 256 levels deep/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("429 with Retry-After once the key's rate limit is used up, which the official exporter retries after that wait", async () => {
    const t = await createTenant(db.sql, 'agent');
    // one request per 4 s: the wait outlasts the SDK process's start-up
    await setLimitOverrides(db.sql, t.clientId, { requestsPerSecond: 0.25, requestBurst: 1 });
    const body = protobuf(requestOf([{ timeUnixNano: now(), body: { stringValue: 'limited' } }]));
    const first = await post(body, { 'x-api-key': t.key, 'content-type': 'application/x-protobuf' });
    expect(first.res.status).toBe(200);
    const second = await post(body, { 'x-api-key': t.key, 'content-type': 'application/x-protobuf' });
    expect(second.res.status).toBe(429);
    expect(Number(second.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(3);
    expect(statusOf(second.bytes, second.res.headers.get('content-type'))).toMatchObject({ code: 8, reason: 'rate_limited' });

    // the SDK's export right after: 429, Retry-After, then its retry gets through
    const proxy = await startRecordingProxy(stack.baseUrl);
    try {
      const results = await runOtelService({
        exporter: 'proto',
        env: otlpEnv(proxy.url, t.key, { OTEL_SERVICE_NAME: 'limited' }),
        records: [{ body: 'after the wait' }],
      });
      expect(succeeded(results)).toBe(true);
      expect(proxy.seen[0]!.status).toBe(429);
      expect(proxy.seen.at(-1)!.status).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  it("503 UNAVAILABLE with Retry-After, in the request's encoding, while the queue backlog is past its bound; 200 again once it drains", async () => {
    const busy = await startStack(
      db,
      { MAX_QUEUE_BACKLOG_JOBS: '3', BACKLOG_SAMPLE_MS: '1', GROUP_COMMIT_MS: '0', UNAVAILABLE_RETRY_AFTER_S: '7' },
      { worker: false },
    );
    try {
      const t = await createTenant(db.sql, 'agent');
      const send = (encoding: 'protobuf' | 'json') =>
        fetch(`${busy.baseUrl}/v1/logs`, {
          method: 'POST',
          headers: { 'x-api-key': t.key, 'content-type': `application/${encoding === 'json' ? 'json' : 'x-protobuf'}` },
          body:
            encoding === 'json'
              ? JSON.stringify(requestOf([{ timeUnixNano: now(), body: { stringValue: 'busy' } }]))
              : protobuf(requestOf([{ timeUnixNano: now(), body: { stringValue: 'busy' } }])),
        });
      let refused: Response | undefined;
      for (let i = 0; i < 10 && !refused; i++) {
        const res = await send('protobuf');
        if (res.status !== 200) refused = res;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(refused?.status).toBe(503);
      expect(refused!.headers.get('retry-after')).toBe('7');
      expect(statusOf(new Uint8Array(await refused!.arrayBuffer()), refused!.headers.get('content-type'))).toMatchObject({ code: 14, reason: 'unavailable' });
      const json = await send('json');
      expect([json.status, json.headers.get('retry-after')]).toEqual([503, '7']);
      expect(statusOf(new Uint8Array(await json.arrayBuffer()), json.headers.get('content-type'))).toMatchObject({ code: 14, reason: 'unavailable' });

      await busy.queue.drain();
      await send('protobuf'); // a fresh sample of the backlog
      await new Promise((r) => setTimeout(r, 50));
      expect((await send('protobuf')).status).toBe(200);
    } finally {
      await busy.close();
    }
  });

  it('a burst from one tenant: every answer is 200 or 429, never a 5xx', async () => {
    const t = await createTenant(db.sql, 'agent');
    const body = protobuf(requestOf(Array.from({ length: 20 }, (_, i) => ({ timeUnixNano: now(), body: { stringValue: `burst ${i}` } }))));
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async () => (await post(body, { 'x-api-key': t.key, 'content-type': 'application/x-protobuf' })).res.status),
    );
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
  });

  it('is listed in the OpenAPI document with both encodings', async () => {
    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody: { content: Record<string, unknown> }; 'x-required-scope': string }>>;
    };
    const op = doc.paths['/v1/logs']!.post!;
    expect(Object.keys(op.requestBody.content)).toEqual(['application/x-protobuf', 'application/json']);
    expect(op['x-required-scope']).toBe('logs:write');
  });
});

/** Sends `part` as the start of a chunked gzip body and never ends it: the answer must come while the body is open. */
function postOpen(key: string, part: Buffer): Promise<{ status: number; connection: string | undefined }> {
  const url = new URL(`${stack.baseUrl}/v1/logs`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', 'x-api-key': key, 'transfer-encoding': 'chunked' },
      },
      (r) => {
        r.resume();
        r.on('end', () => {
          req.destroy();
          resolve({ status: r.statusCode ?? 0, connection: r.headers.connection });
        });
      },
    );
    req.on('error', reject);
    req.write(part);
  });
}
