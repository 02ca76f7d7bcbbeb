import { readFileSync } from 'node:fs';
import type { Context } from 'koa';
import { htmlHeaders } from '@central-logger/http';

const DIR = new URL('../dashboard/', import.meta.url);

// Fixed files, read once at start-up: no build step, no file-system paths from requests.
const SCRIPTS = ['app.js', 'charts.js', 'insights.js', 'client.js', 'system.js', 'start.js'];
const FILES: Record<string, { body: Buffer; type: string }> = {
  '/': { body: readFileSync(new URL('index.html', DIR)), type: 'text/html; charset=utf-8' },
  '/dashboard/style.css': { body: readFileSync(new URL('style.css', DIR)), type: 'text/css; charset=utf-8' },
  ...Object.fromEntries(SCRIPTS.map((name) => [`/dashboard/${name}`, { body: readFileSync(new URL(name, DIR)), type: 'text/javascript; charset=utf-8' }])),
};

// the page runs only its own script and style, and talks only to its own origin
const PAGE_HEADERS = htmlHeaders({ script: "'self'", style: "'self'", img: "'self'", connect: "'self'" });

/**
 * The dashboard's page, script and style. The page runs only its own script
 * (no inline code, no other origins), cannot be framed, and sends no referrer.
 */
export function dashboardFile(ctx: Context): void {
  const file = FILES[ctx.path];
  if (!file) return;
  ctx.set(PAGE_HEADERS);
  ctx.set('Cache-Control', 'no-cache');
  ctx.type = file.type;
  ctx.body = file.body;
}

export const DASHBOARD_PATHS = Object.keys(FILES);
