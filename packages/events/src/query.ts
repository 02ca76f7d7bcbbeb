import { z } from 'zod';
import { AppError, type ErrorDetail } from '@central-logger/errors';
import { LEVELS, type Level } from './event.js';

/** What a tenant may filter its logs on; every field narrows the result. */
export interface LogFilter {
  /** executed_at at or after. */
  from?: Date;
  /** executed_at before. */
  to?: Date;
  status?: string;
  environment?: string;
  workflow?: string;
  runId?: string;
  /** metadata.trace_id (OTLP records keep their trace id there, lowercase hex). */
  traceId?: string;
  /** metadata.span_id. */
  spanId?: string;
  level?: Level;
  /** Text the message contains, case-insensitive. */
  q?: string;
  /** Top-level metadata fields and the text their value must equal. */
  metadata?: Record<string, string>;
}

export interface LogQuery {
  filter: LogFilter;
  limit: number;
  /** The opaque cursor as sent; the caller verifies it. */
  cursor?: string;
}

/** Most groups a stats answer holds (for status, environment and workflow: the largest). */
export const MAX_STATS_GROUPS = 1000;
export const STATS_GROUPS = ['status', 'environment', 'workflow', 'hour', 'day'] as const;
export type StatsGroup = (typeof STATS_GROUPS)[number];

export interface StatsQuery {
  from: Date;
  to: Date;
  groupBy: StatsGroup;
}

/** Query parameters as Koa's `ctx.query` gives them (a map without a prototype, from node:querystring). */
export type RawQuery = Record<string, string | string[] | undefined>;

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const MAX_METADATA_FILTERS = 10;
/** Names that would reach an object's prototype if a map of parameters had one; refused whatever the endpoint. */
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const STORABLE_DATES = 'must be from year 1 to year 9999 (UTC): Postgres stores no other dates';
const METADATA_FIELD = /^[A-Za-z0-9_-]{1,64}$/;
const DAY_MS = 86_400_000;

const text = z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const instant = z
  .union([z.iso.datetime({ offset: true, local: true }), z.iso.date()], {
    message: 'must be an ISO 8601 date or date-time, e.g. 2026-01-06T12:00:00Z',
  })
  .transform((s, ctx) => {
    const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) || !s.includes('T') ? s : `${s}Z`);
    if (isStorableDate(date)) return date;
    ctx.issues.push({ code: 'custom', message: STORABLE_DATES, input: s });
    return z.NEVER;
  });
const hexId = (digits: number) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${digits}}$`), `must be ${digits} hex digits`)
    .transform((s) => s.toLowerCase());
const level = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(LEVELS, { message: `must be one of ${LEVELS.join(', ')}` }));

/** `GET /api/v1/logs` query parameters (but `metadata.<field>`); also the OpenAPI document's. */
export const logQuerySchema = z.strictObject({
  from: instant.optional().describe('executed_at at or after this (ISO 8601 date or date-time)'),
  to: instant.optional().describe('executed_at before this (ISO 8601 date or date-time)'),
  status: text.optional().describe('exactly this status'),
  environment: text.optional().describe('exactly this environment'),
  workflow: text.optional().describe('exactly this workflow'),
  run_id: text.optional().describe('exactly this run_id'),
  trace_id: hexId(32).optional().describe('metadata.trace_id is this trace id (32 hex digits; OTLP records keep theirs there)'),
  span_id: hexId(16).optional().describe('metadata.span_id is this span id (16 hex digits)'),
  level: level.optional().describe(`one of ${LEVELS.join(', ')}`),
  q: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional().describe('text in the message, case-insensitive'),
  limit: z
    .string()
    .regex(/^\d+$/, `must be a whole number from 1 to ${MAX_LIMIT}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be from 1 to ${MAX_LIMIT}`).max(MAX_LIMIT, `must be from 1 to ${MAX_LIMIT}`))
    .optional()
    .describe(`rows per page, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT}); not with an NDJSON export`),
  cursor: z.string().min(1).max(1024).optional().describe('next_cursor of the previous page; not with an NDJSON export'),
});

/** The one parameter family outside logQuerySchema: `metadata.<field>=value`. */
export const METADATA_FILTER = {
  name: 'metadata.{field}',
  description: `a top-level metadata field equals this text (letters, digits, _ or - in the name; at most ${MAX_METADATA_FILTERS})`,
};

/** `GET /api/v1/stats` query parameters; also the OpenAPI document's. */
export const statsQuerySchema = z.strictObject({
  from: instant.optional().describe('executed_at at or after this (default: 30 days before to)'),
  to: instant.optional().describe('executed_at before this (default: now)'),
  group_by: z
    .enum(STATS_GROUPS, { message: `must be one of ${STATS_GROUPS.join(', ')}` })
    .default('status')
    .describe('what to count by'),
});

/**
 * Parses `GET /api/v1/logs` parameters. Unknown parameters, repeated ones and
 * bad values are all 400 validation_failed naming each parameter. `export`
 * (NDJSON) streams every matching row, so it takes no limit or cursor.
 */
export function parseLogQuery(raw: RawQuery, options: { export?: boolean } = {}): LogQuery {
  const { single, metadata, details } = splitParams(raw);
  const parsed = logQuerySchema.safeParse(single);
  details.push(...issuesOf(parsed.error));
  if (options.export) {
    for (const p of ['limit', 'cursor'] as const) {
      if (single[p] !== undefined) details.push({ field: p, message: 'is not used by an NDJSON export, which streams every matching row' });
    }
  }
  const v = parsed.data;
  if (v?.from && v.to && v.from >= v.to) details.push({ field: 'from', message: 'must be before to' });
  fail(details);
  const filter: LogFilter = {
    from: v!.from,
    to: v!.to,
    status: v!.status,
    environment: v!.environment,
    workflow: v!.workflow,
    runId: v!.run_id,
    traceId: v!.trace_id,
    spanId: v!.span_id,
    level: v!.level,
    q: v!.q,
    metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
  };
  return { filter: dropUndefined(filter), limit: v!.limit ?? DEFAULT_LIMIT, cursor: v!.cursor };
}

/** Longest live tail cursor taken: it holds two Postgres snapshots, which list the transactions in flight. */
export const MAX_TAIL_CURSOR = 8192;

/**
 * Parses `GET /api/v1/logs/tail` parameters: the filters of `GET
 * /api/v1/logs`, and `cursor` (a tail position, checked by the caller). No
 * time range and no limit: a tail sends every matching event as it is stored.
 */
export function parseTailQuery(raw: RawQuery): { filter: LogFilter; cursor?: string } {
  const { cursor, ...rest } = Object.assign(Object.create(null) as RawQuery, raw);
  const details: ErrorDetail[] = [];
  for (const p of ['from', 'to', 'limit'] as const) {
    if (rest[p] !== undefined) details.push({ field: p, message: 'is not used by the live tail, which sends every matching event as it is stored' });
  }
  if (Array.isArray(cursor)) details.push({ field: 'cursor', message: 'is given more than once' });
  else if (cursor !== undefined && (cursor.length === 0 || cursor.length > MAX_TAIL_CURSOR))
    details.push({ field: 'cursor', message: `must be 1 to ${MAX_TAIL_CURSOR} characters` });
  let filter: LogFilter = {};
  try {
    filter = parseLogQuery(rest).filter;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    details.push(...(err.details ?? []).filter((d) => !['from', 'to', 'limit'].includes(d.field ?? '')));
  }
  fail(details);
  return { filter, cursor: cursor as string | undefined };
}

/** Parses `GET /api/v1/stats` parameters; the range defaults to the 30 days before `now`. */
export function parseStatsQuery(raw: RawQuery, now = Date.now()): StatsQuery {
  const { single, metadata, details } = splitParams(raw);
  for (const field of Object.keys(metadata)) details.push({ field: `metadata.${field}`, message: 'is not a parameter of this endpoint' });
  const parsed = statsQuerySchema.safeParse(single);
  details.push(...issuesOf(parsed.error));
  const v = parsed.data;
  const to = v?.to ?? new Date(now);
  const from = v?.from ?? new Date(to.getTime() - 30 * DAY_MS);
  if (v && !isStorableDate(from)) details.push({ field: 'from', message: `defaults to 30 days before to, and ${STORABLE_DATES}; give from` });
  else if (v && from >= to) details.push({ field: 'from', message: 'must be before to' });
  const bucketMs = v?.group_by === 'hour' ? 3_600_000 : v?.group_by === 'day' ? DAY_MS : undefined;
  if (bucketMs && to.getTime() - from.getTime() > MAX_STATS_GROUPS * bucketMs) {
    details.push({ field: 'from', message: `spans more than ${MAX_STATS_GROUPS} ${v!.group_by}s; narrow the range or group by day` });
  }
  fail(details);
  return { from, to, groupBy: v!.group_by };
}

/**
 * Sorts parameters into plain ones and `metadata.<field>` filters, in maps
 * without a prototype, refusing what no endpoint takes: prototype names,
 * repeated parameters, and NUL characters (Postgres stores and searches no
 * text with them).
 */
function splitParams(raw: RawQuery) {
  const single: Record<string, string> = Object.create(null);
  const metadata: Record<string, string> = Object.create(null);
  const details: ErrorDetail[] = [];
  for (const name of Object.keys(raw)) {
    const value = raw[name];
    if (value === undefined) continue;
    if (name.split('.').some((part) => FORBIDDEN_NAMES.has(part))) {
      details.push({ field: name, message: 'is not a known parameter' });
      continue;
    }
    if (Array.isArray(value)) {
      details.push({ field: name, message: 'is given more than once' });
      continue;
    }
    if (value.includes('\u0000')) {
      details.push({ field: name, message: 'contains a NUL character (%00), which no value may hold' });
      continue;
    }
    if (name.startsWith('metadata.')) {
      const field = name.slice('metadata.'.length);
      if (!METADATA_FIELD.test(field)) details.push({ field: name, message: 'must name a top-level metadata field of letters, digits, _ or - (at most 64)' });
      else if (value.length === 0 || value.length > 256) details.push({ field: name, message: 'must be 1 to 256 characters' });
      else metadata[field] = value;
      continue;
    }
    single[name] = value;
  }
  if (Object.keys(metadata).length > MAX_METADATA_FILTERS) {
    details.push({ field: 'metadata', message: `at most ${MAX_METADATA_FILTERS} metadata filters` });
  }
  return { single, metadata, details };
}

/** Whether Postgres can store `date` as a timestamptz given in UTC (year 1 to 9999). */
export function isStorableDate(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(year) && year >= 1 && year <= 9999;
}

function issuesOf(error: z.ZodError | undefined): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const issue of error?.issues ?? []) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: key, message: 'is not a known parameter' });
    } else {
      out.push({ field: issue.path.join('.') || undefined, message: issue.message });
    }
  }
  return out;
}

function fail(details: ErrorDetail[]): void {
  if (details.length === 0) return;
  const names = [...new Set(details.map((d) => d.field ?? '?'))];
  throw new AppError('validation_failed', `Invalid query parameter${names.length > 1 ? 's' : ''}: ${names.join(', ')}`, { details });
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
