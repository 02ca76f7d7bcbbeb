import { createHash, hash, type Hash } from 'node:crypto';
import { isAppError } from '@central-logger/errors';
import { validateBatch, type BatchLimits, type Level, type QueuedEvent } from '@central-logger/events';
import { OTLP_TYPES, wireBytesOf, type ExportLogsRequestMessage, type KeyValueMessage, type LogRecordMessage, type ResourceLogsMessage, type ScopeLogsMessage } from './schema.js';
import { attributesToJson, isoMicros, nanos, scalarText, toJson, TooDeep, type JsonValue } from './values.js';

/** What a record without the attributes that name them is stored with. */
export const OTLP_DEFAULTS = {
  /** When the resource has neither `deployment.environment.name` nor `deployment.environment`. */
  environment: 'unknown',
  /** When neither the record nor the resource has `workflow.status`. */
  status: 'UNSET',
} as const;

/** The attributes that fill columns; they stay in metadata too. */
export const MAPPED_ATTRIBUTES = {
  workflow: 'service.name',
  environment: ['deployment.environment.name', 'deployment.environment'],
  runId: 'workflow.run_id',
  status: 'workflow.status',
} as const;

export interface RejectedRecord {
  /** Where the record is: its indexes in resourceLogs, scopeLogs and logRecords. */
  resource: number;
  scope: number;
  record: number;
  reason: string;
}

export interface MappedRequest {
  /** The valid records as queued events, in request order. */
  events: QueuedEvent[];
  rejected: RejectedRecord[];
}

export interface MapOptions {
  /** The same limits as `POST /api/v1/logs` (validateBatch's), per record. */
  limits: BatchLimits;
  /** Now, in ms since the epoch: for the future and retention checks, and the time of a record that has none. */
  now: number;
}

/** Log records in a request, counted before any is mapped (the events-per-request limit). */
export function countRecords(request: ExportLogsRequestMessage): number {
  let n = 0;
  for (const rl of request.resourceLogs) for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

/**
 * Maps every log record of an export request to an event (the mapping table
 * of the README) and checks it as `POST /api/v1/logs` checks an event. An
 * invalid record is rejected alone, with its reason; the others go on.
 */
export function mapExportRequest(request: ExportLogsRequestMessage, options: MapOptions): MappedRequest {
  const out: MappedRequest = { events: [], rejected: [] };
  const ids = new Map<string, number>();
  request.resourceLogs.forEach((rl, ri) => {
    const resource = resourceContext(rl, options.limits.maxMetadataDepth);
    rl.scopeLogs.forEach((sl, si) => {
      const scope = scopeContext(sl, resource, options.limits.maxMetadataDepth);
      sl.logRecords.forEach((record, li) => {
        const at = { resource: ri, scope: si, record: li };
        if (typeof scope === 'string') return void out.rejected.push({ ...at, reason: scope });
        const mapped = mapRecord(record, scope, ids, options);
        if (typeof mapped === 'string') out.rejected.push({ ...at, reason: mapped });
        else out.events.push(mapped);
      });
    });
  });
  return out;
}

interface ResourceContext {
  attributes: { [key: string]: JsonValue } | undefined;
  environment: string;
  workflow: string | null;
  runId: string | undefined;
  status: string | undefined;
  /** SHA-256 of the resource so far: the start of each of its records' event_id. */
  hash: Hash;
}

interface ScopeContext extends Omit<ResourceContext, 'hash'> {
  scope: { name?: string; version?: string; attributes?: { [key: string]: JsonValue } } | undefined;
  /** SHA-256 of the resource and the scope: what each record's event_id hashes first. */
  prefix: Buffer;
}

function resourceContext(rl: ResourceLogsMessage, maxDepth: number): ResourceContext | string {
  const pairs = rl.resource?.attributes ?? [];
  const hash = createHash('sha256');
  addPart(hash, OTLP_TYPES.resource.encode(rl.resource ?? {}).finish());
  try {
    return {
      attributes: pairs.length > 0 ? attributesToJson(pairs, maxDepth) : undefined,
      environment: textOf(pairs, MAPPED_ATTRIBUTES.environment[0]) ?? textOf(pairs, MAPPED_ATTRIBUTES.environment[1]) ?? OTLP_DEFAULTS.environment,
      workflow: textOf(pairs, MAPPED_ATTRIBUTES.workflow) ?? null,
      runId: textOf(pairs, MAPPED_ATTRIBUTES.runId),
      status: textOf(pairs, MAPPED_ATTRIBUTES.status),
      hash,
    };
  } catch (err) {
    if (err instanceof TooDeep) return `resource attributes: nested deeper than ${maxDepth} levels`;
    throw err;
  }
}

function scopeContext(sl: ScopeLogsMessage, resource: ResourceContext | string, maxDepth: number): ScopeContext | string {
  if (typeof resource === 'string') return resource;
  const s = sl.scope;
  const scopeHash = resource.hash.copy();
  addPart(scopeHash, OTLP_TYPES.scope.encode(s ?? {}).finish());
  const prefix = scopeHash.digest();
  if (!s || (!s.name && !s.version && s.attributes.length === 0)) return { ...resource, scope: undefined, prefix };
  try {
    const attributes = s.attributes.length > 0 ? attributesToJson(s.attributes, maxDepth) : undefined;
    return { ...resource, scope: { ...(s.name ? { name: s.name } : {}), ...(s.version ? { version: s.version } : {}), ...(attributes ? { attributes } : {}) }, prefix };
  } catch (err) {
    if (err instanceof TooDeep) return `scope attributes: nested deeper than ${maxDepth} levels`;
    throw err;
  }
}

/** The record as a queued event, or the reason it is rejected. */
function mapRecord(record: LogRecordMessage, ctx: ScopeContext, ids: Map<string, number>, options: MapOptions): QueuedEvent | string {
  const traceId = hexId(record.traceId, 16, 'traceId');
  const spanId = hexId(record.spanId, 8, 'spanId');
  if (traceId.problem || spanId.problem) return (traceId.problem ?? spanId.problem)!;
  const depth = options.limits.maxMetadataDepth;
  let attributes: { [key: string]: JsonValue } | undefined;
  let message: string | null;
  try {
    attributes = record.attributes.length > 0 ? attributesToJson(record.attributes, depth) : undefined;
    message = bodyText(record, depth);
  } catch (err) {
    if (err instanceof TooDeep) return `body or attributes: nested deeper than ${depth} levels`;
    throw err;
  }
  const ns = nanos(record.timeUnixNano) || nanos(record.observedTimeUnixNano) || BigInt(options.now) * 1_000_000n;
  const executedAt = isoMicros(ns);
  const metadata: Record<string, unknown> = {};
  if (traceId.hex) metadata.trace_id = traceId.hex;
  if (spanId.hex) metadata.span_id = spanId.hex;
  if (record.flags & 0xff) metadata.trace_flags = record.flags & 0xff;
  if (record.severityNumber) metadata.severity_number = record.severityNumber;
  if (record.severityText) metadata.severity_text = record.severityText;
  if (record.eventName) metadata.event_name = record.eventName;
  if (attributes) metadata.attributes = attributes;
  if (ctx.attributes) metadata.resource = ctx.attributes;
  if (ctx.scope) metadata.scope = ctx.scope;
  const item = {
    event_id: eventId(record, ctx.prefix, ids),
    // validated as milliseconds (what validateBatch keeps); stored with the record's microseconds
    executed_at: `${executedAt.slice(0, 23)}Z`,
    environment: ctx.environment,
    status: textOf(record.attributes, MAPPED_ATTRIBUTES.status) ?? ctx.status ?? OTLP_DEFAULTS.status,
    workflow: ctx.workflow,
    run_id: textOf(record.attributes, MAPPED_ATTRIBUTES.runId) ?? ctx.runId ?? null,
    level: levelOf(record.severityNumber, record.severityText),
    message,
    metadata,
  };
  try {
    const event = validateBatch([item], options.limits, noNewId, options.now)[0]!;
    event.executed_at = executedAt;
    return event;
  } catch (err) {
    if (!isAppError(err)) throw err;
    const detail = err.details?.[0];
    return detail ? `${detail.field ? `${detail.field}: ` : ''}${detail.message}` : err.message.replace('event 0', 'the record');
  }
}

/** The body as message text: a string as it is, any other value as JSON, none as null. */
function bodyText(record: LogRecordMessage, depth: number): string | null {
  const body = record.body;
  if (!body?.value) return null;
  if (body.value === 'stringValue') return body.stringValue!;
  return JSON.stringify(toJson(body, depth));
}

/**
 * `otel_` and 128 bits of SHA-256 over the resource, the scope and the
 * record as protobuf (the bytes it came in; from OTLP/JSON, as protobufjs
 * encodes it): the same record in a retried request gets the same id,
 * so the idempotent insert stores it once. The n-th copy of an identical
 * record within one request gets an id of its own (the digest and n hashed
 * again), so every record a request carries is kept.
 */
function eventId(record: LogRecordMessage, prefix: Buffer, ids: Map<string, number>): string {
  const bytes = wireBytesOf(record) ?? OTLP_TYPES.logRecord.encode(record).finish();
  // one-shot: cheaper than a Hash object per record
  const digest = hash('sha256', Buffer.concat([prefix, bytes], prefix.length + bytes.length), 'hex').slice(0, 32);
  const copies = ids.get(digest) ?? 0;
  ids.set(digest, copies + 1);
  if (copies === 0) return `otel_${digest}`;
  return `otel_${createHash('sha256').update(`${digest}:${copies}`).digest('hex').slice(0, 32)}`;
}

/** Length-prefixed, so that the parts cannot run into each other. */
function addPart(hash: Hash, bytes: Uint8Array): void {
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(bytes.length);
  hash.update(length).update(bytes);
}

function noNewId(): string {
  throw new Error('an OTLP record always has its event_id');
}

/** A trace or span id as lowercase hex; empty and all-zero ids are no id (the spec's "invalid"). */
function hexId(bytes: Uint8Array, length: number, name: string): { hex?: string; problem?: string } {
  if (bytes.length === 0) return {};
  if (bytes.length !== length) return { problem: `${name}: must be ${length} bytes (${length * 2} hex digits in JSON)` };
  if (bytes.every((b) => b === 0)) return {};
  return { hex: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') };
}

/** The last string, number or boolean value of `key` among `pairs`, trimmed; undefined when absent or blank. */
function textOf(pairs: readonly KeyValueMessage[], key: string): string | undefined {
  for (let i = pairs.length - 1; i >= 0; i--) {
    if (pairs[i]!.key !== key) continue;
    const text = scalarText(pairs[i]!.value)?.trim();
    return text ? text : undefined;
  }
  return undefined;
}

const TEXT_LEVELS: Record<string, Level> = { trace: 'debug', debug: 'debug', info: 'info', information: 'info', warn: 'warn', warning: 'warn', error: 'error', err: 'error', fatal: 'fatal', critical: 'fatal' };

/** severityNumber 1–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal; when unspecified, a severityText naming a level; else none. */
export function levelOf(severityNumber: number, severityText: string): Level | null {
  if (severityNumber >= 1 && severityNumber <= 24) return (['debug', 'debug', 'info', 'warn', 'error', 'fatal'] as const)[Math.ceil(severityNumber / 4) - 1]!;
  return TEXT_LEVELS[severityText.trim().toLowerCase()] ?? null;
}
