import type { Client } from '@central-logger/db';
import type { Db } from './db.js';

/**
 * Counting a tenant's events exactly would scan its whole share of the log
 * table on every page load. Until the usage roll-ups exist, the overview
 * counts the last 24 hours through the (client_id, executed_at) index and
 * stops at this many, shown as "at least".
 */
export const EVENT_COUNT_CAP = 100_000;

export interface ClientOverview extends Client {
  keys: { total: number; active: number };
  eventsLast24h: { count: number; capped: boolean };
}

export async function listClientOverviews(sql: Db): Promise<ClientOverview[]> {
  return overviews(sql, undefined);
}

export async function getClientOverview(sql: Db, clientId: string): Promise<ClientOverview | undefined> {
  return (await overviews(sql, clientId))[0];
}

async function overviews(sql: Db, clientId: string | undefined): Promise<ClientOverview[]> {
  const rows = await sql`
    select c.*, k.total as keys_total, k.active as keys_active, e.n as events_24h
    from clients c
    cross join lateral (
      select count(*)::int as total,
             count(*) filter (where is_active and revoked_at is null and (expires_at is null or expires_at > now()))::int as active
      from api_keys where client_id = c.id) k
    cross join lateral (
      select count(*)::int as n from (
        select 1 from workflow_logs w
        where w.client_id = c.id and w.executed_at > now() - interval '24 hours'
        limit ${EVENT_COUNT_CAP + 1}) x) e
    ${clientId === undefined ? sql`` : sql`where c.id = ${clientId}`}
    order by c.created_at, c.id`;
  return rows.map((r) => ({
    id: r.id as string,
    name: r.name as string,
    isActive: r.is_active as boolean,
    createdAt: r.created_at as Date,
    deactivatedAt: (r.deactivated_at as Date | null) ?? null,
    lastHeartbeatAt: (r.last_heartbeat_at as Date | null) ?? null,
    keys: { total: r.keys_total as number, active: r.keys_active as number },
    eventsLast24h: { count: Math.min(r.events_24h as number, EVENT_COUNT_CAP), capped: (r.events_24h as number) > EVENT_COUNT_CAP },
  }));
}
