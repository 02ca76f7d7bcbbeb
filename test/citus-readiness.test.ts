// The schema against Citus' rules for the tables docs/scale-out.md plans to
// distribute by client_id (Citus is not installable here: these are the rules
// checked on plain Postgres). Migration 200 made dead_letter_events comply.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertDeadLetters, getDeadLetter } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { logRow } from './support/reads.js';

/** Distributed by client_id, co-located (docs/scale-out.md, "The plan, table by table"). */
const DISTRIBUTED = ['workflow_logs', 'dead_letter_events'];
/** Copied to every node. */
const REFERENCE = ['clients', 'api_keys', 'client_limits', 'tenant_users', 'tenant_invites', 'tenant_token_secret'];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('Citus readiness of the schema', () => {
  it('plans every table of the schema as distributed, reference or coordinator-local, and the docs name each plan', async () => {
    const tables = (
      await db.sql`
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition order by 1`
    ).map((r) => r.relname as string);
    const doc = readFileSync(new URL('../docs/scale-out.md', import.meta.url), 'utf8');
    for (const table of tables) expect(doc, `docs/scale-out.md plans ${table}`).toMatch(new RegExp(`\\| \`${table}\` \\|`));
    for (const table of [...DISTRIBUTED, ...REFERENCE]) expect(tables).toContain(table);
  });

  it('has every primary key and unique index of a distributed table lead with a NOT NULL client_id, on the parent and each partition', async () => {
    const rows = await db.sql`
      select t.relname as table, i.relname as index, (select a.attname from pg_attribute a where a.attrelid = t.oid and a.attnum = x.indkey[0]) as first
      from pg_index x
      join pg_class i on i.oid = x.indexrelid
      join pg_class t on t.oid = x.indrelid
      left join pg_inherits h on h.inhrelid = t.oid
      left join pg_class parent on parent.oid = h.inhparent
      where x.indisunique and coalesce(parent.relname, t.relname) = any(${DISTRIBUTED})`;
    expect(rows.map((r) => r.table as string)).toEqual(expect.arrayContaining(DISTRIBUTED));
    for (const r of rows) expect(r.first, `${r.table}.${r.index}`).toBe('client_id');
    const nullable = await db.sql`
      select c.relname from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relname = any(${DISTRIBUTED}) and a.attname = 'client_id' and not a.attnotnull`;
    expect(nullable).toEqual([]);
  });

  it('has no foreign key from a reference or local table to a distributed one, and none between distributed tables without client_id', async () => {
    const fks = await db.sql`
      select c.conrelid::regclass::text as from_table, c.confrelid::regclass::text as to_table,
        (select array_agg(a.attname::text) from pg_attribute a where a.attrelid = c.conrelid and a.attnum = any(c.conkey)) as cols
      from pg_constraint c where c.contype = 'f' and c.connamespace = 'public'::regnamespace`;
    for (const fk of fks) {
      if (!DISTRIBUTED.includes(fk.to_table)) continue;
      expect(DISTRIBUTED, `${fk.from_table} → ${fk.to_table}`).toContain(fk.from_table);
      expect(fk.cols, `${fk.from_table} → ${fk.to_table}`).toContain('client_id');
    }
  });

  it('still finds a dead letter by its id alone (the key now leads with client_id)', async () => {
    await insertDeadLetters(db.sql, [logRow('citus_a', { event_id: 'evt_1' })], { code: '22021', message: 'bad' });
    const [row] = await db.sql`select id from dead_letter_events where client_id = 'citus_a'`;
    expect((await getDeadLetter(db.sql, Number(row!.id)))?.eventId).toBe('evt_1');
    const [pk] = await db.sql`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'dead_letter_events_pkey'`;
    expect(pk!.def).toBe('PRIMARY KEY (client_id, id)');
  });
});
