import type { Sql } from './client.js';
import type { Tx } from './tenant.js';

/** One row of `admin_audit`: who changed what, from where. */
export interface AuditEntry {
  /** The admin username, the admin key's prefix, `cli:<OS user>`, a tenant key's prefix, or `anonymous` for a failed sign-in. */
  actor: string;
  /** What happened, `noun.verb`: `client.create`, `key.revoke`, `login.failure`. */
  action: string;
  /** What it happened to: `client:<id>`, `key:<id>`, `admin_user:<name>`. */
  target: string | null;
  /** Never a secret: prefixes, names, roles, dates. */
  details?: Record<string, unknown>;
  ip: string | null;
}

/**
 * Writes one audit row. Pass the transaction that makes the change, so the
 * change and its row commit together or not at all (a failing audit write
 * undoes the change). Shared by the admin app, the CLI and the ingest API's
 * tenant self-service routes.
 */
export async function recordAudit(tx: Sql | Tx, e: AuditEntry): Promise<void> {
  await tx`
    insert into admin_audit (actor, action, target, details, ip)
    values (${e.actor}, ${e.action}, ${e.target}, ${tx.json((e.details ?? {}) as never)}, ${e.ip})`;
}
