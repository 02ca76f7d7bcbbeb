// Every page of the dashboard in Chromium: at 1280 × 800 none scrolls sideways,
// nothing but the sign-in form shows before sign-in, and each page does its job
// on empty and full data with long values. Screenshots go to test-results/.
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markWebhookQueued, upsertAlert } from '@central-logger/alerts';
import { createClient, insertLogs, type LogRow } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { utcDay } from '@central-logger/limits';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTestAdminUser, startAdminApp, type AdminTestApp } from './support/admin.js';
import {
  chartsDrawnFor,
  expectChartTextInside,
  expectNoSidewaysScroll,
  launchChromium,
  open,
  screenshots,
  scriptErrors,
  signInBrowser,
  type Browser,
} from './support/browser.js';
import { REDIS_URL, waitFor } from './support/stack.js';

let db: TestDatabase;
let app: AdminTestApp;
let b: Browser;
let redis: Redis;

const HOUR = 3_600_000;
const LONG_NAME = `Globex Corporation international logistics and ${'very '.repeat(30)}long division`;
const LONG_ID = `a${'b'.repeat(62)}`;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  await createTestAdminUser(db.sql);
  b = await launchChromium();
  redis = new Redis(REDIS_URL);
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  await b?.close();
  await app?.close();
  await db?.drop();
});

function logRow(clientId: string, i: number, status: string, workflow: string | null): LogRow {
  return {
    client_id: clientId,
    event_id: `e${i}`,
    received_at: new Date().toISOString(),
    executed_at: new Date(Date.now() - 60_000 - i).toISOString(),
    environment: 'prod',
    status,
    workflow,
    run_id: null,
    level: null,
    message: null,
    duration_ms: null,
    metadata: {},
  } as LogRow;
}

async function usage(keyId: string, clientId: string, hoursAgo: number, events: number, extra: { bytes?: number; rate_limited?: number } = {}): Promise<void> {
  const hour = new Date(Math.floor(Date.now() / HOUR) * HOUR - hoursAgo * HOUR);
  await db.sql`insert into usage_hourly (hour, key_id, client_id, requests, events_accepted, bytes, rate_limited) values (${hour}, ${keyId}, ${clientId}, ${Math.ceil(events / 10)}, ${events}, ${extra.bytes ?? events * 300}, ${extra.rate_limited ?? 0})`;
}

describe('the dashboard in Chromium', () => {
  it('sign-in: only the form shows, no navigation', { timeout: 60_000 }, async () => {
    await b.page.goto(app.baseUrl);
    await b.page.locator('#signin-form').waitFor({ state: 'visible' });
    expect(await b.page.locator('#nav').isVisible()).toBe(false);
    for (const a of await b.page.locator('nav a').all()) expect(await a.isVisible()).toBe(false);
    for (const section of ['clients', 'client', 'keys', 'usage', 'alerts', 'system', 'audit'])
      expect(await b.page.locator(`#${section}`).isVisible(), section).toBe(false);
    await expectNoSidewaysScroll(b.page, 'sign-in');
    await screenshots(b.page, 'signin');
    // a deep link before sign-in shows the form too, and nothing of the page
    await b.page.goto(`${app.baseUrl}/#client/acme`);
    await b.page.reload();
    await b.page.locator('#signin-form').waitFor({ state: 'visible' });
    expect(await b.page.locator('#nav').isVisible()).toBe(false);
    expect(await b.page.locator('#client').isVisible()).toBe(false);
  });

  it('clients: empty, then full with long names; a click opens the client page', { timeout: 60_000 }, async () => {
    await signInBrowser(b, app);
    await open(b, app, 'clients');
    await b.page.locator('#clients-empty').waitFor({ state: 'visible' });
    await expectNoSidewaysScroll(b.page, 'clients, empty');
    await screenshots(b.page, 'clients-empty');

    await createClient(db.sql, LONG_ID, LONG_NAME);
    for (let i = 0; i < 12; i++) await createClient(db.sql, `tenant_${i}`, `Tenant ${i}`);
    const { record } = await createKey(db.sql, { name: 'agent', role: 'agent', clientId: 'tenant_3', bcryptCost: 4 });
    await usage(record.id, 'tenant_3', 1, 1234);
    await open(b, app, 'clients');
    await b.page.locator('#client-rows tr', { hasText: LONG_ID }).waitFor();
    expect(await b.page.locator('#client-rows tr', { hasText: 'tenant_3' }).locator('td').nth(6).textContent()).toBe('1,234');
    expect(await b.page.locator('#clients .counting-rule').textContent()).toContain('by arrival');
    await expectNoSidewaysScroll(b.page, 'clients, full');
    await screenshots(b.page, 'clients');
    await b.page.locator('#client-rows a', { hasText: 'tenant_3' }).click();
    await b.page.locator('#client').waitFor({ state: 'visible' });
    expect(b.page.url()).toContain('#client/tenant_3');
  });

  it('client page: traffic per key, error rate, top workflows, quota, keys, limits, deactivate', { timeout: 90_000 }, async () => {
    await createClient(db.sql, 'acme', 'Acme Corp');
    const a = await createKey(db.sql, { name: 'Production agent', role: 'agent', clientId: 'acme', bcryptCost: 4 });
    const r = await createKey(db.sql, { name: 'Dashboards', role: 'reader', clientId: 'acme', bcryptCost: 4 });
    for (let h = 0; h < 24; h += 3) await usage(a.record.id, 'acme', h, 5000 + h * 100, { rate_limited: h === 6 ? 40 : 0 });
    await usage(r.record.id, 'acme', 2, 3);
    const wfLong = `nightly-export-${'x'.repeat(150)}`;
    await insertLogs(db.sql, [
      ...Array.from({ length: 30 }, (_, i) => logRow('acme', i, i % 10 === 0 ? 'FAILURE' : 'SUCCESS', i < 20 ? 'billing' : wfLong)),
      logRow('acme', 99, 'SUCCESS', null),
    ]);
    await redis.set(`${app.config.QUEUE_PREFIX}:rl:d:acme:${utcDay(Date.now())}`, '41000000');

    await open(b, app, 'client/acme');
    await b.page.locator('#client-title', { hasText: 'Acme Corp (acme)' }).waitFor();
    await b.page.locator('#client-workflows tr').first().waitFor();
    expect(await b.page.locator('#client-error-rate').textContent()).toContain('Error rate 9.7%: 3 failed of 31 events');
    expect(await b.page.locator('#client-workflows tr').first().textContent()).toContain('billing');
    expect(await b.page.locator('#client-quota').textContent()).toContain('41,000,000 of 50,000,000 events (82.0%)');
    await expect.poll(() => b.page.locator('#client-charts figure').count()).toBe(4);
    expect(await b.page.locator('#client-charts figcaption').allTextContents()).toEqual([
      'Events accepted: 48,403',
      'Bytes: 13.8 MB',
      'Requests: 4,841',
      'Rejected (429s and refused events): 40',
    ]);
    expect(await b.page.locator('#client-key-usage tr').first().textContent()).toContain(a.record.prefix);
    // the bytes axis counts whole binary units, and every axis label fits in its chart
    expect(await b.page.locator('#client-charts figure', { hasText: 'Bytes' }).locator('svg > text[text-anchor=end]').allTextContents()).toEqual([
      '0 B',
      '1 MB',
      '2 MB',
      '3 MB',
    ]);
    await expectChartTextInside(b.page, '#client');
    // each key over time, on its own scale (the reader key's 3 events show beside 48,400): events, then bytes, requests, rejections
    const keyCharts = b.page.locator('#client-key-chart figure');
    const captions = () => keyCharts.locator('figcaption').allTextContents();
    await expect.poll(captions).toEqual([`${a.record.prefix} 48,400 events`, `${r.record.prefix} 3 events`]);
    expect(Number(await keyCharts.nth(1).locator('circle.point').getAttribute('cy'))).toBeLessThan(60);
    for (const [metric, shown] of [
      ['bytes', [`${a.record.prefix} 13.8 MB`, `${r.record.prefix} 900 B`]],
      ['requests', [`${a.record.prefix} 4,840 requests`, `${r.record.prefix} 1 requests`]],
      ['rejected', [`${a.record.prefix} 40 rejected`, `${r.record.prefix} 0 rejected`]],
    ] as const) {
      await b.page.locator('#client-key-metric').selectOption(metric);
      await expect.poll(captions, { message: metric }).toEqual(shown);
    }
    await b.page.locator('#client-key-metric').selectOption('bytes');
    // a tooltip names the key, the hour and its value
    expect(await keyCharts.nth(1).locator('rect.hover title').allTextContents()).toContainEqual(expect.stringContaining(`${r.record.prefix}: 900 B`));
    await expectChartTextInside(b.page, '#client-key-chart');
    await expectNoSidewaysScroll(b.page, 'client page');
    await screenshots(b.page, 'client');

    // limits and retention through the form (the existing PATCH), audited
    await b.page.locator('#client-limits-form input[name=retention_days]').fill('14');
    await b.page.locator('#client-limits-form input[name=events_per_day]').fill('60000000');
    await b.page.locator('#client-limits-form button[type=submit]').click();
    await b.page.locator('#flash', { hasText: 'Retention and limits of acme saved.' }).waitFor();
    const [stored] = await db.sql`select c.retention_days, l.events_per_day from clients c join client_limits l on l.client_id = c.id where c.id = 'acme'`;
    expect(stored).toMatchObject({ retention_days: 14 });
    expect(Number(stored!.events_per_day)).toBe(60_000_000);
    await b.page.locator('#client-quota', { hasText: 'of 60,000,000 events' }).waitFor();
    // only what changed is sent, so the audit row says what the admin did
    const [update] = await db.sql`select details from admin_audit where action = 'client.update' and target = 'client:acme'`;
    expect(update!.details).toEqual({ retention_days: 14, limits: { events_per_day: 60_000_000 } });

    // issue a key here: shown once
    await b.page.locator('#client-key-form input[name=name]').fill('CI pipeline');
    await b.page.locator('#client-key-form button[type=submit]').click();
    await b.page.locator('#new-key').waitFor({ state: 'visible' });
    expect(await b.page.locator('#new-key-secret').textContent()).toMatch(/^clk_/);
    await b.page.locator('#client-keys tr', { hasText: 'CI pipeline' }).waitFor();

    // expiry from the key's menu
    await b.page.locator('#client-keys tr', { hasText: r.record.prefix }).locator('select').selectOption('30');
    await b.page.locator('#flash', { hasText: `Key ${r.record.prefix} expires` }).waitFor();
    const [exp] = await db.sql`select expires_at from api_keys where id = ${r.record.id}`;
    expect(exp!.expires_at).not.toBeNull();
    // the page reloads after the change, replacing its buttons: wait until it shows the new expiry
    await b.page
      .locator('#client-keys tr', { hasText: r.record.prefix })
      .filter({ hasText: (exp!.expires_at as Date).toISOString().slice(0, 10) })
      .waitFor();

    // deactivate (two clicks), then activate
    await b.page.locator('#client-status-action button').click();
    await b.page.locator('#client-status-action button', { hasText: 'Confirm' }).click();
    await b.page.locator('#client-status', { hasText: 'inactive' }).waitFor();
    await b.page.locator('#client-status-action button', { hasText: 'Activate' }).click();
    await b.page.locator('#client-status-action button', { hasText: 'Confirm activate?' }).click();
    await b.page.locator('#client-status .status-active').waitFor();
    const actions = await db.sql`select action from admin_audit where target = 'client:acme' order by id`;
    expect(actions.map((x) => x.action)).toEqual(['client.update', 'client.deactivate', 'client.activate']);

    // a client with nothing yet
    await createClient(db.sql, 'quiet', 'Quiet Ltd');
    await open(b, app, 'client/quiet');
    await b.page.locator('#client-error-rate', { hasText: 'No stored events' }).waitFor();
    await b.page.locator('#client-key-usage', { hasText: 'No traffic in this range.' }).waitFor();
    await expectNoSidewaysScroll(b.page, 'client page, empty');
    await screenshots(b.page, 'client-empty');

    // an unknown client: an error, no crash
    await open(b, app, 'client/nobody');
    await b.page.locator('#flash.error', { hasText: 'No client "nobody"' }).waitFor();
    expect(scriptErrors(b.page)).toEqual([]);
  });

  it('keys: Rotate issues a new key at once, shown once; the old one is in its grace period', { timeout: 60_000 }, async () => {
    await createClient(db.sql, 'rot', 'Rotating Inc');
    const k = await createKey(db.sql, { name: 'to rotate', role: 'agent', clientId: 'rot', bcryptCost: 4 });
    await open(b, app, 'keys');
    const row = b.page.locator('#key-rows tr', { hasText: k.record.prefix });
    await row.getByRole('button', { name: 'Rotate' }).click();
    await row.getByRole('button', { name: 'Confirm rotate?' }).click();
    await b.page.locator('#new-key').waitFor({ state: 'visible' });
    expect(await b.page.locator('#new-key-name').textContent()).toContain(`replaces ${k.record.prefix}`);
    await b.page.locator('#key-rows tr', { hasText: k.record.prefix }).filter({ hasText: 'rotated, in grace' }).waitFor();
    const [old] = await db.sql`select replaced_by, expires_at from api_keys where id = ${k.record.id}`;
    expect(old!.replaced_by).not.toBeNull();
    expect((old!.expires_at as Date).getTime()).toBeGreaterThan(Date.now() + 23 * HOUR);
    expect((await db.sql`select 1 from admin_audit where action = 'key.rotate'`).length).toBe(1);
    await expectNoSidewaysScroll(b.page, 'keys');
    await screenshots(b.page, 'keys');
  });

  it('usage: a small tenant stays visible beside a big one; totals, tooltips, an empty chart reads 0', { timeout: 60_000 }, async () => {
    await open(b, app, 'usage');
    await b.page.locator('#usage-auth-chart svg').waitFor();
    // no failed authentications: the axis reads 0 alone, never "1, 1, 0"
    expect(await b.page.locator('#usage-auth-chart svg text').allTextContents()).toContain('nothing recorded in this range');
    const axis = await b.page.locator('#usage-auth-chart svg > text[text-anchor=end]').allTextContents();
    expect(axis).toEqual(['0']);

    const [big] = await db.sql`select id from api_keys where client_id = 'acme' limit 1`;
    const small = await createKey(db.sql, { name: 'tiny', role: 'agent', clientId: 'tenant_5', bcryptCost: 4 });
    await usage(small.record.id, 'tenant_5', 4, 2);
    await open(b, app, 'usage');
    const tiny = b.page.locator('#usage-events-chart figure', { hasText: 'tenant_5' });
    await tiny.waitFor();
    expect(await tiny.locator('figcaption').textContent()).toBe('tenant_5 2 events');
    // its own scale: the point is drawn high in its chart, not flat at zero
    const cy = Number(await tiny.locator('circle.point').getAttribute('cy'));
    expect(cy).toBeLessThan(60);
    expect(await b.page.locator('#usage-total').textContent()).toMatch(/^[\d,]+ in total$/);
    expect(big).toBeDefined();
    // each bucket's hover band names its value, and the hour
    const titles = await tiny.locator('rect.hover title').allTextContents();
    expect(titles.filter((t) => t.includes('tenant_5: 2 events'))).toHaveLength(1);
    // failed authentications, split by address and by key prefix
    expect(await b.page.locator('#usage-auth-addresses').textContent()).toContain('No failed authentications in this range.');
    for (let i = 0; i < 3; i++)
      await db.sql`insert into auth_failures (occurred_at, address, key_prefix, reason) values (now() - interval '5 minutes', '2001:db8:dead:beef:0:0:0:1', ${small.record.prefix}, 'wrong_secret')`;
    await db.sql`insert into auth_failures (occurred_at, address, key_prefix, reason) values (now() - interval '2 hours', '198.51.100.200', null, 'api_key_required')`;
    await open(b, app, 'usage');
    await b.page.locator('#usage-auth-addresses tr', { hasText: '2001:db8:dead:beef:0:0:0:1' }).waitFor();
    expect(await b.page.locator('#usage-auth-addresses tr').first().locator('td').nth(1).textContent()).toBe('3');
    expect(await b.page.locator('#usage-auth-prefixes tr').first().textContent()).toContain(`${small.record.prefix}tenant_53`);
    expect(await b.page.locator('#usage-auth-total').textContent()).toBe('4 in total');
    expect(await b.page.locator('#usage .counting-rule').textContent()).toContain('event time');
    await expectNoSidewaysScroll(b.page, 'usage');
    await expectChartTextInside(b.page, '#usage');
    await screenshots(b.page, 'usage');
    // at a phone's width the wide chart is redrawn 440 units wide, so its text is not scaled to a few pixels
    expect(await b.page.locator('#usage-auth-chart svg').getAttribute('viewBox')).toMatch(/^0 0 900 /);
    await b.page.setViewportSize({ width: 390, height: 844 });
    await chartsDrawnFor(b.page, 390);
    expect(await b.page.locator('#usage-auth-chart svg').getAttribute('viewBox')).toMatch(/^0 0 440 /);
    await expectChartTextInside(b.page, '#usage');
    await b.page.setViewportSize({ width: 1280, height: 800 });
    await chartsDrawnFor(b.page, 1280);
    await b.page.locator('#usage-view').selectOption('log');
    await b.page.locator('#usage-events-chart > svg').waitFor();
    expect(await b.page.locator('#usage-events-chart svg').textContent()).toContain('tenant_5: 2');
    await screenshots(b.page, 'usage-log');
  });

  it('alerts: evidence tables with links, filters, acknowledge with a note, the open count in the navigation', { timeout: 90_000 }, async () => {
    await open(b, app, 'alerts');
    await b.page.locator('#alerts-empty').waitFor({ state: 'visible' });
    expect(await b.page.locator('#open-alerts').isVisible()).toBe(false);
    await screenshots(b.page, 'alerts-empty');

    const [key] = await db.sql`select id, prefix from api_keys where client_id = 'acme' order by created_at limit 1`;
    const win = new Date(Math.floor(Date.now() / 600_000) * 600_000);
    const addresses = Array.from({ length: 10 }, (_, i) => `2001:db8:85a3:0:0:8a2e:370:${7000 + i}`);
    const prefixAlert = (
      await upsertAlert(db.sql, {
        rule: 'auth_failures_prefix',
        subject: key!.prefix,
        windowStart: win,
        severity: 'warning',
        summary: `42 failed authentications against key ${key!.prefix} from 10 address(es)`,
        evidence: {
          key_prefix: key!.prefix,
          failures: 42,
          addresses: 10,
          sample_addresses: addresses,
          first_at: new Date(Date.now() - 500_000),
          last_at: new Date(),
          threshold: 10,
          window_ms: 600_000,
        },
        clientId: 'acme',
        keyId: key!.id,
      })
    ).alert;
    await upsertAlert(db.sql, {
      rule: 'auth_failures_address',
      subject: '198.51.100.23',
      windowStart: win,
      severity: 'warning',
      summary: '25 failed authentications from 198.51.100.23 within 10 min',
      evidence: {
        address: '198.51.100.23',
        failures: 25,
        admin_sign_in_failures: 0,
        reasons: ['unknown_key', 'wrong_secret', 'malformed_key'],
        first_at: new Date(Date.now() - 400_000),
        last_at: new Date(),
        threshold: 20,
        window_ms: 600_000,
      },
    });
    const dead = (
      await upsertAlert(db.sql, {
        rule: 'dead_letters',
        subject: LONG_ID,
        windowStart: win,
        severity: 'critical',
        summary: `3 event(s) of client ${LONG_ID} refused by Postgres and kept in dead_letter_events`,
        evidence: {
          events: 3,
          sample_event_ids: [`evt-${'z'.repeat(120)}`, 'evt-2', 'evt-3'],
          error_codes: ['22P05'],
          first_at: new Date(),
          last_at: new Date(),
        },
        clientId: LONG_ID,
      })
    ).alert;
    await markWebhookQueued(db.sql, dead.id);

    await open(b, app, 'alerts');
    await b.page.locator('#alert-list article').first().waitFor();
    expect(await b.page.locator('#alert-list article').count()).toBe(3);
    await b.page.locator('#open-alerts', { hasText: '3' }).waitFor();
    const prefixCard = b.page.locator('#alert-list article', { hasText: 'auth_failures_prefix' });
    expect(await prefixCard.locator('table.evidence tr', { hasText: 'failures' }).first().locator('td').textContent()).toBe('42');
    expect(await prefixCard.locator('table.evidence tr', { hasText: 'sample addresses' }).locator('li').count()).toBe(10);
    expect(await prefixCard.locator('table.evidence tr', { hasText: 'window' }).locator('td').textContent()).toContain('10 min, from');
    expect(await prefixCard.locator('table.evidence tr', { hasText: 'key prefix' }).locator('a').getAttribute('href')).toBe('#client/acme');
    expect(await prefixCard.locator('.links a').allTextContents()).toEqual([
      'client acme',
      `its keys (${key!.prefix})`,
      'usage of acme',
      'failed authentications by address and key',
    ]);
    expect(await prefixCard.locator('.webhook').textContent()).toContain('not sent');
    // the dead-letter alert's webhook was queued but Redis holds no job for it any more
    expect(await b.page.locator('#alert-list article', { hasText: 'dead_letters' }).locator('.webhook').textContent()).toContain('outcome no longer kept');
    expect(await b.page.locator('#alert-list').textContent()).not.toContain('{"');
    await expectNoSidewaysScroll(b.page, 'alerts');
    await screenshots(b.page, 'alerts');

    // filters
    await b.page.locator('#alert-severity').selectOption('critical');
    await expect.poll(() => b.page.locator('#alert-list article').count()).toBe(1);
    await b.page.locator('#alert-severity').selectOption('');
    await b.page.locator('#alert-rule').selectOption('auth_failures_address');
    await expect.poll(() => b.page.locator('#alert-list article').count()).toBe(1);
    await b.page.locator('#alert-rule').selectOption('');
    await expect.poll(() => b.page.locator('#alert-list article').count()).toBe(3);

    // acknowledge with a note: gone from the open list, the count drops, the note shows under "all"
    await prefixCard.locator('input[name=note]').fill('rotated the key, the old agent was retried');
    await prefixCard.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => b.page.locator('#alert-list article').count()).toBe(2);
    await b.page.locator('#open-alerts', { hasText: '2' }).waitFor();
    await b.page.locator('#alert-filter').selectOption('all');
    await b.page.locator('#alert-list article', { hasText: 'Note: rotated the key, the old agent was retried' }).waitFor();
    const [stored] = await db.sql`select acknowledged_note from alerts where id = ${prefixAlert.id}`;
    expect(stored!.acknowledged_note).toBe('rotated the key, the old agent was retried');
    await screenshots(b.page, 'alerts-all');
  });

  it('system: cards, queues, a failed job retried, dead letters inspected and replayed, partitions', { timeout: 90_000 }, async () => {
    await signInBrowser(b, app);
    await open(b, app, 'system');
    await b.page.locator('#system-cards .card').first().waitFor();
    expect(await b.page.locator('#system-failed-empty').isVisible()).toBe(true);
    expect(await b.page.locator('#system-dead-empty').isVisible()).toBe(true);
    expect(await b.page.locator('#system-cards').textContent()).toContain('no schedule: is a worker running?');
    await expectNoSidewaysScroll(b.page, 'system, empty');
    await screenshots(b.page, 'system-empty');

    // a backlog of 3, one job failed for good, two dead letters (one with a long error)
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const logs = new Queue('logs', { connection, prefix: app.config.QUEUE_PREFIX });
    await logs.add('persist-logs', { doomed: true }, { jobId: 'doomed', attempts: 1 });
    const worker = new Worker(
      'logs',
      async () => {
        throw new UnrecoverableError(`invalid persist-logs payload: ${'groups: Required; '.repeat(20)}`);
      },
      { connection: connection.duplicate(), prefix: app.config.QUEUE_PREFIX },
    );
    await waitFor(async () => (await logs.getFailedCount()) === 1, 10_000, 'the job to fail');
    await worker.close();
    for (let i = 0; i < 3; i++) await logs.add('persist-logs', { waiting: i });
    const payload = (id: string, message: string) =>
      JSON.stringify({
        client_id: 'acme',
        event_id: id,
        received_at: new Date().toISOString(),
        executed_at: new Date().toISOString(),
        environment: 'prod',
        status: 'OK',
        workflow: null,
        run_id: null,
        level: null,
        message,
        duration_ms: null,
        metadata: {},
      });
    await db.sql`insert into dead_letter_events (client_id, event_id, received_at, payload, error_code, error_message) values
      ('acme', 'dl-ok', now(), ${payload('dl-ok', 'fine now')}, '22P05', 'unsupported Unicode escape sequence'),
      ('acme', ${`dl-${'q'.repeat(100)}`}, now(), ${payload('dl-long', 'x')}, '22021', ${`invalid byte sequence for encoding "UTF8": 0x00 ${'and more detail '.repeat(20)}`})`;

    await open(b, app, 'system');
    await b.page.locator('#system-failed tr').first().waitFor();
    expect(await b.page.locator('#system-queues tr').first().textContent()).toContain('logs');
    expect(await b.page.locator('#system-cards .card', { hasText: 'Queue backlog' }).locator('.value').textContent()).toBe('3 jobs');
    expect(await b.page.locator('#system-cards .card', { hasText: 'Failed jobs' }).locator('.value').textContent()).toBe('1');
    expect(await b.page.locator('#system-dead tr').count()).toBe(2);
    expect(await b.page.locator('#system-partitions').textContent()).toContain('workflow_logs_default');
    await expectNoSidewaysScroll(b.page, 'system, full');
    await screenshots(b.page, 'system');
    // at a phone's width no row is screens tall: long reasons, event ids and errors show three lines until clicked
    await b.page.setViewportSize({ width: 390, height: 844 });
    const rowHeights = (await b.page.evaluate(`[...document.querySelectorAll('#system tbody tr')].map((tr) => tr.getBoundingClientRect().height)`)) as number[];
    expect(Math.max(...rowHeights)).toBeLessThan(100);
    const error = b.page.locator('#system-dead tr', { hasText: '22021' }).locator('.clamp').last();
    const shut = (await error.boundingBox())!.height;
    await error.click();
    expect((await error.boundingBox())!.height).toBeGreaterThan(shut * 2);
    await b.page.setViewportSize({ width: 1280, height: 800 });

    // inspect and replay a dead letter
    const dl = b.page.locator('#system-dead tr', { hasText: 'dl-ok' });
    await dl.getByRole('button', { name: 'Inspect' }).click();
    await b.page.locator('#system-dead-payload', { hasText: '"message": "fine now"' }).waitFor();
    await dl.getByRole('button', { name: 'Replay' }).click();
    await dl.getByRole('button', { name: 'Confirm replay?' }).click();
    await b.page.locator('#flash', { hasText: 'Event dl-ok of acme stored.' }).waitFor();
    await expect.poll(() => b.page.locator('#system-dead tr').count()).toBe(1);
    expect(await db.sql`select 1 from workflow_logs where event_id = 'dl-ok'`).toHaveLength(1);

    // retry the failed job: it goes back to waiting (no worker here)
    await b.page.locator('#system-retry').click();
    await b.page.locator('#flash', { hasText: '1 failed job(s) back in the queue' }).waitFor();
    await b.page.locator('#system-failed-empty').waitFor({ state: 'visible' });
    expect(await logs.getWaitingCount()).toBe(4);
    expect((await db.sql`select action from admin_audit where action in ('jobs.retry', 'dead_letter.replay') order by id`).map((r) => r.action)).toEqual([
      'dead_letter.replay',
      'jobs.retry',
    ]);
    await logs.obliterate({ force: true });
    await logs.close();
    connection.disconnect();
  });

  it('audit: long details wrap inside the page', { timeout: 60_000 }, async () => {
    await db.sql`insert into admin_audit (actor, action, target, details, ip) values ('ops', 'client.update', ${`client:${LONG_ID}`}, ${db.sql.json({ note: 'y'.repeat(600), limits: { events_per_day: 1, requests_per_second: null } })}, '203.0.113.77')`;
    await open(b, app, 'audit');
    await b.page.locator('#audit-rows tr').first().waitFor();
    await expectNoSidewaysScroll(b.page, 'audit');
    await screenshots(b.page, 'audit');
    // at a phone's width no row is screens tall: a very long detail shows three lines until clicked
    await b.page.setViewportSize({ width: 390, height: 844 });
    const rowHeights = (await b.page.evaluate(`[...document.querySelectorAll('#audit-rows tr')].map((tr) => tr.getBoundingClientRect().height)`)) as number[];
    expect(Math.max(...rowHeights)).toBeLessThan(120);
    const note = b.page.locator('#audit-rows tr', { hasText: LONG_ID }).locator('.clamp');
    const shut = (await note.boundingBox())!.height;
    await note.click();
    expect((await note.boundingBox())!.height).toBeGreaterThan(shut * 2);
    await b.page.setViewportSize({ width: 1280, height: 800 });
  });
});
