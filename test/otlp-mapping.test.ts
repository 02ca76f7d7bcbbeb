import { describe, expect, it } from 'vitest';
import { isAppError } from '@central-logger/errors';
import {
  decodeExportRequest,
  isoMicros,
  levelOf,
  mapExportRequest,
  OTLP_DEFAULTS,
  OTLP_TYPES,
  wireBytesOf,
  type ExportLogsRequestMessage,
} from '@central-logger/otlp';

const limits = { maxEvents: 1000, maxEventBytes: 64 * 1024, maxMetadataDepth: 16, maxFutureMs: 86_400_000, maxAgeDays: 30 };
const NOW = Date.parse('2026-06-01T12:00:00Z');
const AT_NS = `${BigInt(NOW - 60_000) * 1_000_000n + 123_456n}`; // a minute ago, with microseconds and nanoseconds

const str = (s: string) => ({ stringValue: s });
const kv = (key: string, value: object) => ({ key, value });

/** An OTLP/JSON request (the encoding of exporter-logs-otlp-http) of one resource and one scope. */
function jsonRequest(records: object[], resource: object[] = [kv('service.name', str('checkout')), kv('deployment.environment.name', str('staging'))]) {
  return { resourceLogs: [{ resource: { attributes: resource }, scopeLogs: [{ scope: { name: 'billing', version: '1.2.3' }, logRecords: records }] }] };
}
const decodeJson = (body: unknown) => decodeExportRequest(Buffer.from(JSON.stringify(body)), 'json');
const map = (request: ExportLogsRequestMessage, now = NOW) => mapExportRequest(request, { limits, now });
/** The same request through protobuf: encoded from its JSON form, then decoded as a server would. */
const viaProtobuf = (request: ExportLogsRequestMessage) => decodeExportRequest(OTLP_TYPES.request.encode(request as never).finish(), 'protobuf');

describe('OTLP mapping', () => {
  it('maps severityNumber to level in the documented ranges, and severityText when the number is unspecified', () => {
    const expected = ['debug', 'debug', 'info', 'warn', 'error', 'fatal'];
    for (let n = 1; n <= 24; n++) expect(levelOf(n, ''), String(n)).toBe(expected[Math.ceil(n / 4) - 1]);
    expect(levelOf(0, 'Warning')).toBe('warn');
    expect(levelOf(0, 'CRITICAL')).toBe('fatal');
    expect(levelOf(0, 'chatty')).toBeNull();
    expect(levelOf(25, '')).toBeNull();
  });

  it('maps a record: time with microseconds, level, body, resource to workflow and environment, attributes to run_id and status, ids and metadata', () => {
    const request = decodeJson(
      jsonRequest([
        {
          timeUnixNano: AT_NS,
          observedTimeUnixNano: '1',
          severityNumber: 17,
          severityText: 'ERROR',
          body: str('payment failed'),
          traceId: '4BF92F3577B34DA6A3CE929D0E0E4736',
          spanId: '00f067aa0ba902b7',
          flags: 1,
          attributes: [
            kv('workflow.run_id', str('run-7')),
            kv('workflow.status', str('FAILURE')),
            kv('http.status_code', { intValue: '502' }),
            kv('tags', { arrayValue: { values: [str('a'), { boolValue: true }] } }),
          ],
        },
      ]),
    );
    const { events, rejected } = map(request);
    expect(rejected).toEqual([]);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({
      executed_at: isoMicros(BigInt(AT_NS)),
      environment: 'staging',
      workflow: 'checkout',
      run_id: 'run-7',
      status: 'FAILURE',
      level: 'error',
      message: 'payment failed',
      duration_ms: null,
    });
    expect(e.executed_at).toBe(`${new Date(NOW - 60_000).toISOString().slice(0, 23)}123Z`);
    expect(e.event_id).toMatch(/^otel_[0-9a-f]{44}$/);
    expect(JSON.parse(JSON.stringify(e.metadata))).toEqual({
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      trace_flags: 1,
      severity_number: 17,
      severity_text: 'ERROR',
      attributes: { 'workflow.run_id': 'run-7', 'workflow.status': 'FAILURE', 'http.status_code': 502, tags: ['a', true] },
      resource: { 'service.name': 'checkout', 'deployment.environment.name': 'staging' },
      scope: { name: 'billing', version: '1.2.3' },
    });
  });

  it('falls back: observed time, the older deployment.environment, the documented defaults, resource-level run_id and status', () => {
    const observed = decodeJson(
      jsonRequest(
        [{ observedTimeUnixNano: AT_NS, body: { kvlistValue: { values: [kv('order', { intValue: 12 }), kv('ok', { boolValue: false })] } } }],
        [kv('deployment.environment', str('prod')), kv('workflow.run_id', str('nightly-3'))],
      ),
    );
    const [a] = map(observed).events;
    expect(a).toMatchObject({
      executed_at: isoMicros(BigInt(AT_NS)),
      environment: 'prod',
      workflow: null,
      run_id: 'nightly-3',
      status: OTLP_DEFAULTS.status,
      level: null,
      message: '{"order":12,"ok":false}',
    });
    const bare = map(decodeJson(jsonRequest([{ body: { doubleValue: 1.5 } }, {}], [])));
    expect(bare.events.map((e) => [e.environment, e.status, e.message, e.executed_at])).toEqual([
      [OTLP_DEFAULTS.environment, OTLP_DEFAULTS.status, '1.5', `${new Date(NOW).toISOString().slice(0, 23)}000Z`],
      [OTLP_DEFAULTS.environment, OTLP_DEFAULTS.status, null, `${new Date(NOW).toISOString().slice(0, 23)}000Z`],
    ]);
    expect(bare.events[0]!.metadata).toEqual({ scope: { name: 'billing', version: '1.2.3' } });
  });

  it('converts every AnyValue kind: big int64 as a decimal string, bytes as base64, non-finite doubles as text', () => {
    const request = decodeJson(
      jsonRequest([
        {
          timeUnixNano: AT_NS,
          attributes: [
            kv('big', { intValue: '9007199254740993' }),
            kv('neg', { intValue: '-5' }),
            kv('raw', { bytesValue: Buffer.from('hi').toString('base64') }),
            kv('nan', { doubleValue: 'NaN' }),
            kv('empty', {}),
          ],
        },
      ]),
    );
    expect(JSON.parse(JSON.stringify(map(request).events[0]!.metadata.attributes))).toEqual({
      big: '9007199254740993',
      neg: -5,
      raw: 'aGk=',
      nan: 'NaN',
      empty: null,
    });
  });

  it('derives event_id from the content: the same in a retry and through either encoding, different for a different record, distinct for identical records of one request', () => {
    const records = [
      { timeUnixNano: AT_NS, body: str('one') },
      { timeUnixNano: AT_NS, body: str('one') },
      { timeUnixNano: AT_NS, body: str('two') },
    ];
    const first = map(decodeJson(jsonRequest(records))).events.map((e) => e.event_id);
    const retry = map(decodeJson(jsonRequest(records)), NOW + 5_000).events.map((e) => e.event_id);
    expect(retry).toEqual(first);
    expect(new Set(first).size).toBe(3);
    // the record's time (ms, 12 hex digits) leads, so a tenant's new ids sort together at the end of the index
    const ms = (BigInt(AT_NS) / 1_000_000n).toString(16).padStart(12, '0');
    for (const id of first) expect(id.slice(0, 17)).toBe(`otel_${ms}`);
    // a record with no time of its own: zeros, never the arrival time, so that a retry later keeps its id
    const untimed = [{ body: str('no time') }];
    const [late] = map(decodeJson(jsonRequest(untimed)), NOW + 60_000).events.map((e) => e.event_id);
    expect(late).toMatch(/^otel_0{12}[0-9a-f]{32}$/);
    expect(map(decodeJson(jsonRequest(untimed))).events[0]!.event_id).toBe(late);
    // a protobuf request of the same content (what exporter-logs-otlp-proto sends) maps to the same ids
    expect(map(viaProtobuf(decodeJson(jsonRequest(records)))).events.map((e) => e.event_id)).toEqual(first);
    // the resource is part of the content
    const otherResource = map(decodeJson(jsonRequest(records, [kv('service.name', str('other'))]))).events.map((e) => e.event_id);
    expect(otherResource.some((id) => first.includes(id))).toBe(false);
  });

  it('rejects a record alone, naming why: text Postgres cannot store, a bad id, too deep, too old, too far ahead', () => {
    let deep: object = str('x');
    for (let i = 0; i < 20; i++) deep = { arrayValue: { values: [deep] } };
    const day = 86_400_000_000_000n;
    const request = decodeJson(
      jsonRequest([
        { timeUnixNano: AT_NS, body: str('fine') },
        { timeUnixNano: AT_NS, body: str('nul \u0000 here') },
        { timeUnixNano: AT_NS, attributes: [kv('lone', str('\ud800'))] },
        { timeUnixNano: AT_NS, attributes: [kv('k\u0000', str('v'))] },
        { timeUnixNano: AT_NS, traceId: 'not-hex' },
        { timeUnixNano: AT_NS, spanId: '00f067aa' },
        { timeUnixNano: AT_NS, attributes: [kv('deep', deep)] },
        { timeUnixNano: String(BigInt(NOW) * 1_000_000n - 40n * day) },
        { timeUnixNano: String(BigInt(NOW) * 1_000_000n + 2n * day) },
        { timeUnixNano: AT_NS, resource: 'ignored', attributes: [kv('__proto__', str('kept as a key'))] },
      ]),
    );
    const { events, rejected } = map(request);
    expect(events.map((e) => e.message)).toEqual(['fine', null]);
    expect(Object.keys(events[1]!.metadata.attributes as object)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(events[1]!.metadata.attributes)).toBe(Object.prototype);
    expect(rejected.map((r) => r.record)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const reasons = rejected.map((r) => r.reason);
    expect(reasons[0]).toMatch(/^message: contains a NUL/);
    expect(reasons[1]).toMatch(/^metadata\.attributes\.lone: contains an unpaired UTF-16 surrogate/);
    expect(reasons[2]).toMatch(/has a key that contains a NUL/);
    expect(reasons[3]).toMatch(/^traceId: must be 16 bytes/);
    expect(reasons[4]).toMatch(/^spanId: must be 8 bytes/);
    expect(reasons[5]).toMatch(/nested/);
    expect(reasons[6]).toMatch(/older than this client's retention/);
    expect(reasons[7]).toMatch(/in the future/);
  });

  it("hashes a protobuf record's bytes as they came, without encoding it again: each record's own bytes, in any field order, across resources and scopes", () => {
    const LogRecord = OTLP_TYPES.logRecord;
    const canonical = (body: string) =>
      Buffer.from(LogRecord.encode(LogRecord.fromObject({ timeUnixNano: AT_NS, severityNumber: 9, body: str(body) })).finish());
    // the fields of canonical('x') in reverse order, as another encoder may write them: body (5), severity_number (2), time_unix_nano (1, fixed64)
    const time = Buffer.alloc(8);
    time.writeBigUInt64LE(BigInt(AT_NS));
    const reversed = Buffer.concat([delimited(5, Buffer.concat([delimited(1, Buffer.from('x'))])), Buffer.from([0x10, 9]), Buffer.from([0x09]), time]);
    const scope = (name: string, records: Buffer[]) =>
      delimited(2, Buffer.concat([delimited(1, delimited(1, Buffer.from(name))), ...records.map((r) => delimited(2, r))]));
    const resource = (service: string, scopes: Buffer[]) =>
      delimited(
        1,
        Buffer.concat([
          delimited(1, delimited(1, Buffer.concat([delimited(1, Buffer.from('service.name')), delimited(2, delimited(1, Buffer.from(service)))]))),
          ...scopes,
        ]),
      );
    const sent = [[canonical('x'), reversed], [canonical('y')], [canonical('x')]];
    const body = Buffer.concat([resource('a', [scope('s1', sent[0]!), scope('s2', sent[1]!)]), resource('b', [scope('s1', sent[2]!)])]);

    const decoded = decodeExportRequest(body, 'protobuf');
    const records = decoded.resourceLogs.flatMap((rl) => rl.scopeLogs.map((sl) => sl.logRecords));
    expect(records.map((rs) => rs.map((r) => Buffer.from(wireBytesOf(r)!)))).toEqual(sent);
    const ids = map(decoded).events.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(4);
    expect(map(decodeExportRequest(Buffer.from(body), 'protobuf'), NOW + 5_000).events.map((e) => e.event_id)).toEqual(ids);
    // the same content through OTLP/JSON (hashed as protobufjs encodes it) has the ids of the canonically encoded records
    const json = decodeJson({
      resourceLogs: [
        {
          resource: { attributes: [kv('service.name', str('a'))] },
          scopeLogs: [{ scope: { name: 's1' }, logRecords: [{ timeUnixNano: AT_NS, severityNumber: 9, body: str('x') }] }],
        },
      ],
    });
    expect(wireBytesOf(json.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!)).toBeUndefined();
    expect(map(json).events[0]!.event_id).toBe(ids[0]);
  });

  it('checks a resource and a scope once for all their records, and rejects each of their records for what Postgres cannot store in them', () => {
    const records = [
      { timeUnixNano: AT_NS, body: str('a') },
      { timeUnixNano: AT_NS, body: str('b') },
    ];
    const bad = map(decodeJson(jsonRequest(records, [kv('service.name', str('checkout')), kv('host.name', str('nul \u0000'))])));
    expect(bad.events).toEqual([]);
    expect(bad.rejected.map((r) => [r.record, r.reason])).toEqual(
      [0, 1].map((i) => [i, expect.stringMatching(/^metadata\.resource\.host\.name: contains a NUL/)]),
    );
    const badScope = { resourceLogs: [{ scopeLogs: [{ scope: { name: 'lone \ud800' }, logRecords: records }] }] };
    expect(map(decodeJson(badScope)).rejected.map((r) => r.reason)).toEqual(
      [0, 1].map(() => expect.stringMatching(/^metadata\.scope\.name: contains an unpaired UTF-16 surrogate/)),
    );
    // a valid record among invalid ones of another resource is stored, and the rejections keep their order
    const mixed = {
      resourceLogs: [
        jsonRequest(records, [kv('k', str('\u0000'))]).resourceLogs[0],
        jsonRequest(records).resourceLogs[0],
        jsonRequest([{ timeUnixNano: AT_NS, traceId: 'bad' }]).resourceLogs[0],
      ],
    };
    const { events, rejected } = map(decodeJson(mixed));
    expect(events.map((e) => e.message)).toEqual(['a', 'b']);
    expect(rejected.map((r) => [r.resource, r.record])).toEqual([
      [0, 0],
      [0, 1],
      [2, 0],
    ]);
  });

  it("treats all-zero trace and span ids as none (the spec's invalid ids)", () => {
    const [e] = map(decodeJson(jsonRequest([{ timeUnixNano: AT_NS, traceId: '0'.repeat(32), spanId: '0'.repeat(16) }], []))).events;
    expect(e!.metadata).toEqual({ scope: { name: 'billing', version: '1.2.3' } });
  });
});

describe('OTLP decoding', () => {
  it('refuses what is not an ExportLogsServiceRequest with 400 validation_failed', () => {
    const refusals: Array<[Uint8Array, 'json' | 'protobuf']> = [
      [Buffer.from('{"resourceLogs": "x"}'), 'json'],
      [Buffer.from('[1, 2]'), 'json'],
      [Buffer.from('{"resourceLogs": [}'), 'json'],
      [Buffer.from([0xff, 0xfe]), 'json'],
      [Buffer.from('garbage, not protobuf'), 'protobuf'],
    ];
    for (const [body, encoding] of refusals) {
      let err: unknown;
      try {
        decodeExportRequest(body, encoding);
      } catch (e) {
        err = e;
      }
      expect(isAppError(err) && err.code, String(body)).toBe('validation_failed');
    }
    expect(decodeExportRequest(Buffer.alloc(0), 'protobuf').resourceLogs).toEqual([]);
    expect(decodeExportRequest(Buffer.from('{}'), 'json').resourceLogs).toEqual([]);
  });

  it("bounds nesting before the work grows with it: JSON by a scan before JSON.parse, protobuf by the decoder's limit", () => {
    const bomb = Buffer.from(`{"resourceLogs":${'['.repeat(2_000_000)}`);
    const started = performance.now();
    expect(() => decodeExportRequest(bomb, 'json')).toThrow(/nested at most 256 levels deep/);
    expect(performance.now() - started).toBeLessThan(500);

    // within the decoder's limit but past MAX_METADATA_DEPTH: that record is rejected
    let any: object = str('x');
    for (let i = 0; i < 45; i++) any = { arrayValue: { values: [any] } };
    const bytes = Buffer.from(OTLP_TYPES.request.encode(OTLP_TYPES.request.fromObject(jsonRequest([{ body: any }]))).finish());
    expect(map(decodeExportRequest(bytes, 'protobuf')).rejected[0]!.reason).toMatch(/nested deeper than 16 levels/);
    // 150 nested arrays: past protobuf's 100 levels of messages, refused by the decoder
    expect(() => decodeExportRequest(deepProtobuf(150), 'protobuf')).toThrow(/max depth exceeded/);
  });

  it('refuses invalid UTF-8 in a protobuf string (an encoded lone surrogate) as undecodable, as proto3 requires', () => {
    const good = Buffer.from(OTLP_TYPES.request.encode(OTLP_TYPES.request.fromObject(jsonRequest([{ timeUnixNano: AT_NS, body: str('a!!!') }]))).finish());
    const bad = Buffer.from(good);
    bad.set([0xed, 0xa0, 0x80], bad.indexOf('a!!!') + 1);
    expect(() => decodeExportRequest(bad, 'protobuf')).toThrow(/not valid for encoding utf-8/);
  });
});

/** A protobuf request whose record body nests `levels` arrays, built by hand around the encoder's own depth limit. */
function deepProtobuf(levels: number): Buffer {
  const AnyValue = OTLP_TYPES.request.root.lookupType('opentelemetry.proto.common.v1.AnyValue');
  let bytes = Buffer.from(AnyValue.encode(AnyValue.fromObject(str('x'))).finish());
  for (let i = 0; i < levels; i++) {
    // ArrayValue { values (1): AnyValue }, then AnyValue { array_value (5): ArrayValue }
    const array = Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes]);
    bytes = Buffer.concat([Buffer.from([0x2a]), varint(array.length), array]);
  }
  const record = Buffer.concat([Buffer.from([0x2a]), varint(bytes.length), bytes]); // LogRecord.body (5)
  const scopeLogs = Buffer.concat([Buffer.from([0x12]), varint(record.length), record]); // ScopeLogs.log_records (2)
  const resourceLogs = Buffer.concat([Buffer.from([0x12]), varint(scopeLogs.length), scopeLogs]); // ResourceLogs.scope_logs (2)
  return Buffer.concat([Buffer.from([0x0a]), varint(resourceLogs.length), resourceLogs]); // request.resource_logs (1)
}

/** A length-delimited field (wire type 2) of the given number. */
function delimited(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
