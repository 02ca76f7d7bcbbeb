import { createHash, hash, type Hash } from 'node:crypto';
import { isAppError } from '@central-logger/errors';
import { checkShared, validateBatch, type BatchLimits, type Level, type QueuedEvent } from '@central-logger/events';
import {
  OTLP_TYPES,
  wireBytesOf,
  type ExportLogsRequestMessage,
  type KeyValueMessage,
  type LogRecordMessage,
  type ResourceLogsMessage,
  type ScopeLogsMessage,
} from './schema.js';
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
  const rejected: RejectedRecord[] = [];
  const mapped: MappedRecord[] = [];
  const ids = new Map<string, number>();
  const depth = options.limits.maxMetadataDepth;
  for (let ri = 0; ri < request.resourceLogs.length; ri++) {
    const rl = request.resourceLogs[ri]!;
    const resource = resourceContext(rl, depth);
    for (let si = 0; si < rl.scopeLogs.length; si++) {
      const sl = rl.scopeLogs[si]!;
      const scope = scopeContext(sl, resource, depth);
      for (let li = 0; li < sl.logRecords.length; li++) {
        const record = typeof scope === 'string' ? scope : mapRecord(sl.logRecords[li]!, scope, ids, options);
        if (typeof record === 'string') rejected.push({ resource: ri, scope: si, record: li, reason: record });
        else mapped.push({ item: record.item, executedAt: record.executedAt, resource: ri, scope: si, record: li });
      }
    }
  }
  return { events: validateRecords(mapped, options, rejected), rejected };
}

/** A record mapped to an event, not yet checked; where it is in the request. */
interface MappedRecord {
  item: EventItem;
  /** executed_at with the record's microseconds (validateBatch keeps milliseconds). */
  executedAt: string;
  resource: number;
  scope: number;
  record: number;
}

type EventItem = Omit<QueuedEvent, 'duration_ms'>;

/**
 * Checks the mapped records as `POST /api/v1/logs` checks events
 * (validateBatch), all in one call; only when some record fails is each
 * checked alone, so that just the invalid ones are rejected, with their reasons.
 */
function validateRecords(mapped: MappedRecord[], options: MapOptions, rejected: RejectedRecord[]): QueuedEvent[] {
  if (mapped.length === 0) return [];
  let events: QueuedEvent[] | undefined;
  try {
    events = validateBatch(
      mapped.map((m) => m.item),
      options.limits,
      noNewId,
      options.now,
    );
  } catch (err) {
    if (!isAppError(err)) throw err;
  }
  if (events) {
    for (let i = 0; i < events.length; i++) events[i]!.executed_at = mapped[i]!.executedAt;
    return events;
  }
  events = [];
  for (const m of mapped) {
    const event = validateRecord(m, options);
    if (typeof event === 'string') rejected.push({ resource: m.resource, scope: m.scope, record: m.record, reason: event });
    else events.push(event);
  }
  rejected.sort((a, b) => a.resource - b.resource || a.scope - b.scope || a.record - b.record);
  return events;
}

/** One record checked alone: its event, or why it is rejected. */
function validateRecord(m: MappedRecord, options: MapOptions): QueuedEvent | string {
  try {
    const event = validateBatch([m.item], options.limits, noNewId, options.now)[0]!;
    event.executed_at = m.executedAt;
    return event;
  } catch (err) {
    if (!isAppError(err)) throw err;
    const detail = err.details?.[0];
    return detail ? `${detail.field ? `${detail.field}: ` : ''}${detail.message}` : err.message.replace('event 0', 'the record');
  }
}

/**
 * The resource's attributes and the scope are shared by every record of
 * theirs, as `metadata.resource` and `metadata.scope`: checked once for what
 * Postgres can store (`checkShared`), one level below the metadata, so that
 * the check of each record counts them without walking them again.
 */
const METADATA_LEVEL = 1;

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
    const attributes = pairs.length > 0 ? attributesToJson(pairs, maxDepth) : undefined;
    if (attributes) checkShared(attributes, maxDepth - METADATA_LEVEL);
    return {
      attributes,
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
    const scope = { ...(s.name ? { name: s.name } : {}), ...(s.version ? { version: s.version } : {}), ...(attributes ? { attributes } : {}) };
    checkShared(scope, maxDepth - METADATA_LEVEL);
    return { ...resource, scope, prefix };
  } catch (err) {
    if (err instanceof TooDeep) return `scope attributes: nested deeper than ${maxDepth} levels`;
    throw err;
  }
}

/** The record as an event to check, or the reason it is rejected. */
function mapRecord(
  record: LogRecordMessage,
  ctx: ScopeContext,
  ids: Map<string, number>,
  options: MapOptions,
): Pick<MappedRecord, 'item' | 'executedAt'> | string {
  const traceId = hexId(record.traceId, 16);
  if (traceId === undefined) return 'traceId: must be 16 bytes (32 hex digits in JSON)';
  const spanId = hexId(record.spanId, 8);
  if (spanId === undefined) return 'spanId: must be 8 bytes (16 hex digits in JSON)';
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
  const stamped = nanos(record.timeUnixNano) || nanos(record.observedTimeUnixNano);
  const executedAt = isoMicros(stamped || BigInt(options.now) * 1_000_000n);
  const metadata: Record<string, unknown> = {};
  if (traceId) metadata.trace_id = traceId;
  if (spanId) metadata.span_id = spanId;
  if (record.flags & 0xff) metadata.trace_flags = record.flags & 0xff;
  if (record.severityNumber) metadata.severity_number = record.severityNumber;
  if (record.severityText) metadata.severity_text = record.severityText;
  if (record.eventName) metadata.event_name = record.eventName;
  if (attributes) metadata.attributes = attributes;
  if (ctx.attributes) metadata.resource = ctx.attributes;
  if (ctx.scope) metadata.scope = ctx.scope;
  const item = {
    event_id: eventId(record, stamped, ctx.prefix, ids),
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
  return { item, executedAt };
}

/** The body as message text: a string as it is, any other value as JSON, none as null. */
function bodyText(record: LogRecordMessage, depth: number): string | null {
  const body = record.body;
  if (!body?.value) return null;
  if (body.value === 'stringValue') return body.stringValue!;
  return JSON.stringify(toJson(body, depth));
}

/**
 * `otel_`, the record's own time in milliseconds (12 hex digits; zeros when
 * it has none: never the arrival time, which a retry would change), and 128
 * bits of SHA-256 over the resource, the scope and the record as protobuf
 * (the bytes it came in; from OTLP/JSON, as protobufjs encodes it): the same
 * record in a retried request gets the same id, so the idempotent insert
 * stores it once. The time in front keeps a tenant's new ids together at the
 * end of the unique index, as time-ordered ids are: a digest alone put each
 * record of a batch on a leaf page of its own, and cost Postgres more per row
 * (more pages dirtied, each a full-page image in the WAL after a checkpoint).
 * The n-th copy of an identical record within one request gets an id of its
 * own (the digest and n hashed again), so every record a request carries is kept.
 */
function eventId(record: LogRecordMessage, stamped: bigint, prefix: Buffer, ids: Map<string, number>): string {
  const bytes = wireBytesOf(record) ?? OTLP_TYPES.logRecord.encode(record).finish();
  // one-shot: cheaper than a Hash object per record
  const digest = hash('sha256', Buffer.concat([prefix, bytes], prefix.length + bytes.length), 'hex').slice(0, 32);
  const copies = ids.get(digest) ?? 0;
  ids.set(digest, copies + 1);
  const time = (stamped / 1_000_000n).toString(16).padStart(12, '0');
  if (copies === 0) return `otel_${time}${digest}`;
  return `otel_${time}${createHash('sha256').update(`${digest}:${copies}`).digest('hex').slice(0, 32)}`;
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

/**
 * A trace or span id as lowercase hex; '' for none (empty, or all zero: the
 * spec's invalid id); undefined when it is not `length` bytes.
 */
function hexId(bytes: Uint8Array, length: number): string | undefined {
  if (bytes.length === 0) return '';
  if (bytes.length !== length) return undefined;
  let set = 0;
  for (let i = 0; i < length; i++) set |= bytes[i]!;
  if (set === 0) return '';
  // protobufjs decodes bytes as Buffers in Node; an id from OTLP/JSON may be a Uint8Array
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('hex');
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

const TEXT_LEVELS: Record<string, Level> = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  information: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  fatal: 'fatal',
  critical: 'fatal',
};

/** severityNumber 1–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal; when unspecified, a severityText naming a level; else none. */
export function levelOf(severityNumber: number, severityText: string): Level | null {
  if (severityNumber >= 1 && severityNumber <= 24) return (['debug', 'debug', 'info', 'warn', 'error', 'fatal'] as const)[Math.ceil(severityNumber / 4) - 1]!;
  return TEXT_LEVELS[severityText.trim().toLowerCase()] ?? null;
}
