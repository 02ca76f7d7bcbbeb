import type { Sql } from './client.js';

/**
 * The LOGIN role each process connects as (migrations 020 and 090): none is a
 * superuser, has BYPASSRLS or owns anything. The owner (DATABASE_URL) only
 * migrates.
 */
export const ROLES = {
  ingest: 'central_logger_ingest',
  worker: 'central_logger_worker',
  admin: 'central_logger_admin',
  reader: 'central_logger_reader',
} as const;

export type AppRole = keyof typeof ROLES;

/** `ownerUrl` with `role`'s user and no password: the default URL of each process. */
export function roleUrl(ownerUrl: string, role: AppRole): string {
  const url = new URL(ownerUrl);
  url.username = ROLES[role];
  url.password = '';
  return url.toString();
}

/** Sets the login password of each role given (the migrations create them without one). */
export async function setRolePasswords(sql: Sql, passwords: Partial<Record<AppRole, string>>): Promise<AppRole[]> {
  const set: AppRole[] = [];
  for (const [role, password] of Object.entries(passwords) as Array<[AppRole, string | undefined]>) {
    if (password === undefined) continue;
    // ALTER ROLE takes no bind parameters; quote the literal safely
    await sql.unsafe(`alter role ${ROLES[role]} password '${password.replaceAll("'", "''")}'`);
    set.push(role);
  }
  return set;
}
