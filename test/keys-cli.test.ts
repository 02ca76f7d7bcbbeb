// The key lifecycle through the `central-logger` CLI, as a user runs it.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@central-logger/db';
import { DEV_KEY_LOOKUP_SECRET, KeyVerifier, legacyPrefix } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { centralLogger } from './support/child-processes.js';
import { testEnv } from './support/stack.js';

let db: TestDatabase;
let env: Record<string, string>;
let verifier: KeyVerifier;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db);
  verifier = new KeyVerifier(db.sql, { bcryptCost: 4 });
  await createClient(db.sql, 'acme', 'Acme');
});
afterAll(async () => {
  await verifier?.close();
  await db?.drop();
});

const cli = (...args: string[]) => centralLogger(args, env);
const keyOf = (stdout: string) => /Key:\s+(\S+)/.exec(stdout)![1]!;

describe('api-key create', () => {
  it('--role admin makes a key with no client; --client is refused for it', async () => {
    const res = await cli('api-key', 'create', 'provider', '--role', 'admin');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Client:\s+-/);
    expect(await verifier.authenticate(keyOf(res.stdout), '127.0.0.1')).toMatchObject({ role: 'admin', clientId: null });
    const bad = await cli('api-key', 'create', 'x', '--role', 'admin', '--client', 'acme');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('An admin key belongs to no client');
  });

  it('a tenant key without --client is refused, saying which role needs one', async () => {
    const agent = await cli('api-key', 'create', 'x');
    expect(agent.code).toBe(1);
    expect(agent.stderr).toContain('An agent key needs --client <id>');
    const reader = await cli('api-key', 'create', 'x', '--role', 'reader');
    expect(reader.stderr).toContain('A reader key needs --client <id>');
  });

  it('--expires-in and --expires-at set the expiry; a past or malformed date is refused', async () => {
    const rel = await cli('api-key', 'create', 'rel', '--client', 'acme', '--expires-in', '90d');
    expect(rel.code).toBe(0);
    const abs = await cli('api-key', 'create', 'abs', '--client', 'acme', '--expires-at', '2099-06-30T12:00:00Z');
    expect(abs.stdout).toContain('Expires: 2099-06-30T12:00:00Z');
    for (const when of ['2001-01-01', 'tomorrow']) {
      const bad = await cli('api-key', 'create', 'bad', '--client', 'acme', '--expires-at', when);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/in the past|Invalid date/);
    }
  });
});

describe('api-key rotate and list', () => {
  it('rotates by prefix with a grace period, and list --client shows every column and the link', async () => {
    const created = await cli('api-key', 'create', 'rolling', '--client', 'acme', '--role', 'agent');
    const prefix = /Prefix:\s+(\S+)/.exec(created.stdout)![1]!;
    const rotated = await cli('api-key', 'rotate', prefix, '--grace', '2h');
    expect(rotated.code).toBe(0);
    const newKey = keyOf(rotated.stdout);
    expect(await verifier.authenticate(newKey, '127.0.0.1')).toMatchObject({ clientId: 'acme', role: 'agent' });
    expect(await verifier.authenticate(keyOf(created.stdout), '127.0.0.1')).toMatchObject({ clientId: 'acme' });
    expect(rotated.stdout).toMatch(new RegExp(`Replaces ${prefix} .* keeps working until`));

    const list = await cli('api-key', 'list', '--client', 'acme');
    const [header, , ...rows] = list.stdout.trim().split('\n');
    for (const col of ['PREFIX', 'NAME', 'ROLE', 'CLIENT', 'STATUS', 'CREATED', 'LAST USED', 'LAST IP', 'EXPIRES', 'REPLACED BY'])
      expect(header).toContain(col);
    const old = rows.find((r) => r.includes(prefix))!;
    expect(old).toContain('key_');
    expect(list.stdout).not.toContain(newKey);

    const twice = await cli('api-key', 'rotate', prefix);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('already rotated');
    expect((await cli('api-key', 'rotate', 'clk_doesnotexist')).stderr).toContain('No API key');
  });
});

describe('api-key import --from-env', () => {
  const devKeys = { abc123_dev_key: 'client_demo', xyz789_real_key: 'acme', def456_another: 'widget_co' };

  it("imports the first .env format's multi-line API_KEYS from a .env file, creating clients; the keys keep working; twice changes nothing", async () => {
    const file = join(tmpdir(), `cl-keys-${process.pid}.env`);
    writeFileSync(
      file,
      `# dev\nOTHER=1\nAPI_KEYS={\n    "abc123_dev_key": "client_demo",\n    "xyz789_real_key": "acme",\n    "def456_another": "widget_co"\n}\n`,
    );
    const res = await cli('api-key', 'import', '--from-env', '--file', file);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('3 imported, 0 already present');
    for (const [key, clientId] of Object.entries(devKeys)) {
      expect(await verifier.authenticate(key, '127.0.0.1')).toMatchObject({ clientId, role: 'agent', prefix: legacyPrefix(key, DEV_KEY_LOOKUP_SECRET) });
      expect(res.stdout).not.toContain(key);
    }
    const [row] = await db.sql`select hash_version, key_hash from api_keys where prefix = ${legacyPrefix('abc123_dev_key', DEV_KEY_LOOKUP_SECRET)!}`;
    expect(row).toMatchObject({ hash_version: 2 });
    expect(row!.key_hash).toMatch(/^\$2[aby]\$/);
    const clients = await db.sql`select id from clients where id in ('client_demo', 'widget_co')`;
    expect(clients).toHaveLength(2);
    const again = await cli('api-key', 'import', '--from-env', '--file', file);
    expect(again.stdout).toContain('0 imported, 3 already present');
    rmSync(file);
  });

  it('prefers API_KEYS in the environment, and reports bad entries without showing them', async () => {
    const res = await centralLogger(['api-key', 'import', '--from-env', '--file', '/nonexistent'], {
      ...env,
      API_KEYS: '{"env_only_key_42": "envclient", "short": "acme", "good_key_but_bad_client": "no spaces allowed"}',
    });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('1 imported');
    expect(res.stdout).toContain('2 entries skipped');
    expect(res.stdout + res.stderr).not.toMatch(/short|good_key_but_bad_client|env_only_key_42/);
    expect(await verifier.authenticate('env_only_key_42', '127.0.0.1')).toMatchObject({ clientId: 'envclient' });
    const broken = await centralLogger(['api-key', 'import', '--from-env'], { ...env, API_KEYS: '{"leaky_secret_value": ' });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('API_KEYS is not valid JSON');
    expect(broken.stderr).not.toContain('leaky_secret_value');
  });
});
