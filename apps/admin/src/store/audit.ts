import { recordAudit, type AuditEntry } from '@central-logger/db';
import type { KeyRecord } from '@central-logger/keys';
import type { Db } from './db.js';

// the writer lives in packages/db: the ingest API's tenant self-service writes audit rows too
export { recordAudit, type AuditEntry };

export interface AuditRecord extends Required<AuditEntry> {
  id: string;
  at: Date;
}

/** The entries the admin API and the CLI both write, so each change reads the same whoever made it. */
export const audited = {
  clientCreated: (actor: string, c: { id: string; name: string }, ip: string | null): AuditEntry => ({
    actor,
    action: 'client.create',
    target: `client:${c.id}`,
    details: { name: c.name },
    ip,
  }),
  clientStatus: (actor: string, id: string, active: boolean, ip: string | null): AuditEntry => ({
    actor,
    action: active ? 'client.activate' : 'client.deactivate',
    target: `client:${id}`,
    details: {},
    ip,
  }),
  /** A client's retention or limits changed; `details` is what was set. */
  clientUpdated: (actor: string, id: string, details: Record<string, unknown>, ip: string | null): AuditEntry => ({
    actor,
    action: 'client.update',
    target: `client:${id}`,
    details,
    ip,
  }),
  keyIssued: (actor: string, r: KeyRecord, ip: string | null): AuditEntry => ({
    actor,
    action: 'key.issue',
    target: `key:${r.id}`,
    details: { prefix: r.prefix, name: r.name, role: r.role, client_id: r.clientId, expires_at: r.expiresAt },
    ip,
  }),
};

/** Newest first; `beforeId` is the keyset cursor (the last id of the previous page). */
export async function listAudit(sql: Db, page: { limit: number; beforeId?: string }): Promise<AuditRecord[]> {
  const rows = await sql`
    select * from admin_audit
    ${page.beforeId === undefined ? sql`` : sql`where id < ${page.beforeId}`}
    order by id desc limit ${page.limit}`;
  return rows.map((r) => ({
    id: String(r.id),
    actor: r.actor as string,
    action: r.action as string,
    target: (r.target as string | null) ?? null,
    details: r.details as Record<string, unknown>,
    ip: (r.ip as string | null) ?? null,
    at: r.at as Date,
  }));
}

/** Kept apart from the audit log: the alert rules count these per address and per username. */
export async function recordLoginFailure(tx: Db, username: string, ip: string | null): Promise<void> {
  await tx`insert into admin_login_failures (username, ip) values (${username.slice(0, 256)}, ${ip})`;
}
