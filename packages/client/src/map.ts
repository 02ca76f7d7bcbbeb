import type { LogEvent } from './options.js';

/** What a record lacks and the event needs. */
export interface EventDefaults {
  environment?: string;
  /** Default: FAILURE for error and fatal records, SUCCESS for the others. */
  status?: string;
  workflow?: string;
}

type Level = NonNullable<LogEvent['level']>;

const LEVEL_NAMES: Record<string, Level> = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  critical: 'fatal',
};
// fields of the event that may come as they are from a record, and their type
const TOP_LEVEL: Record<string, 'string' | 'number'> = {
  event_id: 'string',
  environment: 'string',
  status: 'string',
  workflow: 'string',
  run_id: 'string',
  duration_ms: 'number',
};

/** pino's numeric levels (10 trace … 60 fatal), or a level name, as the service's level. */
export function levelOf(level: unknown): Level | undefined {
  if (typeof level === 'number') return level >= 60 ? 'fatal' : level >= 50 ? 'error' : level >= 40 ? 'warn' : level >= 30 ? 'info' : 'debug';
  return typeof level === 'string' ? LEVEL_NAMES[level.toLowerCase()] : undefined;
}

/**
 * A log record (a pino line, or any JSON object) as an event: `msg` or
 * `message` → message, `time` or `timestamp` → executed_at (unless it has one), the
 * level mapped, the event's own fields kept, everything else in metadata.
 */
export function toEvent(record: Record<string, unknown>, defaults: EventDefaults = {}): LogEvent {
  const { level, time, timestamp, executed_at, msg, message, metadata, ...rest } = record;
  const meta: Record<string, unknown> = {};
  const top: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (TOP_LEVEL[k] !== undefined && typeof v === TOP_LEVEL[k]) top[k] = v;
    else meta[k] = v;
  }
  const mapped = levelOf(level);
  if (level !== undefined && mapped === undefined) meta.level = level;
  const text = typeof msg === 'string' ? msg : typeof message === 'string' ? message : undefined;
  Object.assign(meta, isObject(metadata) ? metadata : {});
  return {
    ...top,
    environment: (top.environment as string | undefined) ?? defaults.environment ?? '',
    status: (top.status as string | undefined) ?? defaults.status ?? (mapped === 'error' || mapped === 'fatal' ? 'FAILURE' : 'SUCCESS'),
    executed_at: typeof executed_at === 'string' ? executed_at : timeOf(time ?? timestamp),
    ...(top.workflow === undefined && defaults.workflow ? { workflow: defaults.workflow } : {}),
    ...(mapped ? { level: mapped } : {}),
    ...(text !== undefined ? { message: text } : {}),
    ...(Object.keys(meta).length > 0 ? { metadata: meta } : {}),
  };
}

/** Epoch milliseconds or a date string as ISO 8601; now when absent or unreadable. */
function timeOf(t: unknown): string {
  const d = typeof t === 'number' || typeof t === 'string' ? new Date(t) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : new Date().toISOString();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
