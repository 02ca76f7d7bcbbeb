// The request bodies of the OTLP benchmarks (run.ts, decode.ts): one
// ExportLogsServiceRequest of BENCH_RECORDS records as protobuf, and the same
// events as the ingest API's JSON, each request with new records.
import { createHash, randomBytes } from 'node:crypto';
import { mapExportRequest, OTLP_TYPES, type ExportLogsRequestMessage } from '@central-logger/otlp';

export const RECORDS = Number(process.env.BENCH_RECORDS ?? 100);
/** Limits that let every bench event through. */
export const BENCH_LIMITS = { maxEvents: 1_000_000, maxEventBytes: 1 << 20, maxMetadataDepth: 16, maxFutureMs: 86_400_000 };

const str = (stringValue: string) => ({ stringValue });
// a resource as the Node SDK sends one: service, environment and the SDK's own attributes
const RESOURCE = {
  attributes: Object.entries({
    'service.name': 'checkout',
    'deployment.environment.name': 'bench',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry',
    'telemetry.sdk.version': '2.12.1',
    'host.name': 'bench-host',
    'process.pid': '4242',
  }).map(([key, v]) => ({ key, value: str(v) })),
};

const MARK = 'NNNNNNNNNN'; // replaced by each request's token: 10 hex digits of a hash of its number

/** One export request of RECORDS records, as the SDK would batch them; MARK in each body and run id. */
function exportRequest(): ExportLogsRequestMessage {
  const at = BigInt(Date.now()) * 1_000_000n;
  const logRecords = Array.from({ length: RECORDS }, (_, i) => ({
    timeUnixNano: String(at + BigInt(i) * 1000n),
    observedTimeUnixNano: String(at + BigInt(i) * 1000n),
    severityNumber: 9,
    severityText: 'INFO',
    body: str(`bench event ${MARK}-${i}`),
    traceId: randomBytes(16),
    spanId: randomBytes(8),
    flags: 1,
    attributes: [
      { key: 'workflow.run_id', value: str(`run-${MARK}`) },
      { key: 'http.route', value: str('/orders/:id') },
      { key: 'n', value: { intValue: i } },
    ],
  }));
  return OTLP_TYPES.request.fromObject({
    resourceLogs: [{ resource: RESOURCE, scopeLogs: [{ scope: { name: 'bench', version: '1.0.0' }, logRecords }] }],
  }) as unknown as ExportLogsRequestMessage;
}

/**
 * Request bodies from one template: a token of the request number is written over MARK,
 * so every request carries new records (new content, so new OTLP event ids)
 * at the cost of a copy, in both encodings alike.
 */
export function benchBodies(): { protobuf: (n: number) => Buffer; json: (n: number) => string } {
  const request = exportRequest();
  const proto = Buffer.from(OTLP_TYPES.request.encode(request as never).finish());
  const offsets: number[] = [];
  for (let at = proto.indexOf(MARK); at !== -1; at = proto.indexOf(MARK, at + MARK.length)) offsets.push(at);
  // the same events as the ingest API's JSON: what the OTLP mapping makes of the request, with ids that
  // start with the request's token, so that they spread over the unique index as OTLP's content-derived
  // ids do (ids that differ only at their end would all land in a few hot index pages, a cheaper insert)
  const events = mapExportRequest(request, { limits: BENCH_LIMITS, now: Date.now() }).events.map((e) => ({
    ...e,
    event_id: `otel_${MARK}${e.event_id.slice(5 + MARK.length)}`,
  }));
  const parts = JSON.stringify(events).split(MARK);
  const token = (n: number) => createHash('sha256').update(String(n)).digest('hex').slice(0, MARK.length);
  return {
    protobuf(n) {
      const body = Buffer.from(proto);
      const digits = token(n);
      for (const at of offsets) body.write(digits, at, 'latin1');
      return body;
    },
    json: (n) => parts.join(token(n)),
  };
}
