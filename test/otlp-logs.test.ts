import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '@central-logger/keys';
import { OTLP_DEFAULTS, OTLP_TYPES } from '@central-logger/otlp';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { otlpEnv, runOtelService, startRecordingProxy, succeeded } from './support/otel.js';
import { createTenant, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db);
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
// api-logs SeverityNumber
const SEVERITY = { TRACE: 1, INFO: 9, WARN2: 14, ERROR: 17, FATAL4: 24 };

const rowsOf = (clientId: string) => db.sql`
  select *, to_char(executed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as at_us
  from workflow_logs where client_id = ${clientId} order by executed_at, event_id`;
const waitForRows = (clientId: string, n: number) =>
  waitFor(
    async () => {
      const rows = await rowsOf(clientId);
      return rows.length >= n && rows;
    },
    15_000,
    `${n} rows`,
  );

describe('POST /v1/logs with the official OpenTelemetry JS SDK and exporters, configured by OTEL_* variables', () => {
  it("exporter-logs-otlp-proto: stores every record under the key's tenant with the documented mapping", async () => {
    const t = await createTenant(db.sql, 'agent');
    const at = Date.now() - 60_000;
    const results = await runOtelService({
      exporter: 'proto',
      env: otlpEnv(stack.baseUrl, t.key, { OTEL_SERVICE_NAME: 'checkout', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,team=payments' }),
      records: [
        // HrTime with microseconds and nanoseconds: stored to the microsecond
        {
          timestamp: [Math.floor(at / 1000), (at % 1000) * 1e6 + 123_456],
          severityNumber: SEVERITY.INFO,
          severityText: 'INFO',
          body: 'order placed',
          span: { traceId: TRACE, spanId: SPAN },
          attributes: { 'workflow.run_id': 'run-42', 'workflow.status': 'SUCCESS', 'order.total': 12.5, 'order.items': 3, tags: ['a', 'b'] },
        },
        { timestamp: at + 1, severityNumber: SEVERITY.WARN2, body: { reason: 'slow', ms: 1200 } },
        { timestamp: at + 2, severityNumber: SEVERITY.ERROR, severityText: 'ERROR', body: 'payment failed', eventName: 'payment.failed' },
        { timestamp: at + 3, severityNumber: SEVERITY.TRACE, body: 'trace detail' },
        { timestamp: at + 4, severityNumber: SEVERITY.FATAL4, body: 'down' },
        { timestamp: at + 5, severityText: 'warning', body: 'text only' },
      ],
    });
    expect(results).toEqual([{ code: 0 }]);
    const rows = await waitForRows(t.clientId, 6);
    expect(rows.map((r) => [r.message, r.level])).toEqual([
      ['order placed', 'info'],
      ['{"reason":"slow","ms":1200}', 'warn'],
      ['payment failed', 'error'],
      ['trace detail', 'debug'],
      ['down', 'fatal'],
      ['text only', 'warn'],
    ]);
    for (const r of rows) {
      expect(r).toMatchObject({ client_id: t.clientId, workflow: 'checkout', environment: 'staging' });
      expect(r.event_id).toMatch(/^otel_[0-9a-f]{44}$/);
    }
    const [first, second, third] = rows;
    expect(first!.at_us).toBe(`${new Date(at).toISOString().slice(0, 23)}123`);
    expect(first).toMatchObject({ run_id: 'run-42', status: 'SUCCESS' });
    expect(second).toMatchObject({ run_id: null, status: OTLP_DEFAULTS.status });
    expect(first!.metadata).toMatchObject({
      trace_id: TRACE,
      span_id: SPAN,
      trace_flags: 1,
      severity_number: 9,
      severity_text: 'INFO',
      attributes: { 'workflow.run_id': 'run-42', 'workflow.status': 'SUCCESS', 'order.total': 12.5, 'order.items': 3, tags: ['a', 'b'] },
      resource: { 'service.name': 'checkout', 'deployment.environment.name': 'staging', team: 'payments', 'telemetry.sdk.language': 'nodejs' },
      scope: { name: 'billing', version: '1.2.3' },
    });
    expect(third!.metadata).toMatchObject({ event_name: 'payment.failed', severity_number: 17 });
    expect(third!.metadata.trace_id).toBeUndefined();
  });

  it("exporter-logs-otlp-http (JSON): the same mapping; the older deployment.environment; trace_id and span_id filter GET /api/v1/logs, for the key's tenant only", async () => {
    const t = await createTenant(db.sql, 'agent');
    const other = await createTenant(db.sql, 'agent', 'other');
    const records = [
      { severityNumber: SEVERITY.INFO, body: 'in the span', span: { traceId: TRACE, spanId: SPAN } },
      { severityNumber: 5, body: 'outside' },
    ];
    expect(
      succeeded(
        await runOtelService({
          exporter: 'http',
          env: otlpEnv(stack.baseUrl, t.key, { OTEL_SERVICE_NAME: 'api', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod' }),
          records,
        }),
      ),
    ).toBe(true);
    expect(succeeded(await runOtelService({ exporter: 'http', env: otlpEnv(stack.baseUrl, other.key, { OTEL_SERVICE_NAME: 'api' }), records }))).toBe(true);
    // by message: the two records may carry the same timestamp, and then their order is their ids' (a digest)
    const rows = [...(await waitForRows(t.clientId, 2))].sort((a, b) => (a.message < b.message ? -1 : 1));
    expect(rows.map((r) => [r.message, r.level, r.workflow, r.environment])).toEqual([
      ['in the span', 'info', 'api', 'prod'],
      ['outside', 'debug', 'api', 'prod'],
    ]);
    await waitForRows(other.clientId, 2);
    expect((await rowsOf(other.clientId)).map((r) => r.environment)).toEqual([OTLP_DEFAULTS.environment, OTLP_DEFAULTS.environment]);

    const reader = await createKey(db.sql, { name: 'reader', role: 'reader', clientId: t.clientId, bcryptCost: 4 });
    const query = async (params: string) => {
      const res = await fetch(`${stack.baseUrl}/api/v1/logs?${params}`, { headers: { 'x-api-key': reader.key } });
      return { status: res.status, body: (await res.json()) as { data: Array<{ message: string }> } };
    };
    const byTrace = await query(`trace_id=${TRACE.toUpperCase()}`);
    expect(byTrace.status).toBe(200);
    // the other tenant's record of the same trace is not there
    expect(byTrace.body.data.map((r) => r.message)).toEqual(['in the span']);
    expect((await query(`trace_id=${TRACE}&span_id=${SPAN}`)).body.data).toHaveLength(1);
    expect((await query(`span_id=${SPAN}`)).body.data).toHaveLength(1);
    expect((await query(`span_id=${'1'.repeat(16)}`)).body.data).toHaveLength(0);
    expect((await query('trace_id=xyz')).status).toBe(400);
  });

  it('serves the trace_id filter from the per-tenant index (migration 100)', async () => {
    const plan = await db.sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      return tx`explain select event_id from workflow_logs l where l.client_id = 'c' and (l.metadata ->> 'trace_id') = ${TRACE} order by executed_at desc limit 10`;
    });
    // each partition's copy of the index, matched on tenant and trace id together
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Cond: \(\(client_id = 'c'::text\) AND \(\(metadata ->> 'trace_id'::text\) = '4bf9/);
  });

  it("takes gzip: the exporter's OTEL_EXPORTER_OTLP_COMPRESSION=gzip, and a gzipped JSON body", async () => {
    const t = await createTenant(db.sql, 'agent');
    const proxy = await startRecordingProxy(stack.baseUrl);
    try {
      const records = Array.from({ length: 20 }, (_, i) => ({ severityNumber: SEVERITY.INFO, body: `zipped ${i}` }));
      const results = await runOtelService({
        exporter: 'proto',
        env: otlpEnv(proxy.url, t.key, { OTEL_SERVICE_NAME: 'zipped', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }),
        records,
      });
      expect(succeeded(results)).toBe(true);
      expect(proxy.seen.map((s) => [s.headers['content-encoding'], s.headers['content-type'], s.status])).toEqual([['gzip', 'application/x-protobuf', 200]]);
    } finally {
      await proxy.close();
    }
    const json = {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: String(BigInt(Date.now()) * 1_000_000n), body: { stringValue: 'gzipped json' } }] }] }],
    };
    const res = await fetch(`${stack.baseUrl}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-api-key': t.key },
      body: gzipSync(JSON.stringify(json)),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({});
    const rows = await waitForRows(t.clientId, 21);
    expect(rows.filter((r) => r.workflow === 'zipped')).toHaveLength(20);
  });

  it("stores an exporter's retry once: the answer to the first export is lost (503 on the way back) and the exporter sends the same request again", async () => {
    const t = await createTenant(db.sql, 'agent');
    // the service stores the first request; the proxy answers the exporter 503 with Retry-After, as if the answer was lost
    const proxy = await startRecordingProxy(stack.baseUrl, (n) => (n === 0 ? { status: 503, headers: { 'retry-after': '1' } } : undefined));
    try {
      const records: Array<Record<string, unknown>> = Array.from({ length: 10 }, (_, i) => ({
        severityNumber: SEVERITY.INFO,
        body: `retried ${i}`,
        attributes: { i },
      }));
      // two identical records in one request stay two rows
      records.push(
        { timestamp: Date.now() - 1000, observedTimestamp: Date.now() - 1000, body: 'twin' },
        { timestamp: Date.now() - 1000, observedTimestamp: Date.now() - 1000, body: 'twin' },
      );
      records[11]!.timestamp = records[10]!.timestamp;
      records[11]!.observedTimestamp = records[10]!.observedTimestamp;
      const results = await runOtelService({ exporter: 'proto', env: otlpEnv(proxy.url, t.key, { OTEL_SERVICE_NAME: 'retried' }), records });
      expect(succeeded(results)).toBe(true);
      expect(proxy.seen.map((s) => s.status)).toEqual([200, 200]);
      expect(proxy.seen[1]!.body.equals(proxy.seen[0]!.body)).toBe(true);
    } finally {
      await proxy.close();
    }
    await waitFor(async () => stack.drained(), 15_000, 'the queue to drain');
    const rows = await waitForRows(t.clientId, 12);
    expect(rows.filter((r) => r.message.startsWith('retried'))).toHaveLength(10);
    expect(rows.filter((r) => r.message === 'twin')).toHaveLength(2);
    expect(rows).toHaveLength(12);
  });

  it('answers partial success: invalid records are rejected with their reasons, the valid ones stored (protobuf and JSON)', async () => {
    const t = await createTenant(db.sql, 'agent');
    const now = String(BigInt(Date.now()) * 1_000_000n);
    const request = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'partial' } }] },
          scopeLogs: [
            {
              logRecords: [
                { timeUnixNano: now, body: { stringValue: 'kept 1' } },
                { timeUnixNano: now, body: { stringValue: 'bad \u0000 text' } },
                { timeUnixNano: '1000', body: { stringValue: 'from 1970' } },
                { timeUnixNano: now, body: { stringValue: 'kept 2' } },
              ] as Array<Record<string, unknown>>,
            },
          ],
        },
      ],
    };
    const proto = await fetch(`${stack.baseUrl}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'x-api-key': t.key },
      body: OTLP_TYPES.request.encode(OTLP_TYPES.request.fromObject(request)).finish(),
    });
    expect(proto.status).toBe(200);
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
    const answer = OTLP_TYPES.response.toObject(OTLP_TYPES.response.decode(new Uint8Array(await proto.arrayBuffer())), { longs: Number }) as {
      partialSuccess: { rejectedLogRecords: number; errorMessage: string };
    };
    expect(answer.partialSuccess.rejectedLogRecords).toBe(2);
    expect(answer.partialSuccess.errorMessage).toMatch(/^2 of 4 log records rejected/);
    expect(answer.partialSuccess.errorMessage).toContain('resourceLogs[0].scopeLogs[0].logRecords[1]: message: contains a NUL character');
    expect(answer.partialSuccess.errorMessage).toContain("logRecords[2]: executed_at: is older than this client's retention");

    request.resourceLogs[0]!.scopeLogs[0]!.logRecords.push({ timeUnixNano: now, body: { stringValue: 'kept 3' }, traceId: 'zz' });
    const json = await fetch(`${stack.baseUrl}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': t.key },
      body: JSON.stringify(request),
    });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({
      partialSuccess: { rejectedLogRecords: '3', errorMessage: expect.stringContaining('logRecords[4]: traceId: must be 16 bytes') },
    });

    await waitForRows(t.clientId, 2);
    await waitFor(async () => stack.drained(), 15_000, 'the queue to drain');
    // the JSON request's valid records are the protobuf one's: the same content, the same event_ids, stored once
    expect((await rowsOf(t.clientId)).map((r) => r.message).sort()).toEqual(['kept 1', 'kept 2']);
  });

  it("answers an empty request 200 with an empty ExportLogsServiceResponse, with the ingest route's headers", async () => {
    const t = await createTenant(db.sql, 'agent');
    const res = await fetch(`${stack.baseUrl}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'x-api-key': t.key },
      body: new Uint8Array(0),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(res.headers.get('ratelimit-remaining')).not.toBeNull();
  });
});
