import type { Context } from 'koa';
import { getLog, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';

/** `GET /api/v1/logs/:id`: one of the tenant's logs by event_id; another tenant's is 404 like a missing one. */
export function getLogById(readSql: Sql) {
  return async function getOneLog(ctx: Context): Promise<void> {
    const id = String(ctx.params.id ?? '');
    if (Object.keys(ctx.query).length > 0) {
      throw new AppError('validation_failed', `Invalid query parameters: ${Object.keys(ctx.query).join(', ')}`, {
        details: Object.keys(ctx.query).map((field) => ({ field, message: 'is not a known parameter' })),
      });
    }
    if (id.includes('\u0000')) {
      throw new AppError('validation_failed', 'Invalid path parameter: id', {
        details: [{ field: 'id', message: 'contains a NUL character (%00), which no id holds' }],
      });
    }
    const log = id.length > 0 && id.length <= 128 ? await getLog(readSql, ctx.state.principal.clientId!, id) : undefined;
    if (!log) throw new AppError('not_found', `No log with id ${JSON.stringify(id.slice(0, 128))}`);
    ctx.body = log;
  };
}
