// Debian's Chromium (/usr/bin/chromium; .ci/run installs it) driven by playwright-core,
// for the dashboard's page tests: launch, sign in, and the checks every page gets.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { signIn, type AdminTestApp } from './admin.js';

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

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  // fail loudly, never skip: a missing browser must not pass as a green run
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}. Install it with: apt-get install -y chromium (.ci/run does this), or set CHROMIUM_PATH.`);
  const profile = await mkdtemp(join(tmpdir(), 'cl-e2e-chromium-'));
  // a persistent context is how Playwright takes a fresh --user-data-dir of our choosing
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 30_000,
    viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    // an API answer of 401 or 404 is the page working; script errors and CSP refusals are not
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text());
  });
  Object.assign(page, { scriptErrors: errors });
  return {
    context,
    page,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Script errors and CSP violations the page reported since launch (not failed API answers). */
export function scriptErrors(page: Page): string[] {
  return (page as unknown as { scriptErrors: string[] }).scriptErrors;
}

/** Signs in through the API and hands the session cookie to the browser. */
export async function signInBrowser(b: Browser, app: AdminTestApp): Promise<void> {
  const [name, value] = (await signIn(app)).split('=') as [string, string];
  await b.context.addCookies([{ name, value, url: app.baseUrl }]);
}

/** Opens `hash` afresh (a reload, so the page loads even when only the hash would change). */
export async function open(b: Browser, app: AdminTestApp, hash: string): Promise<void> {
  await b.page.goto(`${app.baseUrl}/#${hash}`);
  await b.page.reload();
}

/** At 1280 × 800 the page never scrolls sideways. */
export async function expectNoSidewaysScroll(page: Page, what: string): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 800 });
  // a string, run in the page: the test code is compiled without the DOM's types
  const { scrollWidth, innerWidth } = (await page.evaluate('({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })')) as {
    scrollWidth: number;
    innerWidth: number;
  };
  expect(scrollWidth, `${what}: page is ${scrollWidth} px wide in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
}

/** No text of a chart under `selector` (axis labels, dates, legends) reaches past its chart's edges, where it would be clipped. */
export async function expectChartTextInside(page: Page, selector: string): Promise<void> {
  // a string, run in the page: the test code is compiled without the DOM's types
  const outside = (await page.evaluate(`[...document.querySelectorAll(${JSON.stringify(`${selector} svg.chart`)})].flatMap((svg) => {
    const box = svg.viewBox.baseVal;
    return [...svg.querySelectorAll(':scope > text')]
      .map((t) => ({ text: t.textContent, b: t.getBBox() }))
      .filter(({ b }) => b.width > 0 && (b.x < box.x - 0.5 || b.x + b.width > box.x + box.width + 0.5))
      .map(({ text, b }) => text + ' at x ' + Math.round(b.x) + '..' + Math.round(b.x + b.width) + ' of ' + box.width);
  })`)) as string[];
  expect(outside, `${selector}: chart text clipped`).toEqual([]);
}

/** Screenshots for a person to look at, at 1280 × 800 and a phone's width, under test-results/ (ignored by git). */
export async function screenshots(page: Page, name: string): Promise<void> {
  await mkdir('test-results', { recursive: true });
  for (const [width, height] of [
    [1280, 800],
    [390, 844],
  ] as const) {
    await page.setViewportSize({ width, height });
    // the usage page redraws its wide charts for a phone's width (insights.js): wait until it has
    await chartsDrawnFor(page, width);
    await page.screenshot({ path: `test-results/admin-${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await chartsDrawnFor(page, 1280);
}

/** After a resize: waits until the page's charts are drawn for `width` (insights.js sets data-charts on <html>). */
export async function chartsDrawnFor(page: Page, width: number): Promise<void> {
  // a locator, not waitForFunction: that evaluates a string, which the page's CSP refuses
  await page.locator(`html[data-charts=${width <= 700 ? 'narrow' : 'wide'}]`).waitFor({ state: 'attached' });
}
