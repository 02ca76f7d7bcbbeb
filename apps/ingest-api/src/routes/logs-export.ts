import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { streamLogs, type ReadRouter } from '@central-logger/db';
import { parseLogQuery } from '@central-logger/events';
import { markServer } from '../replica-read.js';

/**
 * `GET /api/v1/logs` with `Accept: application/x-ndjson`: every matching log,
 * newest first, one JSON object a line, read through a Postgres cursor and
 * written as the client takes it (backpressure), never buffered whole. From
 * the standby when there is one (chosen before the 200; a stream that fails
 * midway is cut short, not moved to the primary).
 */
export function exportLogs(reads: ReadRouter) {
  return async function exportNdjson(ctx: Context): Promise<void> {
    const clientId = ctx.state.principal.clientId!;
    // parameters are checked before the 200 is committed
    const { filter } = parseLogQuery(ctx.query, { export: true });
    const server = reads.choose();
    markServer(ctx, server);
    const out = new PassThrough();
    ctx.type = 'application/x-ndjson';
    ctx.body = out;
    const write = async (rows: unknown[]): Promise<void> => {
      if (out.destroyed) throw new Error('client went away');
      if (!out.write(rows.map((r) => `${JSON.stringify(r)}\n`).join(''))) {
        await Promise.race([once(out, 'drain'), once(out, 'close')]);
      }
    };
    streamLogs(server.sql, clientId, filter, write).then(
      () => out.end(),
      (err: Error) => {
        // the status is sent already: cut the stream short so the client sees it incomplete
        if (!out.destroyed) ctx.state.log.error({ err: err.message }, 'log export failed');
        out.destroy(err);
      },
    );
  };
}
