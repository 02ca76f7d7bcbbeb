// `central-logger admin-user create <username>`, password from stdin (the no-TTY path).
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { call, startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

/** Runs the real CLI with `stdin` piped in. */
function cli(stdin: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'bin/central-logger',
      args,
      { env: { ...process.env, DATABASE_URL: db.url, BCRYPT_COST: '4' }, timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin!.end(stdin);
  });
}

describe('central-logger admin-user create', () => {
  it('creates a user from a password on stdin, who can then sign in', async () => {
    const res = await cli('a long enough passphrase\n', 'admin-user', 'create', 'alice');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('✓ Admin user created: alice');
    expect(res.stdout + res.stderr).not.toContain('a long enough passphrase');
    const [row] = await db.sql`select password_hash from admin_users where username = 'alice'`;
    expect(row!.password_hash).toMatch(/^\$2[aby]\$/);
    const login = await call(app, 'POST', '/admin/api/login', {}, { username: 'alice', password: 'a long enough passphrase' });
    expect(login.status).toBe(200);
    // only the first line counts: the newline is not part of the password
    expect((await call(app, 'POST', '/admin/api/login', {}, { username: 'alice', password: 'a long enough passphrase\n' })).status).toBe(401);
  });

  it.each([
    ['short\n', ['admin-user', 'create', 'bob'], /at least 12 characters/],
    ['', ['admin-user', 'create', 'bob'], /at least 12 characters/],
    ['a long enough passphrase\n', ['admin-user', 'create', 'bad name!'], /Invalid username "bad name!"/],
    ['another long passphrase\n', ['admin-user', 'create', 'alice'], /Admin user "alice" already exists/],
  ])('refuses %j %j in one line', async (stdin, args, message) => {
    if (args[2] === 'alice') await cli('a long enough passphrase\n', 'admin-user', 'create', 'alice');
    const res = await cli(stdin, ...args);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(message);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });
});
