import { AppError } from '@central-logger/errors';
import { checkJsonDepth } from '@central-logger/http';
import { OTLP_TYPES, type ExportLogsRequestMessage } from './schema.js';

export type OtlpEncoding = 'protobuf' | 'json';

const MEDIA_TYPES: Record<string, OtlpEncoding> = {
  'application/x-protobuf': 'protobuf',
  'application/protobuf': 'protobuf',
  'application/json': 'json',
};

/**
 * The request's encoding, which is also the answer's, from its Content-Type:
 * `encoding` is undefined for any other media type (415, answered in JSON).
 */
export function otlpEncodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const [media = '', ...params] = (contentType ?? '')
    .toLowerCase()
    .split(';')
    .map((s) => s.trim());
  const encoding = MEDIA_TYPES[media];
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replaceAll('"', '');
  if (encoding === 'json' && charset && charset !== 'utf-8' && charset !== 'utf8') return undefined;
  return encoding;
}

/** 415 for a body OTLP/HTTP does not define, or a Content-Encoding other than gzip. */
export function checkOtlpHeaders(encoding: OtlpEncoding | undefined, contentEncoding: string | undefined): { gzip: boolean } {
  if (!encoding) throw new AppError('unsupported_media_type', 'Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)');
  const coding = (contentEncoding ?? 'identity').toLowerCase().trim();
  if (coding !== 'identity' && coding !== 'gzip') throw new AppError('unsupported_media_type', 'Content-Encoding must be gzip or absent');
  return { gzip: coding === 'gzip' };
}

/**
 * Most objects and arrays an OTLP/JSON body may have open at once, checked on
 * the text before JSON.parse (whose time grows with nesting). The converter
 * behind it stops at 100 nested messages, about two JSON levels each.
 */
export const MAX_JSON_DEPTH = 256;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes an ExportLogsServiceRequest; 400 validation_failed when the body is not one. */
export function decodeExportRequest(body: Uint8Array, encoding: OtlpEncoding): ExportLogsRequestMessage {
  if (encoding === 'protobuf') {
    try {
      return OTLP_TYPES.request.decode(body) as unknown as ExportLogsRequestMessage;
    } catch (err) {
      throw undecodable('protobuf', err);
    }
  }
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new AppError('validation_failed', 'The body is not valid UTF-8');
  }
  if (text.trim() === '') return { resourceLogs: [] };
  checkJsonDepth(text, { maxDepth: MAX_JSON_DEPTH, perLine: false, describe: 'an OTLP/JSON request' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AppError('validation_failed', 'The body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new AppError('validation_failed', 'The body is not an OTLP/JSON ExportLogsServiceRequest (a JSON object)');
  }
  hexIdsToBytes(parsed);
  try {
    return OTLP_TYPES.request.fromObject(parsed) as unknown as ExportLogsRequestMessage;
  } catch (err) {
    throw undecodable('JSON', err);
  }
}

function undecodable(what: string, err: unknown): AppError {
  const reason = err instanceof Error ? `: ${err.message.replace(/^\.opentelemetry\.proto\.[\w.]+\./, '')}` : '';
  return new AppError('validation_failed', `The body is not a valid OTLP ${what} ExportLogsServiceRequest${reason}`, { cause: err });
}

const HEX_ID_LENGTHS = { traceId: 32, spanId: 16 } as const;
/** What an id that is not hex of its length becomes: bytes of a wrong length, which the record's mapping rejects. */
export const INVALID_ID = Uint8Array.of(0);

/**
 * OTLP/JSON sends traceId and spanId as hex, where protobuf's JSON mapping
 * (which protobufjs follows) has base64: they become bytes before
 * `fromObject`. The walk follows only the shape of a request and leaves
 * anything else to the converter.
 */
function hexIdsToBytes(request: object): void {
  for (const rl of arrayAt(request, 'resourceLogs')) {
    for (const sl of arrayAt(rl, 'scopeLogs')) {
      for (const record of arrayAt(sl, 'logRecords')) {
        if (record === null || typeof record !== 'object') continue;
        const r = record as Record<string, unknown>;
        for (const [field, length] of Object.entries(HEX_ID_LENGTHS)) {
          const id = r[field];
          if (typeof id !== 'string') continue;
          r[field] = id === '' ? new Uint8Array(0) : id.length === length && /^[0-9a-fA-F]+$/.test(id) ? Buffer.from(id, 'hex') : INVALID_ID;
        }
      }
    }
  }
}

function arrayAt(o: unknown, key: string): unknown[] {
  if (o === null || typeof o !== 'object') return [];
  const v = (o as Record<string, unknown>)[key];
  return Array.isArray(v) ? v : [];
}
