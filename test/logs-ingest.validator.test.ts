import { describe, expect, it } from 'vitest';
import { eventSchema, fastParseEvent, toQueuedEvent, validateBatch } from '@central-logger/events';
import { groupsOf, parsePersistLogsJob, persistLogsJob } from '@central-logger/queue';

// a small seeded generator, so a failure can be replayed
function rng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const POOL: Record<string, unknown[]> = {
  event_id: [undefined, 'abc-1', '  padded  ', '', ' ', 'has space', 'x'.repeat(128), 'x'.repeat(129), 'é', 42, null, '!~'],
  environment: ['prod', ' prod ', '', '  ', 'x'.repeat(100), 'x'.repeat(101), 7, null, undefined, ['prod']],
  executed_at: [
    '2026-01-06T12:00:00Z',
    '2026-01-06T12:00:00.123Z',
    '2026-01-06T12:00:00+02:00',
    '2026-01-06T12:00:00.5-05:30',
    '2026-01-06T12:00',
    '2026-01-06T12:00:00',
    '2024-02-29T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-06 12:00:00Z',
    '2026-01-06',
    '',
    1_700_000_000_000,
    null,
    undefined,
    '2026-01-06T12:00:00.123456789Z',
    '2026-01-06T24:00:00Z',
    '2026-01-06T12:00:00z',
  ],
  status: ['SUCCESS', ' FAILURE ', '', 'x'.repeat(64), 'x'.repeat(65), true, undefined],
  workflow: [undefined, null, 'wf', ' wf ', '', 'x'.repeat(256), 'x'.repeat(257), 3],
  run_id: [undefined, null, 'r1', '   ', {}],
  level: [undefined, null, 'info', 'INFO', 'Warn', 'warning', '', ' info', 'fatal', 5],
  message: [undefined, null, '', 'hello', '  spaced  ', 9, ['x']],
  duration_ms: [undefined, null, 0, 12.5, -1, -0, 1e308, '12', Number.NaN],
  metadata: [undefined, null, {}, { a: 1 }, { nested: { b: [1, 2] } }, [], 'str', 5, JSON.parse('{"__proto__": {"x": 1}}')],
  region: [undefined, 'eu', { zone: 'a' }, null],
  client_id: [undefined, 'someone-else'],
};

function randomEvent(next: () => number): Record<string, unknown> {
  const e: Record<string, unknown> = {};
  for (const [field, values] of Object.entries(POOL)) {
    // mostly valid first choices, so both accepting and rejecting paths are common
    const v = next() < 0.6 ? values[0] : values[Math.floor(next() * values.length)];
    if (v !== undefined) e[field] = v;
  }
  if (e.executed_at === undefined && next() < 0.8) e.executed_at = POOL.executed_at![0];
  return e;
}

const idsFrom = () => {
  let n = 0;
  return () => `evt_${n++}`;
};

describe('the fast event validator agrees with zod', () => {
  it('accepts only what zod accepts, with the same queued event, over 20,000 random events', () => {
    const next = rng(20_260_106);
    let fastAccepted = 0;
    let zodAccepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const item = randomEvent(next);
      const fast = fastParseEvent(item);
      const zod = eventSchema.safeParse(item);
      if (zod.success) zodAccepted++;
      if (fast === undefined) continue;
      fastAccepted++;
      expect(zod.success, JSON.stringify(item)).toBe(true);
      expect(JSON.stringify(toQueuedEvent(fast, idsFrom()))).toBe(JSON.stringify(toQueuedEvent(zod.data!, idsFrom())));
    }
    expect(zodAccepted).toBeGreaterThan(1_000);
    // anything it leaves to zod costs time, not correctness; it should take nearly all valid events
    expect(fastAccepted / zodAccepted).toBeGreaterThan(0.9);
  });

  it('takes the common event shapes itself', () => {
    const common = [
      { environment: 'prod', executed_at: new Date().toISOString(), status: 'SUCCESS' },
      {
        event_id: 'e-1',
        environment: 'prod',
        executed_at: '2026-01-06T12:00:00+01:00',
        status: 'FAILURE',
        workflow: 'wf',
        run_id: 'r',
        level: 'ERROR',
        message: 'm',
        duration_ms: 3,
        metadata: { a: { b: 1 } },
        extra: 'kept',
      },
      { environment: 'dev', executed_at: '2026-01-06T12:00', status: 'OK', workflow: null, level: null, metadata: null },
    ];
    for (const e of common) expect(fastParseEvent(e)).toBeDefined();
  });

  it('refuses executed_at before year 1 in UTC, which Postgres cannot store', () => {
    const limits = { maxEvents: 10, maxEventBytes: 10_000, maxMetadataDepth: 5, maxFutureMs: 1e9 };
    for (const at of ['0000-06-01T00:00:00Z', '0001-01-01T00:30:00+01:00', '0000-01-01T00:00']) {
      let details: unknown;
      try {
        validateBatch([{ environment: 'p', executed_at: at, status: 'OK' }], limits, idsFrom());
      } catch (err) {
        details = (err as { details: unknown }).details;
      }
      expect(details, at).toEqual([{ index: 0, field: 'executed_at', message: 'must be in year 1 or later (UTC): Postgres stores no earlier dates' }]);
    }
    expect(validateBatch([{ environment: 'p', executed_at: '0001-01-01T00:00:00Z', status: 'OK' }], limits, idsFrom())).toHaveLength(1);
  });

  it("leaves rejected events to zod, so error details are zod's", () => {
    const bad = [
      { environment: '', executed_at: 'yesterday', status: 'OK', level: 'loud' },
      { environment: 'p', status: 'OK' },
    ];
    let details: unknown;
    try {
      validateBatch(bad, { maxEvents: 10, maxEventBytes: 10_000, maxMetadataDepth: 5, maxFutureMs: 1e9 }, idsFrom());
    } catch (err) {
      details = (err as { details: unknown }).details;
    }
    const expected = bad.flatMap((e, index) =>
      eventSchema.safeParse(e).error!.issues.map((i) => ({ index, field: i.path.join('.') || undefined, message: i.message })),
    );
    expect(details).toEqual(expected);
  });
});

describe("the worker's job check agrees with zod", () => {
  const EVENT_POOL: Record<string, unknown[]> = {
    event_id: ['e1', '', 7, null],
    executed_at: ['2026-01-06T12:00:00.000Z', '2026-01-06T12:00:00+01:00', '2026-02-30T00:00:00.000Z', 'now', null],
    environment: ['prod', '', 1],
    status: ['OK', '', null],
    workflow: [null, 'wf', 3, undefined],
    run_id: [null, 'r', undefined],
    level: [null, 'info', 'INFO', 'loud', undefined],
    message: [null, 'm', 5],
    duration_ms: [null, 1.5, -1, Number.POSITIVE_INFINITY, '3', undefined],
    metadata: [{}, { a: 1 }, null, [], 'x', undefined],
  };
  const GROUP_POOL: Record<string, unknown[]> = {
    client_id: ['c1', '', 5],
    key_id: ['key_1', '', undefined],
    received_at: ['2026-01-06T12:00:00.000Z', 'later', '2026-01-06T12:00:00+00:00'],
  };
  const pick = (next: () => number, values: unknown[]) => (next() < 0.85 ? values[0] : values[Math.floor(next() * values.length)]);
  const build = (next: () => number, pool: Record<string, unknown[]>) => {
    const o: Record<string, unknown> = {};
    for (const [k, values] of Object.entries(pool)) {
      const v = pick(next, values);
      if (v !== undefined) o[k] = v;
    }
    return o;
  };

  it('accepts only what zod accepts, with the same content, over 5,000 random jobs; a skeleton-shaped job still parses', () => {
    const next = rng(42);
    let accepted = 0;
    for (let i = 0; i < 5_000; i++) {
      const groups = Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
        ...build(next, GROUP_POOL),
        events: Array.from({ length: 1 + Math.floor(next() * 3) }, () => build(next, EVENT_POOL)),
      }));
      const data = JSON.parse(JSON.stringify({ groups }));
      const zod = persistLogsJob.safeParse(data);
      const fast = parsePersistLogsJob(data);
      expect(fast.success, JSON.stringify(data)).toBe(zod.success);
      if (fast.success && zod.success) {
        accepted++;
        expect(JSON.stringify(fast.groups)).toBe(JSON.stringify(groupsOf(zod.data)));
      }
    }
    expect(accepted).toBeGreaterThan(200);
    const single = {
      client_id: 'c',
      key_id: 'k',
      received_at: '2026-01-06T12:00:00.000Z',
      events: [
        {
          event_id: 'e',
          executed_at: '2026-01-06T12:00:00.000Z',
          environment: 'p',
          status: 'OK',
          workflow: null,
          run_id: null,
          level: null,
          message: null,
          duration_ms: null,
          metadata: {},
        },
      ],
    };
    const parsed = parsePersistLogsJob(single);
    expect(parsed.success && parsed.groups).toEqual([single]);
  });
});
