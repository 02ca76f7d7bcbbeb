// Issue 13 item 6: a legacy key's lookup id (shown in lists and logs) must not
// be computable from the key alone. `lgc_<12 hex of SHA-256(key)>` let anyone
// test guesses offline; the id is now an HMAC under KEY_LOOKUP_SECRET (`lgh_`).
// Old rows are found by the old id only as a fallback and re-keyed on their
// first verified use; every legacy key is flagged for rotation at once.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminSchema, baseSchema, ConfigError, ingestSchema, loadConfig } from '@central-logger/config';
import { createClient } from '@central-logger/db';
import { DEFAULT_RULE_OPTIONS, keyRotationDue } from '@central-logger/alerts';
import { bcryptCalls, createKey, DEV_KEY_LOOKUP_SECRET, keyLookupSecret, KeyVerifier, legacyPrefix, listKeys, unkeyedLegacyPrefix } from '@central-logger/keys';
import { startIngestApi } from '../apps/ingest-api/src/service.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { call, createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';
import { centralLogger } from './support/child-processes.js';
import { insertLegacyKey } from './support/keys.js';
import { createTenant, testEnv } from './support/stack.js';

const SECRET = 'a test key lookup secret, 40 characters!';
let db: TestDatabase;
let admin: AdminTestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  admin = await startAdminApp(db, { KEY_LOOKUP_SECRET: SECRET });
});
afterAll(async () => {
  await admin?.close();
  await db?.drop();
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('the lookup id of a legacy key', () => {
  it('is an HMAC under the server secret: another secret gives another id, and SHA-256 of the key does not give it', () => {
    const id = legacyPrefix('dev-key-1', SECRET)!;
    expect(id).toMatch(/^lgh_[0-9a-f]{24}$/);
    expect(legacyPrefix('dev-key-1', SECRET)).toBe(id); // stable: every process computes the same
    expect(legacyPrefix('dev-key-1', `${SECRET}x`)).not.toBe(id);
    // the offline attack of the issue: hash candidate keys and compare with the shown id
    const shown = id.slice(4);
    for (const guess of ['dev-key-1', 'dev-key-2', 'password1']) {
      expect(sha256(guess)).not.toContain(shown);
      expect(shown).not.toContain(sha256(guess).slice(0, 12));
    }
    expect(unkeyedLegacyPrefix('dev-key-1')).toBe(`lgc_${sha256('dev-key-1').slice(0, 12)}`);
    expect(legacyPrefix('clk_notlegacy', SECRET)).toBeUndefined();
    expect(legacyPrefix('short', SECRET)).toBeUndefined();
  });
});

describe('KEY_LOOKUP_SECRET', () => {
  it('must be at least 32 characters, in every process config (the CLI reads baseSchema)', () => {
    for (const schema of [baseSchema, ingestSchema, adminSchema]) {
      expect(() => loadConfig(schema, { KEY_LOOKUP_SECRET: 'too short' })).toThrow(/KEY_LOOKUP_SECRET/);
      expect(loadConfig(schema, { KEY_LOOKUP_SECRET: SECRET }).KEY_LOOKUP_SECRET).toBe(SECRET);
    }
  });

  it('is required in production, and the development value is refused there', () => {
    expect(() => keyLookupSecret({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => keyLookupSecret({ NODE_ENV: 'production' })).toThrow(/KEY_LOOKUP_SECRET: required in production/);
    expect(() => keyLookupSecret({ NODE_ENV: 'production', KEY_LOOKUP_SECRET: DEV_KEY_LOOKUP_SECRET })).toThrow(ConfigError);
    expect(keyLookupSecret({ NODE_ENV: 'production', KEY_LOOKUP_SECRET: SECRET })).toBe(SECRET);
  });

  it('elsewhere falls back to a stable development value, with a warning', () => {
    const warnings: string[] = [];
    expect(keyLookupSecret({ NODE_ENV: 'development' }, (m) => warnings.push(m))).toBe(DEV_KEY_LOOKUP_SECRET);
    expect(keyLookupSecret({ NODE_ENV: 'test' }, (m) => warnings.push(m))).toBe(DEV_KEY_LOOKUP_SECRET);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('KEY_LOOKUP_SECRET is not set');
  });

  it('ingest-api refuses to start in production without it', async () => {
    const config = loadConfig(ingestSchema, { ...testEnv(db), NODE_ENV: 'production', CURSOR_SECRET: 'a cursor secret of at least 32 characters' });
    await expect(startIngestApi(config)).rejects.toThrow(/KEY_LOOKUP_SECRET/);
  });

  it('the admin app and the CLI import refuse to run in production without it', async () => {
    await expect(startAdminApp(db, { NODE_ENV: 'production' })).rejects.toThrow(/KEY_LOOKUP_SECRET/);
    const res = await centralLogger(['api-key', 'import', '--from-env'], { ...testEnv(db), NODE_ENV: 'production', API_KEYS: '{"prod_legacy_key_1": "acme"}' });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('KEY_LOOKUP_SECRET');
    expect(await db.sql`select 1 from clients where id = 'acme'`).toHaveLength(0);
  });
});

describe('rows stored under the former unkeyed id', () => {
  it('verify once by the old id, are re-keyed to the HMAC id (name too) and upgraded to bcrypt; the old id is gone', async () => {
    const t = await createTenant(db.sql, 'agent', 'lgc');
    const legacy = await insertLegacyKey(db.sql, t.clientId);
    expect(legacy.prefix).toMatch(/^lgc_/);
    const failures: Array<string | null> = [];
    const verifier = new KeyVerifier(db.sql, { lookupSecret: SECRET, bcryptCost: 4, onFailure: (f) => failures.push(f.keyPrefix) });
    try {
      const principal = await verifier.authenticate(legacy.key, '127.0.0.1');
      const newId = legacyPrefix(legacy.key, SECRET)!;
      expect(principal).toMatchObject({ keyId: legacy.id, clientId: t.clientId, prefix: newId });
      const row = async () => (await db.sql`select prefix, name, hash_version from api_keys where id = ${legacy.id}`)[0]!;
      expect(await row()).toMatchObject({ prefix: newId, name: `imported ${newId}` });
      for (let i = 0; i < 100 && (await row()).hash_version !== 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await row()).hash_version).toBe(2);
      expect(await db.sql`select 1 from api_keys where prefix = ${legacy.prefix}`).toHaveLength(0);
    } finally {
      await verifier.close();
    }
    // a fresh process (no cache) finds it by the new id; a process with another secret does not
    const fresh = new KeyVerifier(db.sql, { lookupSecret: SECRET });
    const other = new KeyVerifier(db.sql, { lookupSecret: `${SECRET} but another` });
    try {
      expect(await fresh.authenticate(legacy.key, '127.0.0.1')).toMatchObject({ keyId: legacy.id });
      await expect(other.authenticate(legacy.key, '127.0.0.1')).rejects.toMatchObject({ code: 'invalid_api_key' });
    } finally {
      await fresh.close();
      await other.close();
    }
    expect(failures).toEqual([]);
  });

  it('a wrong legacy key costs no bcrypt, and its failure names no lookup id', async () => {
    const failures: Array<string | null> = [];
    const verifier = new KeyVerifier(db.sql, { lookupSecret: SECRET, onFailure: (f) => failures.push(f.keyPrefix) });
    try {
      const before = bcryptCalls.compare;
      await expect(verifier.authenticate('dev-key-1-not-stored', '127.0.0.1')).rejects.toMatchObject({ code: 'invalid_api_key' });
      expect(bcryptCalls.compare).toBe(before);
      expect(failures).toEqual([null]);
    } finally {
      await verifier.close();
    }
  });
});

describe('legacy keys are due for rotation at once', () => {
  const env = () => testEnv(db, { KEY_LOOKUP_SECRET: SECRET });

  it('import stores them under the HMAC id and says they are due; list (table and JSON), the admin API and the alert rule show it', async () => {
    const imported = await centralLogger(['api-key', 'import', '--from-env'], { ...env(), API_KEYS: '{"dev-key-1": "weak_tenant"}' });
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('due for rotation');
    const id = legacyPrefix('dev-key-1', SECRET)!;
    expect(imported.stdout).toContain(id);
    expect(imported.stdout).not.toContain(unkeyedLegacyPrefix('dev-key-1'));
    const strong = await createKey(db.sql, { name: 'strong', role: 'agent', clientId: 'weak_tenant', bcryptCost: 4 });

    // the admin app (same secret) verifies it: every process computes the same id
    const verifier = new KeyVerifier(db.sql, { lookupSecret: SECRET });
    expect(await verifier.authenticate('dev-key-1', '127.0.0.1')).toMatchObject({ clientId: 'weak_tenant', prefix: id });
    await verifier.close();

    const [legacy] = (await listKeys(db.sql, { clientId: 'weak_tenant' })).filter((k) => k.prefix === id);
    expect(legacy).toMatchObject({ rotationDue: true, status: 'active' });

    const table = await centralLogger(['api-key', 'list', '--client', 'weak_tenant'], env());
    const [header, , ...rows] = table.stdout.trim().split('\n');
    expect(header).toContain('ROTATE');
    expect(rows.find((r) => r.includes(id))).toContain('now (legacy)');
    expect(rows.find((r) => r.includes(strong.record.prefix))).not.toContain('legacy');
    expect(table.stdout).toContain('1 legacy key is due for rotation now');
    const json = JSON.parse((await centralLogger(['api-key', 'list', '--client', 'weak_tenant', '--json'], env())).stdout) as Array<{
      prefix: string;
      rotationDue: boolean;
    }>;
    expect(json.find((k) => k.prefix === id)!.rotationDue).toBe(true);
    expect(json.find((k) => k.prefix === strong.record.prefix)!.rotationDue).toBe(false);

    const { key: adminKey } = await createAdminKey(db.sql);
    const listed = await call(admin, 'GET', '/admin/api/keys?client=weak_tenant', { key: adminKey });
    expect(listed.status).toBe(200);
    const byPrefix = (p: string) => (listed.body.data as Array<{ prefix: string; rotation_due: boolean }>).find((k) => k.prefix === p)!;
    expect(byPrefix(id).rotation_due).toBe(true);
    expect(byPrefix(strong.record.prefix).rotation_due).toBe(false);

    // a day-old legacy key raises key_rotation_due (a warning), whatever its age; a new clk_ key does not
    const findings = await keyRotationDue(db.sql, Date.now(), DEFAULT_RULE_OPTIONS);
    const finding = findings.find((f) => f.subject === id);
    expect(finding).toMatchObject({ rule: 'key_rotation_due', severity: 'warning', clientId: 'weak_tenant', evidence: { legacy: true } });
    expect(finding!.summary).toContain(`central-logger api-key rotate ${id}`);
    expect(findings.find((f) => f.subject === strong.record.prefix)).toBeUndefined();
    // also with the age rule off
    expect((await keyRotationDue(db.sql, Date.now(), { ...DEFAULT_RULE_OPTIONS, keyRotationDays: 0 })).map((f) => f.subject)).toContain(id);
  });

  it('a row still under the former id is flagged too, and importing the same key again does not duplicate it', async () => {
    await createClient(db.sql, 'old_tenant', 'old');
    const legacy = await insertLegacyKey(db.sql, 'old_tenant');
    const [old] = await listKeys(db.sql, { clientId: 'old_tenant' });
    expect(old).toMatchObject({ prefix: legacy.prefix, rotationDue: true });
    expect((await keyRotationDue(db.sql, Date.now(), DEFAULT_RULE_OPTIONS)).map((f) => f.subject)).toContain(legacy.prefix);
    const again = await centralLogger(['api-key', 'import', '--from-env'], { ...env(), API_KEYS: JSON.stringify({ [legacy.key]: 'old_tenant' }) });
    expect(again.stdout).toContain('0 imported, 1 already present');
    expect(await db.sql`select 1 from api_keys where client_id = 'old_tenant'`).toHaveLength(1);
  });

  it('a rotated, revoked or expired legacy key is no longer due', async () => {
    const t = await createTenant(db.sql, 'agent', 'lgcdone');
    const rows = await Promise.all([0, 1, 2].map(() => insertLegacyKey(db.sql, t.clientId)));
    await db.sql`update api_keys set replaced_by = ${t.record.id}, expires_at = now() + interval '1 hour' where id = ${rows[0]!.id}`;
    await db.sql`update api_keys set is_active = false, revoked_at = now() where id = ${rows[1]!.id}`;
    await db.sql`update api_keys set expires_at = now() - interval '1 second' where id = ${rows[2]!.id}`;
    const listed = await listKeys(db.sql, { clientId: t.clientId });
    expect(listed.filter((k) => k.rotationDue)).toEqual([]);
    const subjects = (await keyRotationDue(db.sql, Date.now(), DEFAULT_RULE_OPTIONS)).map((f) => f.subject);
    for (const r of rows) expect(subjects).not.toContain(r.prefix);
  });
});
