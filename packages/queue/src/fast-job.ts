import { LEVELS } from '@central-logger/events';
import { groupsOf, persistLogsJob, queuedEvent, type EventGroup } from './jobs.js';

// zod's own patterns, so both checks accept the same strings
const patternOf = (schema: unknown) => (schema as { _zod: { pattern: RegExp } })._zod.pattern;
const ISO = patternOf(queuedEvent.shape.executed_at);
const LEVEL_SET: ReadonlySet<unknown> = new Set(LEVELS);

export type ParsedJob = { success: true; groups: EventGroup[] } | { success: false; message: string };

/**
 * Parses a persist-logs payload. Jobs come from our own producers, so nearly
 * all pass a plain type check that takes the payload as it is, without the
 * copy zod makes (which cost a fifth of the worker's CPU); anything that does
 * not is left to zod, which decides and words the problem.
 */
export function parsePersistLogsJob(data: unknown): ParsedJob {
  const groups = (data as { groups?: unknown } | null)?.groups;
  if (Array.isArray(groups) && groups.length > 0 && groups.every(isGroup)) return { success: true, groups: groups as EventGroup[] };
  const parsed = persistLogsJob.safeParse(data);
  if (parsed.success) return { success: true, groups: groupsOf(parsed.data) };
  return { success: false, message: parsed.error.issues[0]?.message ?? 'unknown' };
}

function isGroup(g: unknown): boolean {
  if (!isPlainObject(g)) return false;
  const { client_id, key_id, received_at, events } = g as Record<string, unknown>;
  return (
    nonEmpty(client_id) &&
    nonEmpty(key_id) &&
    typeof received_at === 'string' &&
    ISO.test(received_at) &&
    Array.isArray(events) &&
    events.length > 0 &&
    events.every(isEvent)
  );
}

function isEvent(e: unknown): boolean {
  if (!isPlainObject(e)) return false;
  const o = e as Record<string, unknown>;
  return (
    nonEmpty(o.event_id) &&
    typeof o.executed_at === 'string' &&
    ISO.test(o.executed_at) &&
    typeof o.environment === 'string' &&
    typeof o.status === 'string' &&
    stringOrNull(o.workflow) &&
    stringOrNull(o.run_id) &&
    stringOrNull(o.message) &&
    (o.level === null || LEVEL_SET.has(o.level)) &&
    (o.duration_ms === null || (typeof o.duration_ms === 'number' && Number.isFinite(o.duration_ms))) &&
    isPlainObject(o.metadata) &&
    !Object.hasOwn(o.metadata as object, '__proto__')
  );
}

const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;
const stringOrNull = (v: unknown) => v === null || typeof v === 'string';

function isPlainObject(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
