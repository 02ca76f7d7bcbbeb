import { getClient, listClients, type Client, type Sql } from '@central-logger/db';

/**
 * Counting a tenant's events exactly would scan its whole share of the log
 * table on every page load. Until the usage roll-ups exist, the overview
 * counts the last 24 hours through the (client_id, executed_at) index and
 * stops at this many, shown as "at least" (an index-only scan: a few ms
 * for a tenant past the cap, measured on 2 shared cores).
 */
export const EVENT_COUNT_CAP = 10_000;

export interface ClientOverview extends Client {
  keys: { total: number; active: number };
  /** Stored events whose executed_at is in the last 24 hours (event time), capped. */
  eventsLast24h: { count: number; capped: boolean };
  /**
   * Events accepted by ingest in the last 24 whole hours and this one
   * (arrival time), from the hourly roll-up: the figure the usage charts show.
   */
  acceptedLast24h: number;
}

type Counts = Pick<ClientOverview, 'keys' | 'eventsLast24h' | 'acceptedLast24h'>;

export async function listClientOverviews(sql: Sql): Promise<ClientOverview[]> {
  const clients = await listClients(sql);
  const counts = await countsOf(
    sql,
    clients.map((c) => c.id),
  );
  return clients.map((c) => ({ ...c, ...counts.get(c.id)! }));
}

export async function getClientOverview(sql: Sql, clientId: string): Promise<ClientOverview | undefined> {
  const client = await getClient(sql, clientId);
  if (!client) return undefined;
  const counts = await countsOf(sql, [clientId]);
  return { ...client, ...counts.get(clientId)! };
}

/** Key counts and capped recent event counts of each client, in one query. */
async function countsOf(sql: Sql, clientIds: string[]): Promise<Map<string, Counts>> {
  const rows = await sql`
    select c.id, k.total, k.active, e.n, u.accepted
    from unnest(${clientIds}::text[]) as c (id)
    cross join lateral (
      select count(*)::int as total,
             count(*) filter (where is_active and revoked_at is null and (expires_at is null or expires_at > now()))::int as active
      from api_keys where client_id = c.id) k
    cross join lateral (
      select count(*)::int as n from (
        select 1 from workflow_logs w
        where w.client_id = c.id and w.executed_at > now() - interval '24 hours'
        limit ${EVENT_COUNT_CAP + 1}) x) e
    cross join lateral (
      select coalesce(sum(events_accepted), 0)::bigint as accepted from usage_hourly h
      where h.client_id = c.id and h.hour >= date_trunc('hour', now()) - interval '24 hours') u`;
  return new Map(
    rows.map((r) => [
      r.id as string,
      {
        keys: { total: r.total as number, active: r.active as number },
        eventsLast24h: { count: Math.min(r.n as number, EVENT_COUNT_CAP), capped: (r.n as number) > EVENT_COUNT_CAP },
        acceptedLast24h: Number(r.accepted),
      },
    ]),
  );
}
