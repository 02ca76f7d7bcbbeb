import { z } from 'zod';
import { AppError, type ErrorDetail } from '@central-logger/errors';
import { parseLogQuery, type LogFilter, type RawQuery } from './query.js';

/** The bucket widths a histogram may ask for, and their length. */
export const HISTOGRAM_INTERVALS = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type HistogramInterval = keyof typeof HISTOGRAM_INTERVALS;

/** `auto` picks the narrowest interval giving at most this many buckets. */
export const AUTO_MAX_BUCKETS = 120;
/** A range and interval giving more buckets than this are refused (400), never cut short. */
export const MAX_HISTOGRAM_BUCKETS = 400;
/** The range when neither from nor to is given: the 24 hours before now. */
export const DEFAULT_HISTOGRAM_RANGE_MS = 86_400_000;

export interface HistogramQuery {
  /** The log filter, with from and to always set. */
  filter: LogFilter & { from: Date; to: Date };
  interval: HistogramInterval;
  intervalMs: number;
}

const intervalNames = ['1m', '5m', '1h', '1d', 'auto'] as const satisfies readonly (HistogramInterval | 'auto')[];

/** `interval`, the one parameter the histogram adds to `GET /api/v1/logs`'s filters; also the OpenAPI document's. */
export const histogramParamsSchema = z.strictObject({
  interval: z
    .enum(intervalNames, { message: `must be one of ${intervalNames.join(', ')}` })
    .default('auto')
    .describe(`bucket width (default auto: the narrowest giving at most ${AUTO_MAX_BUCKETS} buckets); at most ${MAX_HISTOGRAM_BUCKETS} buckets`),
});

/**
 * Parses `GET /api/v1/logs/histogram` parameters: the filters of
 * `GET /api/v1/logs` (parsed by parseLogQuery itself, so both endpoints
 * filter alike), `interval`, and a range defaulting to the 24 hours before
 * `now` (or before `to`). Every problem is one 400 validation_failed.
 */
export function parseHistogramQuery(raw: RawQuery, now = Date.now()): HistogramQuery {
  const details: ErrorDetail[] = [];
  const filters: RawQuery = Object.create(null) as RawQuery;
  let intervalRaw: string | string[] | undefined;
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'interval') intervalRaw = value;
    else if (name === 'limit' || name === 'cursor') details.push({ field: name, message: 'is not a parameter of this endpoint' });
    else filters[name] = value;
  }
  for (const [name, value] of Object.entries(raw)) {
    // Postgres cannot store or compare NUL: refuse it here rather than fail the query
    if ([value ?? ''].flat().some((v) => v.includes('\u0000'))) details.push({ field: name, message: 'must not contain NUL characters' });
  }
  if (Array.isArray(intervalRaw)) details.push({ field: 'interval', message: 'is given more than once' });
  const params = histogramParamsSchema.safeParse(Array.isArray(intervalRaw) ? {} : { interval: intervalRaw });
  for (const issue of params.error?.issues ?? []) details.push({ field: 'interval', message: issue.message });

  let filter: LogFilter | undefined;
  try {
    filter = parseLogQuery(filters).filter;
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== 'validation_failed') throw err;
    details.unshift(...(err.details ?? []));
  }
  fail(details);

  const to = filter!.to ?? (filter!.from ? new Date(Math.max(now, filter!.from.getTime() + 1)) : new Date(now));
  const from = filter!.from ?? new Date(to.getTime() - DEFAULT_HISTOGRAM_RANGE_MS);
  for (const [field, d] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (d.getUTCFullYear() < 1) details.push({ field, message: 'must be in year 1 or later' });
  }
  if (from >= to) details.push({ field: 'from', message: 'must be before to' });
  fail(details);
  const span = to.getTime() - from.getTime();
  const interval = params.data!.interval === 'auto' ? autoInterval(span) : params.data!.interval;
  if (!interval || bucketCount(from, to, HISTOGRAM_INTERVALS[interval]) > MAX_HISTOGRAM_BUCKETS) {
    fail([{ field: 'interval', message: `gives more than ${MAX_HISTOGRAM_BUCKETS} buckets over this range; choose a wider interval or a narrower range` }]);
  }
  return { filter: { ...filter!, from, to }, interval: interval!, intervalMs: HISTOGRAM_INTERVALS[interval!] };
}

/** Buckets aligned to the interval from the Unix epoch (UTC midnight for days) that [from, to) touches. */
export function bucketCount(from: Date, to: Date, intervalMs: number): number {
  const first = Math.floor(from.getTime() / intervalMs);
  const last = Math.floor((to.getTime() - 1) / intervalMs);
  return last - first + 1;
}

function autoInterval(spanMs: number): HistogramInterval | undefined {
  const names = Object.keys(HISTOGRAM_INTERVALS) as HistogramInterval[];
  return (
    names.find((n) => Math.ceil(spanMs / HISTOGRAM_INTERVALS[n]) + 1 <= AUTO_MAX_BUCKETS) ??
    names.find((n) => Math.ceil(spanMs / HISTOGRAM_INTERVALS[n]) + 1 <= MAX_HISTOGRAM_BUCKETS)
  );
}

function fail(details: ErrorDetail[]): void {
  if (details.length === 0) return;
  const names = [...new Set(details.map((d) => d.field ?? '?'))];
  throw new AppError('validation_failed', `Invalid query parameter${names.length > 1 ? 's' : ''}: ${names.join(', ')}`, { details });
}
