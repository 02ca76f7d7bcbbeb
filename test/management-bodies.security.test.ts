// JSON bodies of the management endpoints (sign-in, keys, invites) holding
// text Postgres cannot store: a NUL in a username or a key name reached a
// query and answered 500. readJsonBody now refuses them for every such route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error: string; details?: Array<{ field?: string }> } };
}

describe('management bodies with text Postgres cannot store', () => {
  it.each([
    ['a NUL in a sign-in username', '/api/v1/auth/login', { username: 'a\u0000b', password: 'secret' }, 'username'],
    ['a NUL in a sign-in password', '/api/v1/auth/login', { username: 'someone', password: 'x\u0000y' }, 'password'],
    ['a lone surrogate in a username', '/api/v1/auth/login', { username: 'a\ud800', password: 'secret' }, 'username'],
    ['a NUL in a key name', '/api/v1/keys', { name: 'a\u0000b', role: 'agent' }, 'name'],
  ])('400 validation_failed naming the field for %s', async (_what, path, body, field) => {
    const owner = await createTenant(db.sql, 'owner');
    const res = await post(path, body, { 'x-api-key': owner.key });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.details?.[0]?.field).toBe(field);
  });
});
