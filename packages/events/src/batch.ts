import { z } from 'zod';
import { AppError, type ErrorDetail } from '@central-logger/errors';
import { eventSchema, toQueuedEvent, type EventInput, type QueuedEvent } from './event.js';
import { fastParseEvent } from './fast-event.js';
import { checkStorable } from './storable.js';

export interface BatchLimits {
  maxEvents: number;
  maxEventBytes: number;
  maxMetadataDepth: number;
  /** Latest accepted executed_at, as milliseconds from now. */
  maxFutureMs: number;
  /** Oldest accepted executed_at, in days before now: the client's retention (older rows would be deleted at once). */
  maxAgeDays?: number | null;
}

const MAX_DETAILS = 100;

/** The 202 answer of `POST /api/v1/logs`; also the OpenAPI document's. */
export const ingestAcceptedSchema = z.object({
  accepted: z.number().int().describe('events accepted: all of the request, or none'),
  ids: z.array(z.string()).describe('their event_ids, in request order (generated where the event had none)'),
});
export type IngestAccepted = z.infer<typeof ingestAcceptedSchema>;

/**
 * Takes a parsed body (one event, an array, or `{"logs": [...]}`) and returns
 * the events to queue. The request is accepted or rejected whole: any invalid
 * event fails it with every problem listed by event index and field.
 */
export function validateBatch(body: unknown, limits: BatchLimits, newId: () => string, now = Date.now()): QueuedEvent[] {
  const items = eventsOf(body);
  if (items.length === 0) throw new AppError('validation_failed', 'The request holds no events');
  if (items.length > limits.maxEvents) {
    throw new AppError('payload_too_large', `A request may hold at most ${limits.maxEvents} events; this one holds ${items.length}`);
  }
  const details: ErrorDetail[] = [];
  const events: QueuedEvent[] = [];
  for (let index = 0; index < items.length && details.length < MAX_DETAILS; index++) {
    const item = items[index];
    const storable = checkStorable(item, limits.maxMetadataDepth + 1);
    if (storable.bytes > limits.maxEventBytes) {
      throw new AppError('payload_too_large', `An event may be at most ${limits.maxEventBytes} bytes; event ${index} is about ${storable.bytes}`);
    }
    if (storable.problem?.tooDeep) {
      const at = storable.problem.path ? ` (at ${storable.problem.path})` : '';
      throw new AppError('payload_too_large', `Metadata may be nested at most ${limits.maxMetadataDepth} levels deep; event ${index} is nested deeper${at}`);
    }
    if (storable.problem) {
      details.push({ index, field: storable.problem.path || undefined, message: storable.problem.message });
    }
    const input = parseEvent(item, storable.problem === undefined, index, details);
    if (input === undefined) continue;
    const event = toQueuedEvent(input, newId);
    // before year 1 in UTC ('0000-…', or '-…' after an offset): Postgres refuses it, so the worker would dead-letter it
    if (event.executed_at < '0001') {
      details.push({ index, field: 'executed_at', message: 'must be in year 1 or later (UTC): Postgres stores no earlier dates' });
      continue;
    }
    if (Date.parse(event.executed_at) - now > limits.maxFutureMs) {
      details.push({ index, field: 'executed_at', message: `is more than ${Math.round(limits.maxFutureMs / 3_600_000)} h in the future` });
      continue;
    }
    if (limits.maxAgeDays && now - Date.parse(event.executed_at) > limits.maxAgeDays * 86_400_000) {
      details.push({ index, field: 'executed_at', message: `is older than this client's retention of ${limits.maxAgeDays} days` });
      continue;
    }
    events.push(event);
  }
  if (details.length > 0) {
    const n = new Set(details.map((d) => d.index)).size;
    throw new AppError('validation_failed', `${n} of ${items.length} events are invalid; nothing was accepted`, { details: details.slice(0, MAX_DETAILS) });
  }
  return events;
}

/** The event's input, or undefined with zod's issues added to `details`; the fast path first when the event is storable. */
function parseEvent(item: unknown, storable: boolean, index: number, details: ErrorDetail[]): EventInput | undefined {
  const fast = storable ? fastParseEvent(item) : undefined;
  if (fast) return fast;
  const parsed = eventSchema.safeParse(item);
  for (const issue of parsed.error?.issues ?? []) {
    details.push({ index, field: issue.path.join('.') || undefined, message: issue.message });
  }
  return parsed.success && storable ? parsed.data : undefined;
}

function eventsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (body !== null && typeof body === 'object') {
    const logs = (body as { logs?: unknown }).logs;
    if (logs !== undefined) {
      if (!Array.isArray(logs)) throw new AppError('validation_failed', '"logs" must be an array of events');
      return logs;
    }
    return [body];
  }
  throw new AppError('validation_failed', 'The body must be an event object, an array of events, or {"logs": [...]}');
}

/** Parses NDJSON text: one event per non-empty line. */
export function parseNdjson(text: string): unknown[] {
  const out: unknown[] = [];
  const details: ErrorDetail[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      details.push({ index: out.length + details.length, message: `line ${i + 1} is not valid JSON` });
      if (details.length >= MAX_DETAILS) break;
    }
  }
  if (details.length > 0) throw new AppError('validation_failed', 'The NDJSON body has lines that are not valid JSON', { details });
  return out;
}
