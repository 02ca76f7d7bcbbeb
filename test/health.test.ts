import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminSchema, loadConfig } from '@central-logger/config';
import { portOf } from '@central-logger/http';
import { startAdmin, type AdminService } from '../apps/admin/src/service.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startStack, testEnv, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let admin: AdminService;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
  admin = await startAdmin(loadConfig(adminSchema, testEnv(db)));
});
afterAll(async () => {
  await admin?.close();
  await stack?.close();
  await db?.drop();
});

describe('health and readiness', () => {
  it.each(['ingest-api', 'admin'])('%s answers /health and /ready with Postgres and Redis checked', async (app) => {
    const base = app === 'admin' ? `http://127.0.0.1:${portOf(admin.server)}` : stack.baseUrl;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    expect(ready.headers.get('x-request-id')).toMatch(/^req_/);
  });
});
