import type { Context } from 'koa';
import { findLogs, type CursorCodec, type ReadRouter } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { parseLogQuery } from '@central-logger/events';
import { exportLogs } from './logs-export.js';
import { laggingRead } from '../replica-read.js';

/**
 * `GET /api/v1/logs`: the key's tenant's logs, newest first, a page at a
 * time with an opaque keyset cursor; with `Accept: application/x-ndjson`, an
 * export streaming every matching row. Both from the standby when there is one
 * (a keyset cursor is a place in the data, not in a server: pages may come
 * from either).
 */
export function queryLogs(reads: ReadRouter, cursors: CursorCodec) {
  const exporter = exportLogs(reads);
  return async function getLogs(ctx: Context): Promise<void> {
    if (ctx.accepts('application/json', 'application/x-ndjson') === 'application/x-ndjson') return exporter(ctx);
    const clientId = ctx.state.principal.clientId!;
    const query = parseLogQuery(ctx.query);
    const after = query.cursor === undefined ? undefined : cursors.decode(clientId, query.cursor);
    if (query.cursor !== undefined && !after) {
      throw new AppError('validation_failed', 'Invalid query parameter: cursor', {
        details: [{ field: 'cursor', message: "is not a cursor this API issued to this key's tenant (modified, truncated, or another tenant's)" }],
      });
    }
    const page = await laggingRead(ctx, reads, (sql) => findLogs(sql, clientId, query.filter, { limit: query.limit, after }));
    ctx.body = { data: page.data, next_cursor: page.next ? cursors.encode(clientId, page.next) : null };
  };
}
