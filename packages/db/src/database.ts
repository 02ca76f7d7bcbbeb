import postgres from 'postgres';

/** Creates the database named in `url` when it does not exist yet. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) throw new Error('DATABASE_URL names no database');
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const sql = postgres(maintenance.toString(), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [row] = await sql`select 1 as found from pg_database where datname = ${name}`;
    if (row) return false;
    await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`);
    return true;
  } finally {
    await sql.end();
  }
}

/** Drops the database named in `url` (tests only). */
export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const sql = postgres(maintenance.toString(), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`);
  } finally {
    await sql.end();
  }
}

/**
 * Where a connection string points, for people: the database, its host and
 * port, and the user; never the password (`central_logger on
 * 127.0.0.1:5432 as central_logger_admin`).
 */
export function describeDatabase(url: string): string {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1)) || "(the user's default)";
  // a socket directory given as ?host=/run/postgresql, as libpq allows, is where it connects
  const host = u.searchParams.get('host') || u.hostname || 'localhost';
  const user = u.username ? ` as ${decodeURIComponent(u.username)}` : '';
  return `${name} on ${host}:${u.port || '5432'}${user}`;
}
