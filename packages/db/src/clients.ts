import type { Sql } from './client.js';

export interface Client {
  id: string;
  name: string;
  isActive: boolean;
  createdAt: Date;
  deactivatedAt: Date | null;
  lastHeartbeatAt: Date | null;
}

function toClient(r: Record<string, unknown>): Client {
  return {
    id: r.id as string,
    name: r.name as string,
    isActive: r.is_active as boolean,
    createdAt: r.created_at as Date,
    deactivatedAt: (r.deactivated_at as Date | null) ?? null,
    lastHeartbeatAt: (r.last_heartbeat_at as Date | null) ?? null,
  };
}

export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export async function createClient(sql: Sql, id: string, name: string): Promise<Client> {
  const [row] = await sql`insert into clients (id, name) values (${id}, ${name}) returning *`;
  return toClient(row!);
}

export async function getClient(sql: Sql, id: string): Promise<Client | undefined> {
  const [row] = await sql`select * from clients where id = ${id}`;
  return row ? toClient(row) : undefined;
}

export async function listClients(sql: Sql): Promise<Client[]> {
  const rows = await sql`select * from clients order by created_at, id`;
  return rows.map(toClient);
}

/** Returns false when there is no such client. */
export async function deactivateClient(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`
    update clients set is_active = false, deactivated_at = coalesce(deactivated_at, now())
    where id = ${id} returning id`;
  return rows.length > 0;
}

/** Reactivates a client: its keys that are neither revoked nor expired work again. */
export async function activateClient(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`update clients set is_active = true, deactivated_at = null where id = ${id} returning id`;
  return rows.length > 0;
}
