// ReadRouter's choice between the standby and the primary, with the standby's
// lag given by the test (the `measureLag` seam) instead of a paused replay: the
// READ_REPLICA_MAX_LAG_MS cutoff, its transitions reported once, the down state,
// and a read the primary cannot take going to a standby that is too far behind.
// Both servers are real connections (the test database, and a port where
// nothing listens); a real standby's lag is in test/faults/read-replica.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, ReadRouter, type ReadRouterOptions, type Sql } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { freePort } from './support/private-services.js';

let db: TestDatabase;
let primary: Sql;
let nowhere: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  primary = createSql(db.url, { max: 1 });
  nowhere = createSql(`postgres://postgres@127.0.0.1:${await freePort()}/none`, { max: 1 });
});
afterAll(async () => {
  await primary?.end({ timeout: 1 });
  await nowhere?.end({ timeout: 1 });
  await db?.drop();
});

/** A router on `primaryOf` and the test database as its standby, whose lag is `lag.ms` (or a failure when `lag.down`). */
function routerWith(lag: { ms: number; down?: boolean }, options: ReadRouterOptions = {}, primaryOf: Sql = primary) {
  const events: string[] = [];
  const router = new ReadRouter(primaryOf, db.sql, {
    sampleMs: 3_600_000, // the test samples
    measureLag: async () => {
      if (lag.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return lag.ms;
    },
    onDown: () => events.push('down'),
    onUp: (ms) => events.push(`up ${ms}`),
    onLagging: (lagging, ms) => events.push(`${lagging ? 'lagging' : 'back'} ${ms}`),
    ...options,
  });
  return { router, events };
}

describe('ReadRouter with READ_REPLICA_MAX_LAG_MS', () => {
  it('sends reads to the primary while the lag is above the cutoff, back to the standby once under, and reports each crossing once', async () => {
    const lag = { ms: 200 };
    const { router, events } = routerWith(lag, { maxLagMs: 1_000 });
    try {
      await router.ready();
      expect(router.state).toBe('ok');
      expect(router.choose()).toEqual({ sql: db.sql, lagMs: 200 });

      lag.ms = 1_000; // at the cutoff: still the standby
      await router.sampleNow();
      expect(router.choose().sql).toBe(db.sql);

      lag.ms = 1_001;
      await router.sampleNow();
      expect(router.state).toBe('lagging');
      expect(router.choose()).toEqual({ sql: primary });
      expect(router.lagMs).toBe(1_001);
      lag.ms = 5_000;
      await router.sampleNow();
      await router.sampleNow();
      expect(router.choose()).toEqual({ sql: primary });

      lag.ms = 10;
      await router.sampleNow();
      await router.sampleNow();
      expect(router.state).toBe('ok');
      expect(router.choose()).toEqual({ sql: db.sql, lagMs: 10 });
      expect(events).toEqual(['lagging 1001', 'back 10']);
    } finally {
      router.close();
    }
  });

  it('defaults to a cutoff of 30 s, and 0 means none', async () => {
    const lag = { ms: 30_001 };
    const byDefault = routerWith(lag);
    const none = routerWith(lag, { maxLagMs: 0 });
    try {
      await Promise.all([byDefault.router.ready(), none.router.ready()]);
      expect(byDefault.router.state).toBe('lagging');
      expect(none.router.state).toBe('ok');
      lag.ms = 86_400_000;
      await none.router.sampleNow();
      expect(none.router.choose()).toEqual({ sql: db.sql, lagMs: 86_400_000 });
      expect(none.events).toEqual([]);
    } finally {
      byDefault.router.close();
      none.router.close();
    }
  });

  it('is down while a sample fails, and a standby that comes back too far behind is reported as lagging again', async () => {
    const lag = { ms: 5_000 };
    const { router, events } = routerWith(lag, { maxLagMs: 1_000 });
    try {
      await router.ready();
      Object.assign(lag, { down: true });
      await router.sampleNow();
      expect(router.state).toBe('down');
      expect(router.lagMs).toBeUndefined();
      expect(router.choose()).toEqual({ sql: primary });
      Object.assign(lag, { down: false });
      await router.sampleNow();
      expect(router.state).toBe('lagging');
      expect(events).toEqual(['lagging 5000', 'down', 'up 5000', 'lagging 5000']);
    } finally {
      router.close();
    }
  });

  it('reports a standby that answers again under the cutoff once, as back (no lagging crossing to report it)', async () => {
    const lag = { ms: 200 };
    const { router, events } = routerWith(lag, { maxLagMs: 1_000 });
    try {
      await router.ready();
      Object.assign(lag, { down: true });
      await router.sampleNow();
      await router.sampleNow();
      expect(router.choose()).toEqual({ sql: primary });
      Object.assign(lag, { down: false, ms: 300 });
      await router.sampleNow();
      await router.sampleNow();
      expect(router.state).toBe('ok');
      expect(router.choose()).toEqual({ sql: db.sql, lagMs: 300 });
      // the first sample (start-up) reports nothing; the outage and the return once each
      expect(events).toEqual(['down', 'up 300']);
    } finally {
      router.close();
    }
  });

  it('answers from a lagging standby when the primary cannot be reached, and passes on other errors of the primary', async () => {
    const { router } = routerWith({ ms: 5_000 }, { maxLagMs: 1_000 }, nowhere);
    try {
      await router.ready();
      const { value, server } = await router.read(async (sql) => (await sql`select 1::int as n`)[0]!.n);
      expect(value).toBe(1);
      expect(server).toEqual({ sql: db.sql, lagMs: 5_000 });
    } finally {
      router.close();
    }
    const onPrimary = routerWith({ ms: 5_000 }, { maxLagMs: 1_000 });
    try {
      await onPrimary.router.ready();
      // a failure of the query itself is not the primary being away: no second try on the standby
      await expect(onPrimary.router.read((sql) => sql`select * from no_such_table`)).rejects.toMatchObject({ code: '42P01' });
    } finally {
      onPrimary.router.close();
    }
  });
});
