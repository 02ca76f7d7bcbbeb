import type { Context } from 'koa';
import type { ReadRouter, ReadServer, Sql } from '@central-logger/db';

/** The header of every tenant read the standby served: its replay lag in ms at the last sample. */
const LAG_HEADER = 'X-Data-Lag-Ms';

/** Marks the answer as served by the standby (with its lag) when it was. */
export function markServer(ctx: Context, server: ReadServer): void {
  if (server.lagMs !== undefined) ctx.set(LAG_HEADER, String(server.lagMs));
}

/** Runs a tenant read that may lag on the router's choice (falling back to the primary), and says so in the header. */
export async function laggingRead<T>(ctx: Context, reads: ReadRouter, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const { value, server } = await reads.read(fn);
  markServer(ctx, server);
  return value;
}

/**
 * The standby's part of /ready's body (nothing without READ_REPLICA_URL): its
 * state and lag at the last sample. Never a reason for 503: while it is down
 * or too far behind, its reads go to the primary.
 */
export function replicaReadiness(reads: ReadRouter): Record<string, unknown> {
  const state = reads.state;
  if (!state) return {};
  return { replica: state, replica_lag_ms: reads.lagMs ?? null };
}
