import { randomUUID } from 'node:crypto';
import type { Sql } from '@central-logger/db';

export const RULES = [
  'auth_failures_address',
  'auth_failures_prefix',
  'dead_key_in_use',
  'new_address',
  'request_spike',
  'dormant_key_active',
  'quota',
  'dead_letters',
  'failed_jobs',
  'key_rotation_due',
] as const;
export type Rule = (typeof RULES)[number];
export type Severity = 'info' | 'warning' | 'critical';

/** What a rule found: one candidate alert. */
export interface Finding {
  rule: Rule;
  subject: string;
  windowStart: Date;
  severity: Severity;
  summary: string;
  evidence: Record<string, unknown>;
  clientId?: string | null;
  keyId?: string | null;
}

export interface Alert extends Finding {
  id: string;
  raisedAt: Date;
  updatedAt: Date;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  /** Why it was acknowledged, in the admin's words. */
  acknowledgedNote: string | null;
  /** When its webhook delivery was queued; null when there is no webhook, or the outbox has not reached it yet. */
  webhookQueuedAt: Date | null;
}

export const SEVERITIES = ['critical', 'warning', 'info'] as const;

const newAlertId = () => `alr_${randomUUID().replaceAll('-', '')}`;

/**
 * Stores a finding: a new alert, or fresh evidence on the one already raised
 * for the same rule, subject and window (unique index). Returns the alert and
 * whether it is new (only new alerts go to the webhook).
 */
export async function upsertAlert(sql: Sql, f: Finding): Promise<{ alert: Alert; created: boolean }> {
  const [row] = await sql`
    insert into alerts (id, rule, subject, window_start, severity, summary, evidence, client_id, key_id)
    values (${newAlertId()}, ${f.rule}, ${f.subject}, ${f.windowStart}, ${f.severity}, ${f.summary}, ${sql.json(f.evidence as never)}, ${f.clientId ?? null}, ${f.keyId ?? null})
    on conflict (rule, subject, window_start) do update set
      evidence = excluded.evidence, summary = excluded.summary, severity = excluded.severity, updated_at = now()
    returning *, (xmax = 0) as created`;
  return { alert: alertOf(row!), created: row!.created as boolean };
}

/**
 * Alerts raised since `since` whose webhook delivery is not queued yet (new
 * ones, and any a crash left between their commit and their job), oldest first.
 */
export async function alertsAwaitingWebhook(sql: Sql, since: Date, limit = 100): Promise<Alert[]> {
  const rows = await sql`
    select * from alerts where webhook_queued_at is null and raised_at >= ${since}
    order by raised_at, id limit ${limit}`;
  return rows.map(alertOf);
}

/** Records that an alert's webhook delivery is queued (its job id is the alert's id, so queueing twice sends once). */
export async function markWebhookQueued(sql: Sql, id: string): Promise<void> {
  await sql`update alerts set webhook_queued_at = now() where id = ${id}`;
}

export interface AlertFilter {
  status?: 'open' | 'acknowledged' | 'all';
  rule?: Rule;
  severity?: Severity;
  limit: number;
  /** Keyset cursor: the id of the last alert of the previous page (its raised_at is read in the query, at full microsecond precision). */
  beforeId?: string;
}

/** Newest first. */
export async function listAlerts(sql: Sql, f: AlertFilter): Promise<Alert[]> {
  const status = f.status ?? 'all';
  const rows = await sql`
    select * from alerts where true
      ${status === 'open' ? sql`and acknowledged_at is null` : status === 'acknowledged' ? sql`and acknowledged_at is not null` : sql``}
      ${f.rule ? sql`and rule = ${f.rule}` : sql``}
      ${f.severity ? sql`and severity = ${f.severity}` : sql``}
      ${f.beforeId ? sql`and (raised_at, id) < (select raised_at, id from alerts where id = ${f.beforeId})` : sql``}
    order by raised_at desc, id desc limit ${f.limit}`;
  return rows.map(alertOf);
}

export async function getAlert(sql: Sql, id: string): Promise<Alert | undefined> {
  const [row] = await sql`select * from alerts where id = ${id}`;
  return row ? alertOf(row) : undefined;
}

/** Open alerts, all and by severity: the count beside the dashboard's Alerts link. */
export async function countOpenAlerts(sql: Sql): Promise<{ open: number; bySeverity: Record<Severity, number> }> {
  const rows = await sql`select severity, count(*)::int as n from alerts where acknowledged_at is null group by severity`;
  const bySeverity: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  for (const r of rows) bySeverity[r.severity as Severity] = r.n as number;
  return { open: rows.reduce((n, r) => n + (r.n as number), 0), bySeverity };
}

/**
 * Acknowledges an open alert, with an optional note; undefined when there is
 * no such alert. An acknowledged one stays as it was, note included.
 */
export async function acknowledgeAlert(sql: Sql, id: string, by: string, note: string | null = null): Promise<{ alert: Alert; changed: boolean } | undefined> {
  const [row] =
    await sql`update alerts set acknowledged_at = now(), acknowledged_by = ${by}, acknowledged_note = ${note} where id = ${id} and acknowledged_at is null returning *`;
  if (row) return { alert: alertOf(row), changed: true };
  const existing = await getAlert(sql, id);
  return existing ? { alert: existing, changed: false } : undefined;
}

function alertOf(r: Record<string, unknown>): Alert {
  return {
    id: r.id as string,
    rule: r.rule as Rule,
    subject: r.subject as string,
    windowStart: r.window_start as Date,
    severity: r.severity as Severity,
    summary: r.summary as string,
    evidence: r.evidence as Record<string, unknown>,
    clientId: (r.client_id as string | null) ?? null,
    keyId: (r.key_id as string | null) ?? null,
    raisedAt: r.raised_at as Date,
    updatedAt: r.updated_at as Date,
    acknowledgedAt: (r.acknowledged_at as Date | null) ?? null,
    acknowledgedBy: (r.acknowledged_by as string | null) ?? null,
    acknowledgedNote: (r.acknowledged_note as string | null) ?? null,
    webhookQueuedAt: (r.webhook_queued_at as Date | null) ?? null,
  };
}

/** The API and the webhook speak snake_case. */
export function alertJson(a: Alert) {
  return {
    id: a.id,
    rule: a.rule,
    subject: a.subject,
    severity: a.severity,
    summary: a.summary,
    status: a.acknowledgedAt ? 'acknowledged' : 'open',
    window_start: a.windowStart,
    evidence: a.evidence,
    client_id: a.clientId,
    key_id: a.keyId,
    raised_at: a.raisedAt,
    updated_at: a.updatedAt,
    acknowledged_at: a.acknowledgedAt,
    acknowledged_by: a.acknowledgedBy,
    acknowledged_note: a.acknowledgedNote,
  };
}
