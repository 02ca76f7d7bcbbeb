import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ingestSettingsSchema } from '@central-logger/config';
import { OTLP_TYPES } from '@central-logger/otlp';
import { ROOT } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { otlpEnv, runOtelServiceSourcing, runShell, startRecordingProxy, succeeded } from './support/otel.js';
import { createTenant, startStack, waitFor, type Stack } from './support/stack.js';

// The README's OpenTelemetry examples live in examples/opentelemetry and the
// README shows them verbatim (checked below); these tests run them as written.
const EXAMPLES = 'examples/opentelemetry';
const example = (file: string) => readFileSync(`${ROOT}/${EXAMPLES}/${file}`, 'utf8');

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

const rowsOf = (clientId: string) => db.sql`select * from workflow_logs where client_id = ${clientId} order by executed_at, event_id`;
const waitForRows = (clientId: string, n: number) =>
  waitFor(
    async () => {
      const rows = await rowsOf(clientId);
      return rows.length >= n && rows;
    },
    20_000,
    `${n} rows`,
  );

describe("the README's OpenTelemetry examples (examples/opentelemetry), run as written", () => {
  it('are in the README verbatim', () => {
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
    for (const [file, fence] of [
      ['sdk.env', 'sh'],
      ['collector.yaml', 'yaml'],
      ['otel-logs.cjs', 'js'],
    ]) {
      expect(readme, file).toContain(`\`\`\`${fence}\n${example(file!)}\`\`\``);
    }
    // the packages its install line names, at the versions the examples run with (test/otel-service)
    const fixture = JSON.parse(readFileSync(`${ROOT}/test/otel-service/package.json`, 'utf8')) as { dependencies: Record<string, string> };
    const install = /npm install (@opentelemetry\/api@(?:[^\n\\]|\\\n)+)/.exec(readme)![1]!.replaceAll('\\\n', ' ').split(/\s+/).filter(Boolean);
    expect(install.length).toBeGreaterThan(5);
    for (const spec of install) {
      const [, name, version] = /^(@?[^@]+)@(.+)$/.exec(spec)!;
      expect(`${name}@${fixture.dependencies[name!]}`, spec).toMatch(new RegExp(`^${name}@${version!.replaceAll('.', '\\.')}(\\.|$)`));
    }
  });

  it("sdk.env: an SDK configured by these variables alone ships its records to the key's tenant; so do the alternatives its comments name", async () => {
    const t = await createTenant(db.sql, 'agent');
    // the endpoint as written is the ingest port's default, at OTLP/HTTP's path
    const written = await runShell(`. ${EXAMPLES}/sdk.env && printf %s "$OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"`, {});
    expect(new URL(written)).toMatchObject({
      hostname: '127.0.0.1',
      port: String(ingestSettingsSchema.shape.INGEST_PORT.parse(undefined)),
      pathname: '/v1/logs',
    });

    const alternatives = [...example('sdk.env').matchAll(/^export (\w+)=\S+ +# or (\S+)$/gm)].map(([, name, value]) => `export ${name}=${value}`);
    expect(alternatives).toEqual([
      'export OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json',
      'export OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20$LOGGER_API_KEY',
    ]);
    const proxy = await startRecordingProxy(stack.baseUrl);
    try {
      // only the endpoint changes: the test's server (through a proxy that records what the SDK sent) instead of port 8000
      const toTestServer = `export OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=${proxy.url}/v1/logs`;
      const env = { LOGGER_API_KEY: t.key };
      const at = Date.now() - 30_000;
      expect(
        succeeded(await runOtelServiceSourcing(`${EXAMPLES}/sdk.env`, toTestServer, [{ timestamp: at, severityNumber: 9, body: 'as written' }], env)),
      ).toBe(true);
      expect(
        succeeded(
          await runOtelServiceSourcing(
            `${EXAMPLES}/sdk.env`,
            `${toTestServer} && ${alternatives.join(' && ')}`,
            [{ timestamp: at + 1, severityNumber: 9, body: 'the alternatives' }],
            env,
          ),
        ),
      ).toBe(true);
      expect(
        proxy.seen.map((s) => [
          s.headers['content-type'],
          s.headers['content-encoding'],
          s.headers['x-api-key'] === t.key,
          s.headers.authorization === `Bearer ${t.key}`,
          s.status,
        ]),
      ).toEqual([
        ['application/x-protobuf', 'gzip', true, false, 200],
        ['application/json', 'gzip', false, true, 200],
      ]);
    } finally {
      await proxy.close();
    }
    const rows = await waitForRows(t.clientId, 2);
    expect(rows.map((r) => [r.message, r.workflow, r.environment])).toEqual([
      ['as written', 'checkout', 'production'],
      ['the alternatives', 'checkout', 'production'],
    ]);
  });

  it("collector.yaml: every key is one the Collector documents for its component, within this service's limits; the request its exporter is documented to send is stored", async () => {
    const config = parseYaml(example('collector.yaml')) as CollectorConfig;
    // no Collector binary here: the snippet is checked against the components' documented settings instead
    expect(unknownKeys(config)).toEqual([]);
    const exporter = config.exporters['otlphttp/central-logger']!;
    expect(OTLPHTTP_ENCODINGS).toContain(exporter.encoding);
    expect(['gzip', 'none']).toContain(exporter.compression); // what POST /v1/logs takes (else 415)
    expect(Object.keys(exporter.headers)).toEqual(['x-api-key']);
    expect(exporter.headers['x-api-key']).toMatch(/^\$\{env:[A-Za-z_]\w*\}$/); // the Collector's environment variable syntax
    const batch = config.processors.batch!;
    expect(batch.send_batch_max_size).toBeGreaterThanOrEqual(batch.send_batch_size); // the batch processor requires it
    expect(batch.send_batch_max_size).toBeLessThanOrEqual(ingestSettingsSchema.shape.MAX_EVENTS_PER_REQUEST.parse(undefined)); // else 413, which is not retried
    for (const [kind, ids] of Object.entries(config.service.pipelines.logs)) {
      for (const id of ids) expect(config[kind as 'receivers' | 'processors' | 'exporters'], `${kind}: ${id}`).toHaveProperty([id]);
    }

    // the request the otlphttp exporter sends, per its documentation: POST <endpoint>/v1/logs, the encoding's media type, the compression, the headers
    const t = await createTenant(db.sql, 'agent');
    const path = `${new URL(exporter.endpoint).pathname.replace(/\/$/, '')}/v1/logs`;
    const request = OTLP_TYPES.request.fromObject({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'via-collector' } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: String(BigInt(Date.now()) * 1_000_000n), severityNumber: 13, body: { stringValue: 'forwarded' } }] }],
        },
      ],
    });
    const bytes = OTLP_TYPES.request.encode(request).finish();
    const gzip = exporter.compression === 'gzip';
    const res = await fetch(`${stack.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', ...(gzip ? { 'content-encoding': 'gzip' } : {}), 'x-api-key': t.key },
      body: gzip ? gzipSync(bytes) : bytes,
    });
    expect(res.status).toBe(200);
    expect((await waitForRows(t.clientId, 1)).map((r) => [r.message, r.level, r.workflow])).toEqual([['forwarded', 'warn', 'via-collector']]);
  });

  it("otel-logs.cjs: a pino and a winston logger ship every line through the OpenTelemetry SDK, with its level, message and the active span's ids", async () => {
    const t = await createTenant(db.sql, 'agent');
    const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
    await new Promise<void>((resolve, reject) => {
      const env = {
        PATH: process.env.PATH ?? '',
        ...otlpEnv(stack.baseUrl, t.key, { OTEL_SERVICE_NAME: 'shop', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging' }),
        LOGGERS_SPAN: JSON.stringify(span),
      };
      execFile(
        process.execPath,
        ['--require', `./${EXAMPLES}/otel-logs.cjs`, 'test/otel-service/loggers.cjs'],
        { cwd: ROOT, env, timeout: 60_000 },
        (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
      );
    });
    const rows = await waitForRows(t.clientId, 8);
    const seen = rows
      .map((r) => [r.message, r.level, r.metadata.trace_id ?? null, r.metadata.span_id ?? null])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(seen).toEqual([
      ['pino: order placed', 'info', span.traceId, span.spanId],
      ['pino: outside any span', 'info', null, null],
      ['pino: payment failed', 'error', span.traceId, span.spanId],
      ['pino: payment slow', 'warn', span.traceId, span.spanId],
      ['winston: order placed', 'info', span.traceId, span.spanId],
      ['winston: outside any span', 'info', null, null],
      ['winston: payment failed', 'error', span.traceId, span.spanId],
      ['winston: payment slow', 'warn', span.traceId, span.spanId],
    ]);
    for (const r of rows) expect(r).toMatchObject({ workflow: 'shop', environment: 'staging' });
    const placed = rows.filter((r) => r.message.endsWith('order placed'));
    expect(placed.map((r) => [r.metadata.scope.name, r.metadata.attributes.order])).toEqual(
      expect.arrayContaining([
        [expect.stringMatching(/pino/), 42],
        [expect.stringMatching(/winston/), 42],
      ]),
    );
  });
});

interface CollectorConfig {
  receivers: Record<string, Record<string, unknown>>;
  processors: Record<string, { send_batch_size: number; send_batch_max_size: number } & Record<string, unknown>>;
  exporters: Record<string, { endpoint: string; encoding: string; compression: string; headers: Record<string, string> } & Record<string, unknown>>;
  service: { pipelines: { logs: Record<string, string[]> } };
}

// The settings each component documents, from the Collector's schemas and READMEs (open-telemetry/opentelemetry-collector):
// exporter/otlphttpexporter/config.schema.yaml, which adds to config/confighttp's client_config
const OTLPHTTP_KEYS = ['encoding', 'logs_endpoint', 'metrics_endpoint', 'profiles_endpoint', 'traces_endpoint', 'retry_on_failure', 'sending_queue'];
const HTTP_CLIENT_KEYS = [
  'auth',
  'compression',
  'compression_params',
  'cookies',
  'endpoint',
  'force_attempt_http2',
  'headers',
  'http2_ping_timeout',
  'http2_read_idle_timeout',
  'keepalive',
  'max_conns_per_host',
  'middlewares',
  'proxy_url',
  'read_buffer_size',
  'timeout',
  'tls',
  'write_buffer_size',
];
const OTLPHTTP_ENCODINGS = ['proto', 'json'];
// processor/batchprocessor/README.md
const BATCH_KEYS = ['send_batch_size', 'timeout', 'send_batch_max_size', 'metadata_keys', 'metadata_cardinality_limit'];
// receiver/otlpreceiver: protocols grpc and http; http is config/confighttp's server_config plus the signal paths
const OTLP_PROTOCOLS = ['grpc', 'http'];
const HTTP_SERVER_KEYS = [
  'auth',
  'compression_algorithms',
  'cors',
  'endpoint',
  'include_metadata',
  'keepalive',
  'max_request_body_size',
  'middlewares',
  'read_header_timeout',
  'read_timeout',
  'response_headers',
  'tls',
  'write_timeout',
  'traces_url_path',
  'metrics_url_path',
  'logs_url_path',
];

/** Keys of the snippet's components that their documentation does not list, as `component.key`. */
function unknownKeys(config: CollectorConfig): string[] {
  const unknown = (where: string, o: object, known: string[]) =>
    Object.keys(o)
      .filter((k) => !known.includes(k))
      .map((k) => `${where}.${k}`);
  const type = (id: string) => id.split('/')[0];
  const out: string[] = [];
  for (const [id, c] of Object.entries(config.exporters))
    out.push(...(type(id) === 'otlphttp' ? unknown(id, c, [...OTLPHTTP_KEYS, ...HTTP_CLIENT_KEYS]) : [`${id} (not an otlphttp exporter)`]));
  for (const [id, c] of Object.entries(config.processors)) out.push(...(type(id) === 'batch' ? unknown(id, c, BATCH_KEYS) : [`${id} (not a batch processor)`]));
  for (const [id, c] of Object.entries(config.receivers)) {
    if (type(id) !== 'otlp') out.push(`${id} (not an otlp receiver)`);
    const protocols = (c.protocols ?? {}) as Record<string, object | null>;
    out.push(
      ...unknown(id, c, ['protocols']),
      ...unknown(`${id}.protocols`, protocols, OTLP_PROTOCOLS),
      ...unknown(`${id}.protocols.http`, protocols.http ?? {}, HTTP_SERVER_KEYS),
    );
  }
  return out;
}
