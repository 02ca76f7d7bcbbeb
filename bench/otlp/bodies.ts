// The request bodies of the OTLP benchmarks (run.ts, decode.ts): one
// ExportLogsServiceRequest of BENCH_RECORDS records as protobuf, and the same
// events as the ingest API's JSON, each request with new records stamped with
// the time it is sent, as an exporter's are.
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

// the template's time: record i is stamped AT + i µs, so each record's 8 bytes (fixed64) can be found and rewritten
const AT = BigInt(Date.now()) * 1_000_000n;

/** One export request of RECORDS records, as the SDK would batch them; MARK in each body and run id. */
function exportRequest(): ExportLogsRequestMessage {
  const at = AT;
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

const ISO_MARK = 'IIIIIIIIIIIIIIIIIIIIIII'; // the sending time as ISO 8601 to the millisecond (23 characters)
const HEX_MARK = 'HHHHHHHHHHHH'; // the sending time in milliseconds, 12 hex digits (as OTLP event ids start)

/** `template` cut at each marker; the function puts each marker's value back. */
function filler(template: string, markers: string[]): (values: Record<string, string>) => string {
  const parts = template.split(new RegExp(`(${markers.join('|')})`));
  return (values) => {
    let out = '';
    for (const p of parts) out += values[p] ?? p;
    return out;
  };
}

/**
 * Request bodies from one template: a token of the request number is written over MARK,
 * so every request carries new records (new content, so new OTLP event ids),
 * and the time it is sent over the records' times, at the cost of a copy, in both encodings alike.
 */
export function benchBodies(): { protobuf: (n: number) => Buffer; json: (n: number) => string } {
  const request = exportRequest();
  const proto = Buffer.from(OTLP_TYPES.request.encode(request as never).finish());
  const offsets: number[] = [];
  for (let at = proto.indexOf(MARK); at !== -1; at = proto.indexOf(MARK, at + MARK.length)) offsets.push(at);
  // each record's time and observed time: fixed64, little-endian
  const stamps: { at: number; i: number }[] = [];
  for (let i = 0; i < RECORDS; i++) {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(AT + BigInt(i) * 1000n);
    for (let at = proto.indexOf(bytes); at !== -1; at = proto.indexOf(bytes, at + 8)) stamps.push({ at, i });
  }
  // the same events as the ingest API's JSON: what the OTLP mapping makes of the request (its ids start with
  // the record's time, then the request's token, so that a request's ids sort together as OTLP's do)
  const events = mapExportRequest(request, { limits: BENCH_LIMITS, now: Date.now() }).events.map((e, i) => ({
    ...e,
    event_id: `otel_${HEX_MARK}${MARK}${e.event_id.slice(17 + MARK.length)}`,
    executed_at: `${ISO_MARK}${String(i).padStart(3, '0')}Z`,
  }));
  const fill = filler(JSON.stringify(events), [MARK, ISO_MARK, HEX_MARK]);
  const token = (n: number) => createHash('sha256').update(String(n)).digest('hex').slice(0, MARK.length);
  return {
    protobuf(n) {
      const body = Buffer.from(proto);
      const digits = token(n);
      for (const at of offsets) body.write(digits, at, 'latin1');
      const now = BigInt(Date.now()) * 1_000_000n;
      for (const s of stamps) body.writeBigUInt64LE(now + BigInt(s.i) * 1000n, s.at);
      return body;
    },
    json(n) {
      const now = Date.now();
      return fill({ [MARK]: token(n), [ISO_MARK]: new Date(now).toISOString().slice(0, 23), [HEX_MARK]: now.toString(16).padStart(12, '0') });
    },
  };
}
