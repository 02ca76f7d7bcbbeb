// What `npm start` creates on a first run (the demo client and its owner key) is in the audit log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, roleUrl, type Sql } from '@central-logger/db';
import { createDemoTenant, START_ACTOR } from '../apps/admin/src/store/demo-tenant.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
let admin: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  // as npm start makes it: the admin role's grants
  admin = createSql(roleUrl(db.url, 'admin'), { max: 1 });
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

describe('createDemoTenant', () => {
  it('audits the client and the key it creates, naming the key by prefix only', async () => {
    const { key, prefix } = await createDemoTenant(admin, { bcryptCost: 4 });
    const audit = await db.sql`select actor, action, target, details from admin_audit order by id`;
    const [keyRow] = await db.sql`select id from api_keys where prefix = ${prefix}`;
    expect(audit).toEqual([
      { actor: START_ACTOR, action: 'client.create', target: 'client:demo', details: { name: 'Demo tenant' } },
      { actor: START_ACTOR, action: 'key.issue', target: `key:${keyRow!.id}`, details: expect.objectContaining({ prefix, role: 'owner', client_id: 'demo' }) },
    ]);
    expect(JSON.stringify(audit)).not.toContain(key);
  });

  it('creates nothing, audit rows included, when the client exists', async () => {
    await expect(createDemoTenant(admin, { bcryptCost: 4 })).rejects.toThrow();
    expect(await db.sql`select 1 from admin_audit`).toHaveLength(2);
  });
});
