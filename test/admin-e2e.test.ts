// The dashboard in a real headless Chromium (Debian's, at /usr/bin/chromium;
// .ci/run installs it): sign in after a failed attempt, create a client and a
// key, see the key once, revoke it, and find the failed sign-in in the audit log;
// after more failed sign-ins the failed-login alert shows on the Alerts page, and
// the usage chart draws its points.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { evaluateAlerts } from '@central-logger/alerts';
import { ADMIN_PASSWORD, ADMIN_USER, call, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';
import { insertLegacyKey } from './support/keys.js';
import { createTenant } from './support/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let db: TestDatabase;
let app: AdminTestApp;
let profile: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  // fail loudly, never skip: a missing browser must not pass as a green run
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}. Install it with: apt-get install -y chromium (.ci/run does this), or set CHROMIUM_PATH.`);
  db = await createTestDatabase();
  app = await startAdminApp(db);
  await createTestAdminUser(db.sql);
  profile = await mkdtemp(join(tmpdir(), 'cl-e2e-chromium-'));
  // a persistent context is how Playwright takes a fresh --user-data-dir of our choosing
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(10_000);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await app?.close();
  await db?.drop();
});

describe('admin dashboard in Chromium', () => {
  it('sign in, create a client and a key, see the key once, revoke it, see the failed sign-in audited, its alert acknowledged, and the usage chart', {
    timeout: 90_000,
  }, async () => {
    await page.goto(app.baseUrl);
    const form = page.locator('#signin-form');
    await form.waitFor({ state: 'visible' });

    // a failed sign-in first: it is shown, and later found in the audit log
    await form.locator('input[name=username]').fill(ADMIN_USER);
    await form.locator('input[name=password]').fill('not the right password');
    await form.locator('button[type=submit]').click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toBe('Invalid username or password');

    await form.locator('input[name=password]').fill(ADMIN_PASSWORD);
    await form.locator('button[type=submit]').click();
    await page
      .locator('#whoami')
      .filter({ hasText: `signed in as ${ADMIN_USER}` })
      .waitFor();
    await page.locator('#clients').waitFor({ state: 'visible' });

    // create a client
    await page.locator('#client-form input[name=id]').fill('e2e_corp');
    await page.locator('#client-form input[name=name]').fill('E2E Corp');
    await page.locator('#client-form button[type=submit]').click();
    await page.locator('#client-rows tr', { hasText: 'e2e_corp' }).waitFor();
    expect(await page.locator('#client-rows tr', { hasText: 'e2e_corp' }).textContent()).toContain('E2E Corp');

    // issue a key for it: the secret is shown once, with a copy button
    await page.goto(`${app.baseUrl}/#keys`);
    await page.locator('#keys').waitFor({ state: 'visible' });
    await page.locator('#key-client option[value=e2e_corp]').waitFor({ state: 'attached' });
    await page.locator('#key-form input[name=name]').fill('E2E agent');
    await page.locator('#key-form select[name=role]').selectOption('agent');
    await page.locator('#key-form select[name=client_id]').selectOption('e2e_corp');
    await page.locator('#key-form button[type=submit]').click();
    await page.locator('#new-key').waitFor({ state: 'visible' });
    const secret = (await page.locator('#new-key-secret').textContent())!;
    expect(secret).toMatch(/^clk_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}$/);
    const prefix = secret.slice(0, 16);
    await page.locator('#copy-key').click();
    await expect.poll(() => page.locator('#copy-key').textContent()).toBe('Copied');
    const row = page.locator('#key-rows tr', { hasText: prefix });
    await row.waitFor();
    expect(await row.textContent()).toContain('active');

    // another page and back: the secret is gone
    await page.locator('nav a[href="#clients"]').click();
    await page.locator('#clients').waitFor({ state: 'visible' });
    await page.locator('nav a[href="#keys"]').click();
    await page.locator('#key-rows tr', { hasText: prefix }).waitFor();
    expect(await page.locator('#new-key').isHidden()).toBe(true);
    expect(await page.content()).not.toContain(secret);

    // reload: the secret is gone for good
    await page.reload();
    await page.locator('#key-rows tr', { hasText: prefix }).waitFor();
    expect(await page.locator('#new-key').isHidden()).toBe(true);
    expect(await page.content()).not.toContain(secret);

    // revoke it (two clicks: arm, confirm)
    const revoke = page.locator('#key-rows tr', { hasText: prefix }).getByRole('button', { name: 'Revoke' });
    await revoke.click();
    await page.locator('#key-rows tr', { hasText: prefix }).getByRole('button', { name: 'Confirm revoke?' }).click();
    await page.locator('#key-rows tr', { hasText: prefix }).filter({ hasText: 'revoked' }).waitFor();
    const [stored] = await db.sql`select revoked_at from api_keys where prefix = ${prefix}`;
    expect(stored!.revoked_at).not.toBeNull();

    // the audit log shows the failed sign-in, and what was done since
    await page.goto(`${app.baseUrl}/#audit`);
    await page.locator('#audit-rows tr', { hasText: 'login.failure' }).waitFor();
    expect(await page.locator('#audit-rows tr', { hasText: 'login.failure' }).textContent()).toContain(`admin_user:${ADMIN_USER}`);
    const actions = await page.locator('#audit-rows tr td:nth-child(3)').allTextContents();
    expect(actions).toEqual(['key.revoke', 'key.issue', 'client.create', 'login.success', 'login.failure']);
    expect(await page.content()).not.toContain(secret);

    // two more failed sign-ins from this address; the failed-login rule (run here, not on its schedule) raises an alert
    for (let i = 0; i < 2; i++) expect((await call(app, 'POST', '/admin/api/login', {}, { username: ADMIN_USER, password: `wrong ${i}` })).status).toBe(401);
    const { raised } = await evaluateAlerts(db.sql, { addressFailures: 3 });
    expect(raised.map((a) => a.rule)).toEqual(['auth_failures_address']);
    await page.goto(`${app.baseUrl}/#alerts`);
    const alertCard = page.locator('#alert-list article', { hasText: 'auth_failures_address' });
    await alertCard.waitFor();
    expect(await alertCard.textContent()).toContain('3 failed authentications from 127.0.0.1');
    // the evidence is a table of what was counted, not a JSON blob
    expect(await alertCard.locator('table.evidence tr', { hasText: 'admin sign in failures' }).locator('td').textContent()).toBe('3');
    expect(await alertCard.textContent()).not.toContain('{"');
    await alertCard.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => page.locator('#alert-list article').count()).toBe(0); // the open list is empty now
    await page.locator('#alert-filter').selectOption('all');
    await page.locator('#alert-list article', { hasText: `acknowledged by ${ADMIN_USER}` }).waitFor();

    // the usage chart draws the key's rolled-up hours as points of an <svg>
    const [issued] = await db.sql`select id from api_keys where prefix = ${prefix}`;
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    for (const [h, events] of [
      [hour - 3 * 3_600_000, 40],
      [hour, 25],
    ] as const) {
      await db.sql`insert into usage_hourly (hour, key_id, client_id, requests, events_accepted) values (${new Date(h)}, ${issued!.id}, 'e2e_corp', 2, ${events})`;
    }
    await page.goto(`${app.baseUrl}/#usage`);
    const points = page.locator('#usage-events-chart svg circle.point');
    await expect.poll(() => points.count()).toBe(2);
    expect((await points.evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))))).sort()).toEqual([25, 40]);
    expect(await page.locator('#usage-events-chart svg').textContent()).toContain('e2e_corp');
    await page.locator('#usage-auth-chart svg').waitFor();

    // sign out: back to the sign-in form, and the session no longer works
    await page.locator('#signout').click();
    await form.waitFor({ state: 'visible' });
    // signed out: the navigation and every page go with the session
    expect(await page.locator('#nav').isVisible()).toBe(false);
    for (const section of ['clients', 'client', 'keys', 'usage', 'alerts', 'system', 'audit'])
      expect(await page.locator(`#${section}`).isVisible(), section).toBe(false);
    await page.reload();
    await form.waitFor({ state: 'visible' });
    expect(await page.locator('#nav').isVisible()).toBe(false);
  });

  // a legacy key (no public id, possibly weak) is due for rotation at once
  it('marks a legacy key "rotate now" in the key list, and no other key', { timeout: 60_000 }, async () => {
    const t = await createTenant(db.sql, 'agent', 'e2e_legacy');
    const legacy = await insertLegacyKey(db.sql, t.clientId);
    const [name, value] = (await signIn(app)).split('=') as [string, string];
    await browser.addCookies([{ name, value, url: app.baseUrl }]);
    await page.goto(`${app.baseUrl}/#keys`);
    await page.reload(); // the page is already at this URL from the test before: a hash change alone would not load it anew
    const legacyRow = page.locator('#key-rows tr', { hasText: legacy.prefix });
    await legacyRow.locator('.rotation-due').waitFor();
    expect(await legacyRow.locator('.rotation-due').textContent()).toBe('rotate now');
    expect(await page.locator('#key-rows tr', { hasText: t.record.prefix }).locator('.rotation-due').count()).toBe(0);
    // for a person to look at: the key list with the badge, on a laptop and a phone
    for (const [width, height] of [
      [1280, 800],
      [390, 844],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.screenshot({ path: `test-results/admin-keys-rotation-${width}.png`, fullPage: true });
    }
  });
});
