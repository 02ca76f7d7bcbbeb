// The tenant console in a real headless Chromium (Debian's, at /usr/bin/chromium;
// .ci/run installs it): sign in with a user and with a pasted key, search, the
// histogram and its zoom, a row's JSON, load more, an NDJSON export, Live, the
// Keys, Users and Usage pages, a reader without Keys, no horizontal scroll at
// 1280 px or on a phone. Screenshots of every page, empty and full, a long
// value and phone width, go to test-results/console/ for a person to look at.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantUser } from '@central-logger/tenant-auth';
import { createKey } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, type Stack, type Tenant } from './support/stack.js';
import { logRow, seedLogs } from './support/reads.js';

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
const SHOTS = 'test-results/console';
const PASSWORD = 'a long console passphrase';
const LONG = `${'a-very-long-unbroken-value/'.repeat(60)}end`;
const HOSTILE = '<img src=x onerror="window.__pwned=1"><b>bold?</b>';

let db: TestDatabase;
let stack: Stack;
let acme: Tenant;
let empty: Tenant;
let reader: string;
let profile: string;
let browser: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  // fail loudly, never skip: a missing browser must not pass as a green run
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}. Install it with: apt-get install -y chromium (.ci/run does this), or set CHROMIUM_PATH.`);
  await mkdir(SHOTS, { recursive: true });
  db = await createTestDatabase();
  stack = await startStack(db);
  acme = await createTenant(db.sql, 'owner', 'acme');
  empty = await createTenant(db.sql, 'reader', 'quiet');
  reader = (await createKey(db.sql, { name: 'console reader', role: 'reader', clientId: acme.clientId, bcryptCost: 4 })).key;
  await createTenantUser(db.sql, { clientId: acme.clientId, username: 'alice', role: 'owner', password: PASSWORD, bcryptCost: 4, createdBy: 'test' });
  await createTenantUser(db.sql, { clientId: acme.clientId, username: 'bob', role: 'reader', password: PASSWORD, bcryptCost: 4, createdBy: 'test' });
  // 150 logs over the last 50 minutes, every level; one with a long unbroken value, one that looks like HTML
  const now = Date.now();
  const levels = ['info', 'info', 'info', 'debug', 'warn', 'error', 'fatal'] as const;
  const rows = Array.from({ length: 150 }, (_, i) =>
    logRow(acme.clientId, {
      executed_at: new Date(now - 60_000 - i * 20_000).toISOString(),
      level: levels[i % levels.length]!,
      status: i % 7 === 5 ? 'FAILURE' : 'SUCCESS',
      workflow: i % 2 ? 'nightly-sync' : 'billing',
      message: `step ${i} finished`,
      metadata: { region: i % 3 ? 'eu' : 'us', attempt: i % 4 },
    }),
  );
  rows[2]!.message = LONG;
  rows[2]!.metadata = { url: LONG, nested: { deep: { list: [1, 2, 3] } } };
  rows[3]!.message = HOSTILE;
  await seedLogs(db.sql, rows);

  profile = await mkdtemp(join(tmpdir(), 'cl-console-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 30_000,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.baseUrl });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(10_000);
  // a CSP violation or a script error is a failure, whatever the page shows
  page.on('console', (m) => m.type() === 'error' && !/401|403|Failed to load resource/.test(m.text()) && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
}, 90_000);
afterAll(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await stack?.close();
  await db?.drop();
});

const shot = (name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
// the elements that stick out past the right edge, for the failure message
// (page scripts as text: the test program has no DOM types)
const tooWide = () =>
  page.evaluate<string>(
    `[...document.querySelectorAll('body *')].filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).slice(0, 5).map((e) => e.tagName.toLowerCase() + '.' + e.className + '#' + e.id).join(', ')`,
  );
const noHorizontalScroll = () => page.evaluate<boolean>('document.documentElement.scrollWidth <= document.documentElement.clientWidth');

async function signInWithUser(username: string) {
  await page.goto(stack.baseUrl);
  const form = page.locator('#signin-form');
  await form.waitFor();
  await form.locator('input[name=username]').fill(username);
  await form.locator('input[name=password]').fill(PASSWORD);
  await form.locator('button[type=submit]').click();
  await page.locator('#whoami').filter({ hasText: username }).waitFor();
}
async function signInWithKey(key: string) {
  await page.goto(stack.baseUrl);
  await page.getByRole('tab', { name: 'API key' }).click();
  await page.locator('#signin-form input[name=api_key]').fill(key);
  await page.locator('#signin-form button[type=submit]').click();
  await page.locator('#whoami').waitFor();
}
async function signOut() {
  await page.locator('#sign-out').click();
  await page.locator('#signin-form').waitFor();
}

describe('the tenant console in Chromium', () => {
  it('sign-in errors, then an empty tenant by pasted key: the empty states', { timeout: 60_000 }, async () => {
    await page.goto(stack.baseUrl);
    await page.locator('#signin-form').waitFor();
    await shot('signin-1280');
    await page.locator('#signin-form input[name=username]').fill('alice');
    await page.locator('#signin-form input[name=password]').fill('not the password');
    await page.locator('#signin-form button[type=submit]').click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toBe('Invalid username or password');
    await shot('signin-error-1280');

    await signInWithKey(empty.key);
    expect(await page.locator('#whoami').textContent()).toContain(empty.clientId);
    await page.locator('#results-empty').waitFor();
    expect(await page.locator('#histogram-total').textContent()).toBe('0 events');
    await page.locator('.empty-chart').waitFor();
    await shot('explore-empty-1280');
    // the key is nowhere in the page's storage or cookies it can read
    expect(await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]')).toEqual([0, 0, '']);
    await page.goto(`${stack.baseUrl}/usage`);
    await page.locator('#usage-today').waitFor();
    await shot('usage-empty-1280');
    await signOut();
  });

  it('an owner searches, sees the histogram, zooms, opens a row, loads more and downloads an export', { timeout: 90_000 }, async () => {
    await signInWithUser('alice');
    await page.locator('#results li').first().waitFor();
    expect(await page.locator('#results li').count()).toBe(100);
    expect(await page.locator('#histogram-total').textContent()).toBe('150 events');
    expect(await page.locator('#histogram g.bar').count()).toBeGreaterThan(10);
    expect(await page.locator('#histogram rect.lv-error').count()).toBeGreaterThan(0);
    expect(await noHorizontalScroll()).toBe(true);
    await shot('explore-full-1280');

    // logged text is text: the HTML-looking message is shown as typed, and nothing ran
    const hostile = page.locator('#results li', { hasText: 'bold?' });
    expect(await hostile.locator('.message').textContent()).toBe(HOSTILE);
    expect(await page.locator('#results img, #results b').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();

    // load more through the cursor
    await page.locator('#load-more').click();
    await expect.poll(() => page.locator('#results li').count()).toBe(150);
    expect(await page.locator('#load-more').count()).toBe(0);

    // a long value: cut on its row, wrapped in the opened JSON, copied whole; still no horizontal scroll
    const long = page.locator('#results li', { hasText: 'a-very-long-unbroken-value' }).first();
    await long.locator('button.summary').click();
    await long.locator('pre.json').waitFor();
    expect(JSON.parse((await long.locator('pre.json').textContent())!)).toMatchObject({ message: LONG, metadata: { url: LONG } });
    await long.getByRole('button', { name: 'Copy JSON' }).click();
    await expect.poll(() => long.locator('button.copy').textContent()).toBe('Copied');
    expect(JSON.parse(await page.evaluate<string>('navigator.clipboard.readText()')).message).toBe(LONG);
    expect(await noHorizontalScroll()).toBe(true);
    await long.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/explore-long-value-1280.png` });
    // the keyboard opens and closes a row too
    await long.locator('button.summary').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => long.locator('pre.json').count()).toBe(0);

    // a query with a field filter, a metadata filter and text: the URL holds it, the results match it
    await page.locator('#query').fill('level=error metadata.region=eu finished');
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('query')).toBe('level=error metadata.region=eu finished');
    // (the unfiltered rows stay until the filtered ones arrive)
    await expect.poll(async () => [...new Set(await page.locator('#results li .level').allTextContents())]).toEqual(['error']);
    const expected =
      await db.sql`select count(*)::int as n from workflow_logs where client_id = ${acme.clientId} and level = 'error' and metadata->>'region' = 'eu' and message ilike '%finished%'`;
    await expect.poll(() => page.locator('#results li').count()).toBe(expected[0]!.n);
    await expect.poll(() => page.locator('#histogram-total').textContent()).toBe(`${expected[0]!.n} events`);
    await shot('explore-filtered-1280');

    // the URL is shareable: loading it again shows the same query
    const shared = page.url();
    await page.goto(shared);
    await expect.poll(() => page.locator('#query').inputValue()).toBe('level=error metadata.region=eu finished');
    await expect.poll(() => page.locator('#results li').count()).toBe(expected[0]!.n);

    // an unknown field is a message, not a request
    await page.locator('#query').fill('colour=red');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#query-error').textContent()).toContain('unknown field "colour"');
    await shot('explore-query-error-1280');

    // presets, then zoom by clicking a bar of the histogram: the range becomes custom, in the URL
    await page.locator('#query').fill('');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: '24h', exact: true }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('range')).toBe('24h');
    await expect
      .poll(async () => {
        const h = page.locator('#histogram');
        return Date.parse((await h.getAttribute('data-to'))!) - Date.parse((await h.getAttribute('data-from'))!);
      })
      .toBe(86_400_000);
    await expect.poll(() => page.locator('#histogram-total').textContent()).toBe('150 events');
    const bars = page.locator('#histogram g.bar');
    const busiest = await bars.evaluateAll((gs) => {
      const heights = gs.map((g) => [...g.querySelectorAll('rect:not(.hit)')].reduce((h, r) => h + Number(r.getAttribute('height')), 0));
      return heights.indexOf(Math.max(...heights));
    });
    const box = (await bars.nth(busiest).locator('rect.hit').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).not.toBeNull();
    const zoomed = new URL(page.url()).searchParams;
    expect(zoomed.get('range')).toBeNull();
    expect(Date.parse(zoomed.get('to')!) - Date.parse(zoomed.get('from')!)).toBeLessThanOrEqual(3_600_000);
    await expect.poll(async () => Number((await page.locator('#histogram-total').textContent())!.split(' ')[0]!.replace(/,/g, ''))).toBeGreaterThan(0);
    await shot('explore-zoomed-1280');

    // the keyboard zooms too: Tab to a bar, Enter
    const beforeKeys = page.url();
    await bars.first().focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.url()).not.toBe(beforeKeys);

    // drag across the bars: a wider custom range
    const before = await page.locator('#histogram').getAttribute('data-to');
    await page.getByRole('button', { name: '1h', exact: true }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('range')).toBe('1h');
    await expect.poll(() => page.locator('#histogram').getAttribute('data-to')).not.toBe(before); // the 1 h histogram has replaced the zoomed one
    // the new histogram's bars, once drawn: a bar being replaced has no box, and the histogram may be redrawn
    // between a wait for its bars and the reading of their boxes, so the boxes are read until both are there
    let boxes: Array<{ x: number; y: number; height: number } | null> = [null, null];
    await expect
      .poll(async () => {
        boxes = [await bars.first().locator('rect.hit').boundingBox(), await bars.last().locator('rect.hit').boundingBox()];
        return boxes.every((b) => b !== null);
      })
      .toBe(true);
    const [first, last] = boxes as [{ x: number; y: number; height: number }, { x: number; y: number; height: number }];
    await page.mouse.move(first.x + 2, first.y + first.height / 2);
    await page.mouse.down();
    await page.mouse.move((first.x + last.x) / 2, first.y + first.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).not.toBeNull();

    // an NDJSON export of the current query
    await page.goto(`${stack.baseUrl}/?query=${encodeURIComponent('level=fatal')}&range=24h`);
    await page.locator('#results li').first().waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export').click()]);
    expect(download.suggestedFilename()).toMatch(/^logs-.*\.ndjson$/);
    const lines = (await readFile((await download.path())!, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; client_id: string });
    const fatal = await db.sql`select count(*)::int as n from workflow_logs where client_id = ${acme.clientId} and level = 'fatal'`;
    expect(lines).toHaveLength(fatal[0]!.n);
    expect(new Set(lines.map((l) => l.level))).toEqual(new Set(['fatal']));
    expect(new Set(lines.map((l) => l.client_id))).toEqual(new Set([acme.clientId]));
  });

  it('Live: a new event shows up with the same filters, pauses and resumes', { timeout: 60_000 }, async () => {
    await page.goto(`${stack.baseUrl}/?query=${encodeURIComponent('workflow=live-check')}&range=15m&live=1`);
    await page.locator('#live').waitFor();
    await expect.poll(() => page.locator('#live-state').textContent()).toBe('live');
    await shot('explore-live-waiting-1280');
    expect(
      (
        await postLogs(stack.baseUrl, acme.key, [
          event({ workflow: 'other', message: 'not this one' }),
          event({ workflow: 'live-check', message: 'arrived live' }),
        ])
      ).status,
    ).toBe(202);
    await page.locator('#live li', { hasText: 'arrived live' }).waitFor({ timeout: 15_000 });
    expect(await page.locator('#live li', { hasText: 'not this one' }).count()).toBe(0);
    await page.locator('#live-pause').click();
    expect((await postLogs(stack.baseUrl, acme.key, event({ workflow: 'live-check', message: 'held while paused' }))).status).toBe(202);
    await expect.poll(() => page.locator('#live-state').textContent(), { timeout: 15_000 }).toBe('paused · 1 new');
    expect(await page.locator('#live li', { hasText: 'held while paused' }).count()).toBe(0);
    await page.locator('#live-pause').click();
    await page.locator('#live li', { hasText: 'held while paused' }).waitFor();
    await shot('explore-live-1280');
  });

  it('an owner manages keys and users, and sees usage', { timeout: 60_000 }, async () => {
    await page.goto(`${stack.baseUrl}/keys`);
    await page.locator('#key-rows').waitFor();
    await page.locator('#key-form input[name=name]').fill('Console agent');
    await page.locator('#key-form select[name=role]').selectOption('agent');
    await page.locator('#key-form button[type=submit]').click();
    const secret = (await page.locator('#new-secret-value').textContent())!;
    expect(secret).toMatch(/^clk_/);
    await page.locator('#key-rows tr', { hasText: secret.slice(0, 16) }).waitFor();
    await shot('keys-new-secret-1280');
    expect((await postLogs(stack.baseUrl, secret, event())).status).toBe(202);
    // revoke it: two clicks
    const row = page.locator('#key-rows tr', { hasText: secret.slice(0, 16) });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Confirm revoke?' }).click();
    await row.filter({ hasText: 'revoked' }).waitFor();
    await page.getByRole('button', { name: 'Done' }).click();
    // rotate the reader key: a new secret shown once, the old key kept for the grace period
    const readerRow = page.locator('#key-rows tr', { hasText: 'console reader' }).first();
    await readerRow.getByRole('button', { name: 'Rotate' }).click();
    const rotated = (await page.locator('#new-secret-value').textContent())!;
    expect(rotated).toMatch(/^clk_/);
    expect(await page.locator('#new-secret').textContent()).toContain('the old key works 24 h more');
    await page.locator('#key-rows tr', { hasText: rotated.slice(0, 16) }).waitFor();
    expect((await postLogs(stack.baseUrl, rotated, event())).status).toBe(403); // a reader key: authenticated, not allowed to write
    await page.getByRole('button', { name: 'Done' }).click();
    // away and back: the secret is gone for good
    await page.goto(`${stack.baseUrl}/keys`);
    await page.locator('#key-rows').waitFor();
    expect(await page.content()).not.toContain(secret);
    // the usable keys against the cap: the active ones (the rotated key counts until its grace ends), not the revoked
    const active = await page.locator('#key-rows tr', { hasText: 'active' }).count();
    expect(await page.locator('#key-cap').textContent()).toBe(`${active} of 100 usable keys (revoked and expired keys do not count)`);
    expect(await noHorizontalScroll()).toBe(true);
    await shot('keys-1280');

    await page.locator('nav a[href="/users"]').click();
    await page.locator('#user-rows tr', { hasText: 'bob' }).waitFor();
    await page.locator('#invite-form input[name=username]').fill('carol');
    await page.locator('#invite-form select[name=role]').selectOption('reader');
    await page.locator('#invite-form button[type=submit]').click();
    const link = (await page.locator('#new-secret-value').textContent())!;
    expect(link).toMatch(new RegExp(`^${stack.baseUrl}/accept#token=inv1_`));
    await shot('users-invite-1280');
    // bob becomes an owner, then is deactivated
    const bob = page.locator('#user-rows tr', { hasText: 'bob' });
    await bob.locator('select').selectOption('owner');
    await expect.poll(async () => (await db.sql`select role from tenant_users where username = 'bob'`)[0]!.role).toBe('owner');
    await bob.getByRole('button', { name: 'Deactivate' }).click();
    await bob.getByRole('button', { name: 'Confirm deactivate?' }).click();
    await bob.filter({ hasText: 'deactivated' }).waitFor();
    await shot('users-1280');

    // the invitation link, opened signed out in the same browser, sets carol's password
    await signOut();
    await page.goto(link);
    await page.locator('input[name=password]').fill('carol has a long passphrase');
    await page.locator('input[name=confirm]').fill('carol has a long passphrase');
    await shot('accept-invite-1280');
    expect(await page.locator('.boot').count()).toBe(0);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('You are').waitFor();
    expect(page.url()).toBe(`${stack.baseUrl}/accept`);

    await signInWithUser('alice');
    await page.locator('nav a[href="/usage"]').click();
    await page.locator('#usage-days tr').first().waitFor();
    expect(await page.locator('#usage-today').textContent()).toMatch(/of [\d,]+ events a day/);
    expect(await page.locator('#rate-limits').textContent()).toContain('Events per day');
    await shot('usage-1280');
  });

  it('a reader sees no Keys or Users page', { timeout: 60_000 }, async () => {
    await signOut();
    await signInWithKey(reader);
    expect(await page.locator('nav').textContent()).not.toMatch(/Keys|Users/);
    await page.goto(`${stack.baseUrl}/keys`);
    await page.locator('#owners-only').waitFor();
    expect(await page.locator('#key-rows').count()).toBe(0);
    await shot('reader-keys-refused-1280');
    await page.goto(stack.baseUrl);
    await page.locator('#results li').first().waitFor();
    await signOut();
  });

  it('on a phone (375 px): readable, no horizontal scroll, a long value wraps', { timeout: 60_000 }, async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto(stack.baseUrl);
    await page.locator('#signin-form').waitFor();
    await shot('signin-375');
    await signInWithUser('alice');
    await page.locator('#results li').first().waitFor();
    expect(await noHorizontalScroll()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/explore-375.png` });
    const long = page.locator('#results li', { hasText: 'a-very-long-unbroken-value' }).first();
    await long.locator('button.summary').click();
    await long.locator('pre.json').waitFor();
    expect(await noHorizontalScroll()).toBe(true);
    await long.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/explore-long-value-375.png` });
    for (const path of ['/keys', '/users', '/usage']) {
      await page.goto(`${stack.baseUrl}${path}`);
      await page.locator('main section').waitFor();
      await page.waitForLoadState('networkidle');
      await shot(`${path.slice(1)}-375`);
      expect(await noHorizontalScroll(), `${path}: wider than the screen: ${await tooWide()}`).toBe(true);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(problems).toEqual([]);
  });
});
