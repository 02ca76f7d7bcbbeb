import { Writable } from 'node:stream';
import pino from 'pino';
import { adminSchema, loadConfig, type AdminConfig } from '@central-logger/config';
import { portOf } from '@central-logger/http';
import { createKey, type KeyRecord } from '@central-logger/keys';
import type { Sql } from '@central-logger/db';
import { startAdmin, type AdminService } from '../../apps/admin/src/service.js';
import { createAdminUser } from '../../apps/admin/src/store/admin-users.js';
import type { TestDatabase } from './db.js';
import { deleteRedisKeys, testEnv } from './stack.js';

/**
 * The promise is 1 s; the margin absorbs a loaded test machine. Without the
 * Redis announcement a cached key would keep working for KEY_CACHE_TTL_MS
 * (60 s), so the tests still fail when the announcement is missing.
 */
export const ANNOUNCED_WITHIN_MS = 2_000;

export const ADMIN_USER = 'ops';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface AdminTestApp {
  service: AdminService;
  config: AdminConfig;
  baseUrl: string;
  /** Every line the app logged, at debug level and above. */
  logs: string[];
  close(): Promise<void>;
}

/** Starts the admin app on a free port with its own Redis prefix, logging into `logs`. */
export async function startAdminApp(db: TestDatabase, extra: Record<string, string> = {}): Promise<AdminTestApp> {
  const config = loadConfig(adminSchema, testEnv(db, { AUTH_FAILURE_LIMIT: '1000', ...extra }));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const service = await startAdmin(config, { log: pino({ level: 'debug' }, sink) });
  return {
    service,
    config,
    baseUrl: `http://127.0.0.1:${portOf(service.server)}`,
    logs,
    async close() {
      await service.close();
      await deleteRedisKeys(config.QUEUE_PREFIX);
    },
  };
}

export async function createTestAdminUser(sql: Sql, username = ADMIN_USER, password = ADMIN_PASSWORD): Promise<void> {
  await createAdminUser(sql, username, password, 4);
}

export async function createAdminKey(sql: Sql, name = 'automation'): Promise<{ key: string; record: KeyRecord }> {
  return createKey(sql, { name, role: 'admin', clientId: null, bcryptCost: 4 });
}

export interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface Credentials {
  /** The `cl_admin_session=…` pair to send as Cookie. */
  cookie?: string;
  /** Sent as `Authorization: Bearer`. */
  key?: string;
}

/** One admin API call; JSON bodies get `Content-Type: application/json` unless `headers` say otherwise. */
export async function call(
  app: AdminTestApp,
  method: string,
  path: string,
  creds: Credentials = {},
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(creds.cookie ? { cookie: creds.cookie } : {}),
      ...(creds.key ? { authorization: `Bearer ${creds.key}` } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** Signs in and returns the session cookie pair. */
export async function signIn(app: AdminTestApp, username = ADMIN_USER, password = ADMIN_PASSWORD): Promise<string> {
  const res = await call(app, 'POST', '/admin/api/login', {}, { username, password });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${res.text}`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}
