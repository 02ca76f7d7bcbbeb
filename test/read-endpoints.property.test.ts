import fc from 'fast-check';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { logRow, seedLogs } from './support/reads.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';

// Arbitrary query strings (hostile bytes, percent-encodings, repeated keys,
// prototype names, dates Postgres cannot store) on every read endpoint of
// both HTTP apps: a 4xx at worst, never a 5xx.
let db: TestDatabase;
let stack: Stack;
let admin: AdminTestApp;
let owner: Tenant;
let adminKey: string;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { CURSOR_SECRET: 'property-test-cursor-secret-32-chars+' }, { worker: false });
  admin = await startAdminApp(db);
  owner = await createTenant(db.sql, 'owner');
  adminKey = (await createAdminKey(db.sql)).key;
  await seedLogs(db.sql, [logRow(owner.clientId, { event_id: 'e1', metadata: { region: 'eu' } }), logRow(owner.clientId, { event_id: 'e2' })]);
});
afterAll(async () => {
  agent.destroy();
  await admin?.close();
  await stack?.close();
  await db?.drop();
});

const percent = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');

const HOSTILE = [
  '%00',
  'a%00b',
  '%',
  '%Z',
  '%ZZ',
  '%E2%80%A6',
  '%E2%80',
  '%ED%A0%80',
  '%C0%80',
  '%FF',
  '%2500',
  '+',
  '&',
  '=',
  '.',
  '[]',
  '[0]',
  '%5B%5D',
  '__proto__',
  'constructor',
  'prototype',
  '0000-01-01',
  '0000-12-31T00:00:00Z',
  '0001-01-01T00:30:00Z',
  '0001-01-01',
  '0001-01-01T00:00:00%2B01:00',
  '9999-12-31T23:59:59-05:00',
  '9999-12-31',
  '-000001-01-01',
  '%2B275760-09-13',
  '2026-02-29',
  '2024-02-29',
  '2026-01-06T12:00:00Z',
  '2026-01-06T25:00',
  '1e999',
  'NaN',
  '-1',
  '0',
  '1001',
  '99999999999999999999',
  "'",
  '%27',
  '%22',
  '%5C',
  '\\',
  '%25',
  '_',
  'hour',
  'day',
  'status',
  'client',
  'key',
  'ERROR',
  'x'.repeat(300),
  'eyJhIjoxfQ',
  '..',
  '/',
];
const NAMES = [
  'from',
  'to',
  'status',
  'environment',
  'workflow',
  'run_id',
  'level',
  'q',
  'limit',
  'cursor',
  'group_by',
  'metadata.region',
  'metadata.',
  'metadata.__proto__',
  'metadata.constructor',
  'metadata.a.b',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'client',
  'key',
  'granularity',
  'by',
  'state',
  'status%00',
  'q[]',
  'from[0]',
  '%71',
];

const token = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 1, arbitrary: fc.constantFrom('%00', 'a%00b', '%00x') },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }).map(percent) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~!$'()*,;:@/-]{0,12}$/) },
);
const value = fc.array(token, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''));

/** Query strings: mostly the endpoint's own parameters (so a bad value is not hidden behind an unknown name), some hostile names. */
function queryString(own: string[]): fc.Arbitrary<string> {
  const name = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...own) },
    { weight: 2, arbitrary: fc.constantFrom(...NAMES) },
    { weight: 1, arbitrary: value },
  );
  const pairs = fc.array(fc.tuple(name, fc.option(value, { nil: undefined, freq: 8 })), { minLength: 1, maxLength: 5 });
  return pairs.map((ps) => ps.map(([n, v]) => (v === undefined ? n : `${n}=${v}`)).join('&'));
}
const pathId = fc.oneof(
  fc.constantFrom('e1', '%00', 'a%00', '%ZZ', '%E2%80', '..', 'x'.repeat(300), '__proto__'),
  fc.string({ minLength: 1, maxLength: 10 }).map(percent),
);

function get(base: string, path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

const RUNS = 150;

describe('read endpoints never answer 5xx, whatever the query string', () => {
  const LOGS = ['from', 'to', 'status', 'environment', 'workflow', 'run_id', 'level', 'q', 'limit', 'cursor', 'metadata.region'];
  const ingest = (path: string, own: string[] = []) => ({ base: () => stack.baseUrl, path, own, headers: () => ({ 'x-api-key': owner.key }) });
  const adminApi = (path: string, own: string[] = []) => ({ base: () => admin.baseUrl, path, own, headers: () => ({ authorization: `Bearer ${adminKey}` }) });
  const endpoints = [
    ingest('/api/v1/logs', LOGS),
    { ...ingest('/api/v1/logs', LOGS), name: '/api/v1/logs (NDJSON export)', headers: () => ({ 'x-api-key': owner.key, accept: 'application/x-ndjson' }) },
    ingest('/api/v1/logs/:id', ['x']),
    ingest('/api/v1/stats', ['from', 'to', 'group_by']),
    ingest('/api/v1/limits', ['x']),
    ingest('/api/v1/keys', ['x']),
    adminApi('/admin/api/clients', ['status', 'q', 'limit', 'cursor']),
    adminApi('/admin/api/clients/:id', ['x']),
    adminApi('/admin/api/keys', ['client', 'status', 'role']),
    adminApi('/admin/api/usage', ['client', 'key', 'from', 'to', 'granularity', 'by']),
    adminApi('/admin/api/alerts', ['state', 'status', 'type', 'limit', 'cursor']),
    adminApi('/admin/api/audit', ['limit', 'cursor']),
    adminApi('/admin/api/session', ['x']),
  ];

  it.each(endpoints.map((e) => [('name' in e ? e.name : e.path) as string, e] as const))('%s', async (_name, endpoint) => {
    await fc.assert(
      fc.asyncProperty(queryString(endpoint.own), pathId, async (qs, id) => {
        const path = `${endpoint.path.replace(':id', id)}?${qs}`;
        const status = await get(endpoint.base(), path, endpoint.headers());
        expect(status, path).toBeLessThan(500);
      }),
      { numRuns: RUNS },
    );
  });

  it('NUL bytes and year-0 dates, once 500s, are 400s', async () => {
    const h = { 'x-api-key': owner.key };
    for (const path of [
      '/api/v1/logs?q=a%00b',
      '/api/v1/logs?status=%00',
      '/api/v1/logs?metadata.region=%00',
      '/api/v1/logs/a%00b',
      '/api/v1/logs?from=0000-01-01',
      '/api/v1/stats?from=0000-01-01',
      '/api/v1/stats?to=0001-01-02',
      '/api/v1/logs?__proto__=x',
      '/api/v1/logs?metadata.__proto__=x',
      '/api/v1/stats?constructor=x',
      '/api/v1/logs?to=9999-12-31T23:00:00-05:00',
    ]) {
      expect(await get(stack.baseUrl, path, h), path).toBe(400);
    }
  });

  it('admin reads refuse dates Postgres cannot store with 400', async () => {
    const h = { authorization: `Bearer ${adminKey}` };
    for (const path of [
      '/admin/api/usage?from=0000-01-01T00:00:00Z',
      '/admin/api/usage?to=0000-12-31T00:00:00Z',
      '/admin/api/usage?from=9999-12-31T23:00:00-05:00',
      '/admin/api/usage?to=0001-01-01T05:00:00Z',
    ]) {
      expect(await get(admin.baseUrl, path, h), path).toBe(400);
    }
  });
});
