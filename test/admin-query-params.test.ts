// Every GET of the admin API checks its query: a parameter it does not know is a
// 400 validation_failed naming it, never silently ignored (a typo such as
// `?clients=acme` would otherwise list every client's keys).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { call, createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;
let key: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  key = (await createAdminKey(db.sql)).key;
  await createClient(db.sql, 'acme', 'Acme');
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const GETS = [
  'clients',
  'clients/acme',
  'clients/acme/summary',
  'keys',
  'keys?client=acme',
  'audit',
  'audit?limit=5',
  'users',
  'users?client_id=acme',
  'usage',
  'usage/auth-failures',
  'alerts',
  'alerts/summary',
  'system',
  'dead-letters',
];

describe('admin API query parameters', () => {
  it.each(GETS)('GET %s answers 200, and 400 naming an unknown parameter', async (path) => {
    expect((await call(app, 'GET', `/admin/api/${path}`, { key })).status).toBe(200);
    const res = await call(app, 'GET', `/admin/api/${path}${path.includes('?') ? '&' : '?'}clientt=acme&bogus=1`, { key });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'validation_failed', message: 'The request is invalid' });
    expect(res.body.details).toEqual([
      { field: 'clientt', message: 'is not a known parameter' },
      { field: 'bogus', message: 'is not a known parameter' },
    ]);
    expect(res.body.request_id).toEqual(expect.any(String));
  });

  it('an empty client_id on users still lists every client, as before', async () => {
    expect((await call(app, 'GET', '/admin/api/users?client_id=', { key })).status).toBe(200);
  });
});
