import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * The OTLP logs messages (packages/otlp/proto), loaded once with protobufjs.
 * protobufjs decodes and encodes; nothing here parses the wire format by hand.
 * Its decoder refuses messages nested deeper than 100 levels (protoc's
 * default), and its JSON converter (`fromObject`) does too, so a hostile
 * AnyValue nesting costs at most that much recursion.
 */
const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));

const root = new protobuf.Root();
// google/protobuf/*.proto come with protobufjs; the rest from PROTO_DIR
root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : `${PROTO_DIR}${target}`);
root.loadSync(['opentelemetry/proto/collector/logs/v1/logs_service.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto']);
root.resolveAll();

export const OTLP_TYPES = {
  request: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
  response: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse'),
  resource: root.lookupType('opentelemetry.proto.resource.v1.Resource'),
  scope: root.lookupType('opentelemetry.proto.common.v1.InstrumentationScope'),
  logRecord: root.lookupType('opentelemetry.proto.logs.v1.LogRecord'),
  status: root.lookupType('google.rpc.Status'),
  errorInfo: root.lookupType('google.rpc.ErrorInfo'),
};

/** A 64-bit integer as protobufjs decodes it (a `long` Long), or a number. */
export type Int64 = number | { low: number; high: number; unsigned: boolean; toNumber(): number; toString(): string };

/**
 * Decoded messages as protobufjs gives them: unset scalars, bytes and
 * repeated fields read as their defaults (0, '', empty) from the prototype;
 * `value` names the AnyValue oneof member that is set.
 */
export interface AnyValueMessage {
  value?: 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue';
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values: AnyValueMessage[] } | null;
  kvlistValue?: { values: KeyValueMessage[] } | null;
  bytesValue?: Uint8Array;
}

export interface KeyValueMessage {
  key: string;
  value?: AnyValueMessage | null;
}

export interface LogRecordMessage {
  timeUnixNano: Int64;
  observedTimeUnixNano: Int64;
  severityNumber: number;
  severityText: string;
  body?: AnyValueMessage | null;
  attributes: KeyValueMessage[];
  flags: number;
  traceId: Uint8Array;
  spanId: Uint8Array;
  eventName: string;
}

export interface ScopeMessage {
  name: string;
  version: string;
  attributes: KeyValueMessage[];
}

export interface ScopeLogsMessage {
  scope?: ScopeMessage | null;
  logRecords: LogRecordMessage[];
}

export interface ResourceLogsMessage {
  resource?: { attributes: KeyValueMessage[] } | null;
  scopeLogs: ScopeLogsMessage[];
}

export interface ExportLogsRequestMessage {
  resourceLogs: ResourceLogsMessage[];
}
