import type { Sql } from '@central-logger/db';
import { hashPassword } from '../auth/passwords.js';
import type { Db } from './db.js';

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface AdminUser {
  username: string;
  passwordHash: string;
  createdAt: Date;
  lastLoginAt: Date | null;
}

/** Creates an admin user; a taken username throws a unique violation. */
export async function createAdminUser(sql: Sql, username: string, password: string, bcryptCost: number): Promise<void> {
  const hash = await hashPassword(password, bcryptCost);
  await sql`insert into admin_users (username, password_hash) values (${username}, ${hash})`;
}

export async function findAdminUser(sql: Db, username: string): Promise<AdminUser | undefined> {
  const [r] = await sql`select * from admin_users where username = ${username}`;
  if (!r) return undefined;
  return {
    username: r.username as string,
    passwordHash: r.password_hash as string,
    createdAt: r.created_at as Date,
    lastLoginAt: (r.last_login_at as Date | null) ?? null,
  };
}
