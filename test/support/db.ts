import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import postgres from 'postgres';
import { createSql, dropDatabase, type Sql } from '@central-logger/db';

export interface TestDatabase {
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, copied from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = new URL(inject('templateDatabaseUrl'));
  const name = `cl_test_${randomBytes(6).toString('hex')}`;
  const admin = new URL(template);
  admin.pathname = '/postgres';
  const maintenance = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  for (let attempt = 0; ; attempt++) {
    try {
      await maintenance.unsafe(`create database ${name} template ${template.pathname.slice(1)}`);
      break;
    } catch (err) {
      // concurrent copies of one template can briefly collide (55006); try again
      if ((err as { code?: string }).code !== '55006' || attempt > 20) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  await maintenance.end();
  const url = new URL(template);
  url.pathname = `/${name}`;
  const sql = createSql(url.toString(), { max: 4 });
  return {
    url: url.toString(),
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      await dropDatabase(url.toString());
    },
  };
}
