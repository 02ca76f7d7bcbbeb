import { readFileSync } from 'node:fs';
import type { Context } from 'koa';
import { AppError } from '@central-logger/errors';
import { htmlHeaders } from '@central-logger/http';

// built by `npm run build:console` (scripts/build-console.mjs), which `npm start`, `npm test` and the image run
const DIST = new URL('../../console/dist/', import.meta.url);

/** The console's pages (one page; the script shows the part the path names) and its two built files. */
const PAGES = ['/', '/keys', '/users', '/usage', '/accept'];
const FILES: Record<string, { name: string; type: string }> = {
  '/console/app.js': { name: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { name: 'app.css', type: 'text/css; charset=utf-8' },
};
for (const page of PAGES) FILES[page] = { name: 'index.html', type: 'text/html; charset=utf-8' };

export const CONSOLE_PATHS = Object.keys(FILES);

// the page runs only its own script and style, talks only to its own origin, and cannot be framed
const PAGE_HEADERS = htmlHeaders({ script: "'self'", style: "'self'", img: "'self'", connect: "'self'" });
const cache = new Map<string, Buffer>();

/**
 * The console's files, read once (fixed names: no file-system path comes
 * from a request). Every logged value it shows is set as text, never HTML;
 * the CSP allows no inline script or style, nothing from another origin.
 */
export function consoleFile(ctx: Context): void {
  const file = FILES[ctx.path];
  if (!file) return;
  let body = cache.get(file.name);
  if (!body) {
    try {
      body = readFileSync(new URL(file.name, DIST));
    } catch (cause) {
      throw new AppError('unavailable', 'The console is not built; run `npm run build:console`', { cause });
    }
    cache.set(file.name, body);
  }
  ctx.set(PAGE_HEADERS);
  ctx.set('Cache-Control', 'no-cache');
  ctx.type = file.type;
  ctx.body = body;
}
