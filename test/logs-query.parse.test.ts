import { parse } from 'node:querystring';
import { describe, expect, it } from 'vitest';
import { AppError } from '@central-logger/errors';
import { parseLogQuery, parseStatsQuery } from '@central-logger/events';

/** The AppError a parse throws for `qs` (parsed as Koa parses ctx.query). */
function refusal(qs: string, parser: (raw: ReturnType<typeof parse>) => unknown = parseLogQuery): AppError {
  try {
    parser(parse(qs));
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error(`${qs} was accepted`);
}

describe('query parameters Postgres cannot take are refused at parse', () => {
  it.each(['q=a%00b', 'status=%00', 'environment=x%00', 'metadata.region=eu%00', 'cursor=%00'])('NUL in %s', (qs) => {
    const err = refusal(qs);
    expect(err.code).toBe('validation_failed');
    expect(err.details).toEqual([{ field: qs.split('=')[0], message: 'contains a NUL character (%00), which no value may hold' }]);
  });

  it.each(['from=0000-01-01', 'to=0000-12-31T23:59:59Z', 'from=0001-01-01T00:30:00%2B01:00', 'to=9999-12-31T23:00:00-05:00', 'from=2026-02-30'])(
    'a date outside what Postgres stores: %s',
    (qs) => {
      for (const parser of [parseLogQuery, parseStatsQuery]) {
        const err = refusal(qs, parser as never);
        expect(err.details?.[0]?.field).toBe(qs.split('=')[0]);
      }
    },
  );

  it('stats: a default from (30 days before to) before year 1 is refused too', () => {
    expect(refusal('to=0001-01-10', parseStatsQuery as never).details).toEqual([
      { field: 'from', message: expect.stringMatching(/^defaults to 30 days before to.*give from$/) },
    ]);
  });

  it.each(['__proto__=x', 'constructor=x', 'prototype=x', 'metadata.__proto__=x', 'metadata.constructor=x', 'metadata.prototype=x'])(
    'a prototype name is refused, not silently ignored: %s',
    (qs) => {
      const err = refusal(qs);
      expect(err.details).toEqual([{ field: qs.split('=')[0], message: 'is not a known parameter' }]);
      expect(refusal(qs, parseStatsQuery as never).code).toBe('validation_failed');
    },
  );

  it('still accepts the dates and filters it should, the edges of year 1 and 9999 included', () => {
    const q = parseLogQuery(parse('from=0001-01-01&to=9999-12-31T23:59:59Z&q=50%25&metadata.region=eu'));
    expect(q.filter.from?.toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(q.filter.metadata).toEqual({ region: 'eu' });
    expect(Object.getPrototypeOf(q.filter.metadata)).toBeNull();
  });
});
