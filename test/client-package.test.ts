// packages/client as it is published: `npm pack` builds it; the tarball holds
// the JavaScript build and declarations, no sources and no server packages;
// it runs under plain node; and its pino transport ships a pino service's logs.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, spawnService } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, waitFor, type Stack } from './support/stack.js';

const run = promisify(execFile);

let db: TestDatabase;
let stack: Stack;
let dir: string;
let files: string[];
/** Where the tarball is unpacked as an installed package would be. */
let installed: string;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db);
  dir = await mkdtemp(join(tmpdir(), 'cl-pack-'));
  // prepare builds dist/ (npm run build), as `npm publish` would
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: join(ROOT, 'packages/client') });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = packed!.files.map((f) => f.path);
  await run('tar', ['-xzf', join(dir, packed!.filename), '-C', dir]);
  installed = join(dir, 'node_modules/@central-logger/client');
  await mkdir(join(dir, 'node_modules/@central-logger'), { recursive: true });
  await rename(join(dir, 'package'), installed);
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await stack?.close();
  await db?.drop();
});

const rowsOf = (clientId: string) =>
  db.sql`select environment, status, level, message, workflow, run_id, duration_ms, metadata from workflow_logs where client_id = ${clientId} order by message`;

describe('@central-logger/client, packed', () => {
  it('holds the build and its declarations, not the sources, and depends on no server package', async () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/pino.js', 'dist/pino.d.ts']));
    // nor the build's own bookkeeping
    expect(files.filter((f) => f.includes('tsbuildinfo') || f.endsWith('.built'))).toEqual([]);
    expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md'].includes(f))).toEqual([]);
    const pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    expect(pkg.private).toBeUndefined();
    expect(Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).filter((d) => d.startsWith('@central-logger/'))).toEqual([]);
  });

  it('ships logs under plain node (no tsx, no workspace) from the unpacked tarball', async () => {
    const t = await createTenant(db.sql, 'agent');
    const script = `
      import { createLogger } from '@central-logger/client';
      const logger = createLogger();
      for (let i = 0; i < 3; i++) logger.log({ environment: 'packed', status: 'SUCCESS', message: 'm' + i });
      await logger.close();
      console.log(JSON.stringify(logger.stats()));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, LOGGER_API_URL: stack.baseUrl, LOGGER_API_KEY: t.key },
    });
    expect(JSON.parse(stdout)).toMatchObject({ sent: 3, failed: 0, dropped: 0 });
    await waitFor(async () => (await rowsOf(t.clientId)).length === 3, 10_000, '3 rows');
  });

  it('installs from the repository path into a project outside it (npm install <repo>/packages/client) and ships an event', async () => {
    // a fresh clone (with npm ci done) has no packages/client/dist: copy what one has, not this checkout's build
    const clone = join(dir, 'clone');
    for (const path of [
      'tsconfig.base.json',
      'packages/client/package.json',
      'packages/client/README.md',
      'packages/client/tsconfig.json',
      'packages/client/src',
    ]) {
      await cp(join(ROOT, path), join(clone, path), { recursive: true });
    }
    await symlink(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    const project = join(dir, 'outside-project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'outside-project', private: true, type: 'module' }));
    // as a user would, with the path alone; its prepare script builds dist/ (no network: --offline)
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(clone, 'packages/client')], { cwd: project, timeout: 120_000 });
    expect(existsSync(join(project, 'node_modules/@central-logger/client/dist/index.js'))).toBe(true);
    expect(JSON.parse(await readFile(join(project, 'package.json'), 'utf8')).dependencies).toHaveProperty('@central-logger/client');

    const t = await createTenant(db.sql, 'agent');
    await writeFile(
      join(project, 'app.js'),
      `
      import { createLogger } from '@central-logger/client';
      const logger = createLogger({ defaults: { environment: 'installed' } });
      logger.log({ status: 'SUCCESS', message: 'from an installed SDK' });
      await logger.close();
      console.log(JSON.stringify(logger.stats()));`,
    );
    // plain node, no workspace condition, from the project's directory
    const { stdout } = await run(process.execPath, ['app.js'], {
      cwd: project,
      env: { PATH: process.env.PATH, LOGGER_API_URL: stack.baseUrl, LOGGER_API_KEY: t.key },
    });
    expect(JSON.parse(stdout)).toMatchObject({ sent: 1, failed: 0 });
    const [row] = await waitFor(async () => ((await rowsOf(t.clientId)).length === 1 ? rowsOf(t.clientId) : undefined), 10_000, 'the row');
    expect(row).toMatchObject({ environment: 'installed', status: 'SUCCESS', message: 'from an installed SDK' });
  }, 180_000);

  it('ships a pino service by configuration alone: levels, msg, time, fields and defaults mapped', async () => {
    const t = await createTenant(db.sql, 'agent');
    const service = spawnService('test/fixtures/pino-service.mjs', { LOGGER_API_URL: `${stack.baseUrl}/api/v1/logs`, LOGGER_API_KEY: t.key }, [], []);
    await new Promise((r) => service.child.once('exit', r));
    expect(service.lines).toEqual([]);
    const rows = await waitFor(async () => ((await rowsOf(t.clientId)).length === 5 ? rowsOf(t.clientId) : undefined), 10_000, '5 rows');
    expect(rows.map((r) => [r.environment, r.status, r.level, r.message, r.workflow, r.run_id, r.duration_ms])).toEqual([
      ['pino-test', 'SUCCESS', 'debug', 'a debug line', null, null, null],
      ['pino-test', 'SUCCESS', 'info', 'b sync done', 'nightly-sync', 'r-1', null],
      ['pino-test', 'SUCCESS', 'warn', 'c slow', null, null, 1500],
      ['pino-test', 'FAILURE', 'error', 'd failed', 'billing', null, null],
      ['pino-test', 'FAILURE', 'fatal', 'e down', null, null, null],
    ]);
    expect(rows[1]!.metadata).toMatchObject({ rows: 42, pid: expect.any(Number), hostname: expect.any(String) });
    expect(rows[3]!.metadata).toMatchObject({ err: { type: 'Error', message: 'boom' } });
  });
});
