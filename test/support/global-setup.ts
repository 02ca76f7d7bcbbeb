// Once per run: a migrated template database that each test file copies
// (test/support/db.ts), so files never share rows and run in parallel; and the
// tenant console's bundle, the one file the tests serve that only a build makes.
// Everything else runs from the sources (vitest.config.ts), so `npx vitest run`
// works on a checkout that was never built (`npm test` builds first anyway).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { createSql, dropDatabase, ensureDatabase, migrate } from '@central-logger/db';

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // esbuild, under a second: always, so an edited console source is what the tests see
  await promisify(execFile)(process.execPath, ['scripts/build-console.mjs'], { cwd: project.config.root, timeout: 60_000 });
  const url = new URL(ADMIN_URL);
  url.pathname = `/cl_test_tpl_${process.pid}_${Date.now()}`;
  const templateUrl = url.toString();
  await ensureDatabase(templateUrl);
  const sql = createSql(templateUrl, { max: 1 });
  await migrate(sql);
  await sql.end();
  project.provide('templateDatabaseUrl', templateUrl);
  return async () => {
    await dropDatabase(templateUrl);
  };
}
