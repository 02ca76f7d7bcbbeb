import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { centralLogger } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { event, postLogs, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db);
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

/** Runs the real `central-logger` CLI against this file's database. */
const cli = (...args: string[]) => centralLogger(args, { DATABASE_URL: db.url, REDIS_URL: stack.env.REDIS_URL!, BCRYPT_COST: '4' });

describe('central-logger CLI', () => {
  it('migrate is idempotent', async () => {
    const res = await cli('migrate');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Up to date/);
  });

  it('migrate gives the read role the password in READER_PASSWORD', async () => {
    await db.sql`alter role central_logger_reader password null`;
    const res = await centralLogger(['migrate'], { DATABASE_URL: db.url, READER_PASSWORD: "it's a long enough secret" });
    expect(res.stdout).toContain('Password of central_logger_reader set');
    const [role] = await db.sql`select rolpassword is not null as has_password from pg_authid where rolname = 'central_logger_reader'`;
    expect(role!.has_password).toBe(true);
    await db.sql`alter role central_logger_reader password null`;
  });

  it('takes a log from a CLI-issued key all the way to a stored row', async () => {
    expect((await cli('client', 'create', 'acme_corp', '--name', 'Acme Corp')).stdout).toContain('Client created: acme_corp (Acme Corp)');
    const created = await cli('api-key', 'create', 'Production Agent', '--client', 'acme_corp', '--role', 'agent');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('API key created successfully');
    expect(created.stdout).toContain('it will not be shown again');
    const key = /^Key:\s+(\S+)$/m.exec(created.stdout)![1]!;
    const prefix = /^Prefix:\s+(\S+)$/m.exec(created.stdout)![1]!;
    expect(key.startsWith(`${prefix}_`)).toBe(true);

    const res = await postLogs(stack.baseUrl, key, event({ event_id: 'cli-path', message: 'from the CLI key' }));
    expect(res.status).toBe(202);
    const row = await waitFor(async () => (await db.sql`select * from workflow_logs where event_id = 'cli-path'`)[0]);
    expect(row.client_id).toBe('acme_corp');

    // listed by prefix, never with the secret; the database holds no full key either
    const list = await cli('api-key', 'list', '--client', 'acme_corp');
    expect(list.stdout).toContain(prefix);
    expect(list.stdout).toContain('Production Agent');
    expect(list.stdout).not.toContain(key);
    const dump = await db.sql`select row_to_json(k)::text as j from api_keys k`;
    for (const r of dump) expect(r.j).not.toContain(key.slice(prefix.length + 1));

    const clients = await cli('client', 'list');
    expect(clients.stdout).toMatch(/acme_corp\s+Acme Corp\s+active/);

    const revoked = await cli('api-key', 'revoke', prefix);
    expect(revoked.stdout).toContain(`API key ${prefix} (Production Agent) revoked`);
    const after = await waitFor(
      async () => {
        const r = await postLogs(stack.baseUrl, key, event());
        return r.status === 401 && r;
      },
      5_000,
      'revoked key to be refused',
    );
    expect(after.body.error).toBe('api_key_revoked');
    expect((await cli('api-key', 'list', '--json')).stdout).toContain('"status": "revoked"');
    // audited as the admin API's revocations are, naming the operating-system user
    const [audit] = await db.sql`select actor, details from admin_audit where action = 'key.revoke' and details->>'prefix' = ${prefix}`;
    expect(audit).toMatchObject({ actor: `cli:${userInfo().username}`, details: { name: 'Production Agent' } });
  });

  it("audits every change it makes, in the change's transaction, naming the operating-system user", async () => {
    const actor = `cli:${userInfo().username}`;
    const [{ since }] = (await db.sql`select coalesce(max(id), 0) as since from admin_audit`) as unknown as [{ since: string }];
    expect((await cli('client', 'create', 'audited_co', '--name', 'Audited Co')).code).toBe(0);
    const key = await cli('api-key', 'create', 'Audited Agent', '--client', 'audited_co', '--role', 'agent');
    const prefix = /Prefix:\s+(\S+)/.exec(key.stdout)![1]!;
    expect((await cli('client', 'retention', 'audited_co', '45')).code).toBe(0);
    expect((await cli('limits', 'set', 'audited_co', '--events-per-day', '5000')).code).toBe(0);
    const user = await centralLogger(
      ['admin-user', 'create', 'audited_admin'],
      { DATABASE_URL: db.url, REDIS_URL: stack.env.REDIS_URL!, BCRYPT_COST: '4' },
      { input: 'a long enough password 123\n' },
    );
    expect(user.code).toBe(0);
    const imported = await centralLogger(['api-key', 'import', '--from-env'], {
      DATABASE_URL: db.url,
      REDIS_URL: stack.env.REDIS_URL!,
      BCRYPT_COST: '4',
      API_KEYS: JSON.stringify({ 'legacy-key-for-audit-0001': 'audited_legacy' }),
    });
    expect(imported.code).toBe(0);

    const rows = await db.sql`select actor, action, target, details from admin_audit where id > ${since} and actor = ${actor} order by id`;
    expect(rows.map((r) => [r.action, r.target])).toEqual([
      ['client.create', 'client:audited_co'],
      ['key.issue', expect.stringMatching(/^key:/)],
      ['client.update', 'client:audited_co'],
      ['client.update', 'client:audited_co'],
      ['admin_user.create', 'admin_user:audited_admin'],
      ['key.import', null],
    ]);
    expect(rows[1]!.details).toMatchObject({ prefix, name: 'Audited Agent', role: 'agent', client_id: 'audited_co' });
    expect(rows[2]!.details).toEqual({ retention_days: 45 });
    expect(rows[3]!.details).toEqual({ limits: { eventsPerDay: 5000 } });
    expect(rows[5]!.details).toMatchObject({ role: 'agent', clients_created: ['audited_legacy'] });
    // never a key, only prefixes
    expect(JSON.stringify(rows)).not.toContain('legacy-key-for-audit-0001');
    expect(JSON.stringify(rows)).not.toContain(/Key:\s+(\S+)/.exec(key.stdout)![1]!);
  });

  it('creates admin keys without a client, and explains bad input in one line', async () => {
    const admin = await cli('api-key', 'create', 'ops', '--role', 'admin');
    expect(admin.code).toBe(0);
    expect(admin.stdout).toMatch(/Client:\s+-/);

    const cases: Array<[string[], RegExp]> = [
      [['api-key', 'create', 'x', '--client', 'acme_corp', '--role', 'superuser'], /Unknown role "superuser"/],
      [['api-key', 'create', 'x', '--role', 'agent'], /needs --client/],
      [['api-key', 'create', 'x', '--client', 'nobody', '--role', 'agent'], /No client "nobody"/],
      [['api-key', 'create', 'x', '--client', 'acme_corp', '--expires-in', 'soon'], /Invalid duration "soon"/],
      [['api-key', 'revoke', 'clk_doesnotexist'], /No API key with id or prefix/],
      [['client', 'create', 'acme_corp'], /already exists/],
      [['client', 'create', 'bad id!'], /Invalid client id/],
    ];
    for (const [args, message] of cases) {
      const res = await cli(...args);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr).toMatch(message);
      expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('expires keys created with --expires-in', async () => {
    await cli('client', 'create', 'short_lived');
    const res = await cli('api-key', 'create', 'temp', '--client', 'short_lived', '--expires-in', '90d');
    const expires = new Date(/^Expires:\s+(\S+)$/m.exec(res.stdout)![1]!);
    expect(Math.abs(expires.getTime() - (Date.now() + 90 * 86_400_000))).toBeLessThan(60_000);
  });

  it('says in one line when Postgres is unreachable', async () => {
    const res = await centralLogger(['client', 'list'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/Cannot reach Postgres/);
  });
});
