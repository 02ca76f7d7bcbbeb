import type { Context, Next } from 'koa';
import { AppError, type ErrorDetail } from '@central-logger/errors';

/**
 * Koa middleware: 400 for a URL that carries a NUL character (`%00`) in its
 * path or query, naming each parameter that holds one. Postgres stores and
 * compares no text holding one (22021), so a route passing it on would
 * answer 500; no parameter of this API may hold one. (Node's parser already
 * refuses a raw NUL byte.)
 */
export async function refuseNulInUrl(ctx: Context, next: Next): Promise<void> {
  if (ctx.url.includes('%00')) {
    const details: ErrorDetail[] = [];
    if (ctx.path.includes('%00')) details.push({ field: 'path', message: 'contains a NUL character (%00)' });
    const query = ctx.query;
    for (const name of Object.keys(query)) {
      const values = [query[name]].flat();
      if (name.includes('\u0000') || values.some((v) => v?.includes('\u0000')))
        details.push({ field: name.replaceAll('\u0000', '%00'), message: 'contains a NUL character (%00)' });
    }
    if (details.length > 0) throw new AppError('validation_failed', 'The URL holds a NUL character (%00), which no parameter may hold', { details });
  }
  await next();
}
