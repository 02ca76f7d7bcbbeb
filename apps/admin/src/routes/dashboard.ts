import { readFileSync } from 'node:fs';
import type { Context } from 'koa';

const DIR = new URL('../dashboard/', import.meta.url);

// Four fixed files, read once at start-up: no build step, no file-system paths from requests.
const FILES: Record<string, { body: Buffer; type: string }> = {
  '/': { body: readFileSync(new URL('index.html', DIR)), type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { body: readFileSync(new URL('app.js', DIR)), type: 'text/javascript; charset=utf-8' },
  '/dashboard/insights.js': { body: readFileSync(new URL('insights.js', DIR)), type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { body: readFileSync(new URL('style.css', DIR)), type: 'text/css; charset=utf-8' },
};

/**
 * The dashboard's page, script and style. The page runs only its own script
 * (no inline code, no other origins), cannot be framed, and sends no referrer.
 */
export function dashboardFile(ctx: Context): void {
  const file = FILES[ctx.path];
  if (!file) return;
  ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-cache');
  ctx.type = file.type;
  ctx.body = file.body;
}

export const DASHBOARD_PATHS = Object.keys(FILES);
