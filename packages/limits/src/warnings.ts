import type { Sql } from '@central-logger/db';

/** Records that a client's events today reached `threshold`% of its quota; once per client, day and threshold. */
export async function recordQuotaWarning(sql: Sql, clientId: string, day: string, threshold: 80 | 100, used: number, quota: number): Promise<void> {
  await sql`
    insert into quota_warnings (client_id, day, threshold, events_used, events_per_day)
    values (${clientId}, ${day}, ${threshold}, ${used}, ${quota})
    on conflict do nothing`;
}

export interface QuotaWarning {
  clientId: string;
  day: string;
  threshold: 80 | 100;
  eventsUsed: number;
  eventsPerDay: number;
  recordedAt: Date;
}

/** A client's quota warnings, newest first (for the admin app). */
export async function listQuotaWarnings(sql: Sql, clientId: string): Promise<QuotaWarning[]> {
  const rows = await sql`
    select client_id, to_char(day, 'YYYY-MM-DD') as day, threshold, events_used, events_per_day, recorded_at
    from quota_warnings where client_id = ${clientId} order by day desc, threshold desc`;
  return rows.map((r) => ({
    clientId: r.client_id as string,
    day: r.day as string,
    threshold: r.threshold as 80 | 100,
    eventsUsed: Number(r.events_used),
    eventsPerDay: Number(r.events_per_day),
    recordedAt: r.recorded_at as Date,
  }));
}
