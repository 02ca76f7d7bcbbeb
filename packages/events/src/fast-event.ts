import { eventSchema, LEVELS, type EventInput } from './event.js';

// zod's own pattern for executed_at, so both paths accept the same strings
const EXECUTED_AT = (eventSchema.shape.executed_at as unknown as { _zod: { pattern: RegExp } })._zod.pattern;
const EVENT_ID = /^[\x21-\x7e]+$/;
const LEVEL_SET: ReadonlySet<string> = new Set(LEVELS);

/**
 * The hot path of event validation: what `eventSchema.parse` would return
 * for an event that is valid, about 5× faster than zod; undefined for
 * anything it is not sure of, and then zod decides and words the errors. So
 * error details are zod's by construction, and this only has to agree with
 * zod on what it accepts (test/logs-ingest.validator.test.ts checks parity).
 */
export function fastParseEvent(item: unknown): EventInput | undefined {
  if (!isPlainObject(item) || Object.hasOwn(item, '__proto__')) return undefined;
  const o = item as Record<string, unknown>;
  const environment = text(o.environment, 100);
  const status = text(o.status, 64);
  const executedAt = o.executed_at;
  if (environment === undefined || status === undefined || typeof executedAt !== 'string' || !EXECUTED_AT.test(executedAt)) return undefined;
  const out: Record<string, unknown> = { ...o, environment, status, executed_at: executedAt };
  if (o.event_id !== undefined) {
    const id = text(o.event_id, 128);
    if (id === undefined || !EVENT_ID.test(id)) return undefined;
    out.event_id = id;
  }
  for (const [field, max] of [
    ['workflow', 256],
    ['run_id', 256],
  ] as const) {
    if (o[field] === undefined || o[field] === null) continue;
    const v = text(o[field], max);
    if (v === undefined) return undefined;
    out[field] = v;
  }
  if (o.level !== undefined && o.level !== null) {
    if (typeof o.level !== 'string' || !LEVEL_SET.has(o.level.toLowerCase())) return undefined;
    out.level = o.level.toLowerCase();
  }
  if (o.message !== undefined && o.message !== null && typeof o.message !== 'string') return undefined;
  const d = o.duration_ms;
  if (d !== undefined && d !== null && (typeof d !== 'number' || !Number.isFinite(d) || d < 0)) return undefined;
  if (o.metadata !== undefined && o.metadata !== null) {
    if (!isPlainObject(o.metadata) || Object.hasOwn(o.metadata, '__proto__')) return undefined;
    out.metadata = { ...o.metadata };
  }
  return out as EventInput;
}

function text(v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t.length >= 1 && t.length <= max ? t : undefined;
}

function isPlainObject(v: unknown): v is object {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
