// The dashboard's files: served by the admin app itself, locked down by headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('dashboard files', () => {
  it.each([
    ['/', 'text/html', '<form id="signin-form">'],
    ['/dashboard/app.js', 'text/javascript', "api('POST', 'login'"],
    ['/dashboard/style.css', 'text/css', '.new-key'],
  ])('GET %s: %s with a strict content security policy, no sign-in needed', async (path, type, content) => {
    const res = await fetch(`${app.baseUrl}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain(type);
    expect(await res.text()).toContain(content);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves every script and style the page names, and the page has no inline script or style', async () => {
    const html = await (await fetch(`${app.baseUrl}/`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(5);
    for (const path of assets) expect((await fetch(`${app.baseUrl}${path}`)).status, path).toBe(200);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
  });

  it('serves nothing else from the folder', async () => {
    for (const path of ['/dashboard/index.html', '/dashboard/../app.ts', '/dashboard/', '/app.js']) {
      const res = await fetch(`${app.baseUrl}${path}`);
      expect(res.status, path).toBe(404);
    }
  });
});
