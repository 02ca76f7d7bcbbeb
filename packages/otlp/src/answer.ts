import type { OtlpEncoding } from './decode.js';
import type { RejectedRecord } from './map.js';
import { OTLP_TYPES } from './schema.js';

/** An OTLP/HTTP answer body and its Content-Type (the request's encoding). */
export interface OtlpBody {
  contentType: string;
  body: Buffer;
}

const CONTENT_TYPES: Record<OtlpEncoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };
const MAX_REASONS = 10;

/**
 * 200's ExportLogsServiceResponse: empty when every record was stored (the
 * spec leaves partial_success unset then), else partial_success with the
 * number of rejected records and the first reasons.
 */
export function exportLogsResponse(encoding: OtlpEncoding, total: number, rejected: readonly RejectedRecord[]): OtlpBody {
  const partialSuccess = rejected.length === 0 ? undefined : { rejectedLogRecords: rejected.length, errorMessage: rejectionMessage(total, rejected) };
  if (encoding === 'json') {
    // int64 as a decimal string, as protobuf's JSON mapping writes it
    const json = partialSuccess ? { partialSuccess: { ...partialSuccess, rejectedLogRecords: String(partialSuccess.rejectedLogRecords) } } : {};
    return { contentType: CONTENT_TYPES.json, body: Buffer.from(JSON.stringify(json)) };
  }
  const message = OTLP_TYPES.response.fromObject(partialSuccess ? { partialSuccess } : {});
  return { contentType: CONTENT_TYPES.protobuf, body: Buffer.from(OTLP_TYPES.response.encode(message).finish()) };
}

function rejectionMessage(total: number, rejected: readonly RejectedRecord[]): string {
  const reasons = rejected.slice(0, MAX_REASONS).map((r) => `resourceLogs[${r.resource}].scopeLogs[${r.scope}].logRecords[${r.record}]: ${r.reason}`);
  const more = rejected.length > MAX_REASONS ? `; and ${rejected.length - MAX_REASONS} more` : '';
  return `${rejected.length} of ${total} log records rejected (the others are stored): ${reasons.join('; ')}${more}`;
}

/** The gRPC status code the spec's google.rpc.Status carries for an HTTP status. */
function grpcCode(status: number): number {
  if (status === 400 || status === 415) return 3; // INVALID_ARGUMENT
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return 7; // PERMISSION_DENIED
  if (status === 404) return 5; // NOT_FOUND
  if (status === 413 || status === 429) return 8; // RESOURCE_EXHAUSTED
  if (status === 503) return 14; // UNAVAILABLE
  return 13; // INTERNAL
}

const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
const DOMAIN = 'central-logger';

/**
 * A 4xx/5xx body: google.rpc.Status (the spec's) with the message of the
 * service's error answer, and a google.rpc.ErrorInfo detail carrying its
 * error code (reason) and the request id. JSON for a request that was not
 * protobuf.
 */
export function statusBody(encoding: OtlpEncoding | undefined, status: number, error: { error: string; message: string; request_id: string }): OtlpBody {
  const info = { reason: error.error, domain: DOMAIN, metadata: { request_id: error.request_id } };
  if (encoding !== 'protobuf') {
    const json = { code: grpcCode(status), message: error.message, details: [{ '@type': ERROR_INFO_TYPE, ...info }] };
    return { contentType: CONTENT_TYPES.json, body: Buffer.from(JSON.stringify(json)) };
  }
  // protobufjs ships google.protobuf.Any with its field names as written: type_url
  const detail = { type_url: ERROR_INFO_TYPE, value: OTLP_TYPES.errorInfo.encode(OTLP_TYPES.errorInfo.fromObject(info)).finish() };
  const message = OTLP_TYPES.status.fromObject({ code: grpcCode(status), message: error.message, details: [detail] });
  return { contentType: CONTENT_TYPES.protobuf, body: Buffer.from(OTLP_TYPES.status.encode(message).finish()) };
}
