// Production runs compiled JavaScript: `npm run build` writes each
// workspace's dist/, and the apps run from it under plain node (no tsx, no
// source condition), finding their non-TypeScript files (Lua scripts, the
// OTLP schema, the dashboard, the migrations) from there. bin/central-logger
// runs that build while it is fresh.
import { execFile } from 'node:child_process';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, spawnService, type ServiceProcess } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, deleteRedisKeys, event, postLogs, testEnv, waitFor } from './support/stack.js';

const run = promisify(execFile);
const PLAIN_NODE: string[] = [];

let db: TestDatabase;
let env: Record<string, string>;
const started: ServiceProcess[] = [];

beforeAll(async () => {
  // incremental: quick when nothing changed since the last build
  await run('npm', ['run', 'build'], { cwd: ROOT, timeout: 280_000 });
  db = await createTestDatabase();
  env = testEnv(db, { LOG_LEVEL: 'info' });
}, 300_000);
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  if (env) await deleteRedisKeys(env.QUEUE_PREFIX!);
  await db?.drop();
});

/** Starts a compiled app under plain node; resolves with its port once it says it is ready. */
async function startBuilt(entry: string, ready: RegExp): Promise<number> {
  const proc = spawnService(entry, env, [], PLAIN_NODE);
  started.push(proc);
  const line = await proc.waitForLine(ready, 60_000);
  return Number(/"address":\{[^}]*"port":(\d+)/.exec(line)?.[1]);
}

describe('the compiled build', () => {
  it('runs each app under plain node: ingest-api takes a log, the worker stores it, admin serves its dashboard', async () => {
    const [ingestPort, adminPort] = await Promise.all([
      startBuilt('apps/ingest-api/dist/main.js', /"ingest-api listening"/),
      startBuilt('apps/admin/dist/main.js', /"admin listening"/),
      startBuilt('apps/worker/dist/main.js', /"worker started"/),
    ]);
    const ingest = `http://127.0.0.1:${ingestPort}`;
    // ready once its connections are (the producer's Redis connection queues nothing offline: a ping before
    // it connects fails, and /ready says 503, as it should)
    await waitFor(async () => (await fetch(`${ingest}/ready`)).status === 200, 10_000, 'ingest-api ready');
    expect((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status).toBe(200);
    // the dashboard's files are read from dist/ (copied there by the build)
    const dashboard = await fetch(`http://127.0.0.1:${adminPort}/`);
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toMatch(/<!doctype html>/i);
    // the tenant console's page and bundle (esbuild's output, beside the compiled code)
    const page = await fetch(`${ingest}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/console/app.js');
    expect((await fetch(`${ingest}/console/app.js`)).status).toBe(200);

    // rate limits and usage run Lua scripts read from dist/ on the way
    const t = await createTenant(db.sql, 'agent');
    const res = await postLogs(ingest, t.key, event({ message: 'compiled all the way' }));
    expect(res.status).toBe(202);
    // the OTLP schema (.proto files) is found from dist/ too: an empty export is answered in protobuf
    const otlp = await fetch(`${ingest}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'x-api-key': t.key },
      body: new Uint8Array(),
    });
    expect(otlp.status).toBe(200);
    await waitFor(
      async () => (await db.sql`select 1 from workflow_logs where client_id = ${t.clientId} and message = 'compiled all the way'`).length === 1,
      20_000,
      'the stored row',
    );
  }, 120_000);
});

describe('bin/central-logger', () => {
  // records which entry point node ran, without changing what runs
  const probe = join(tmpdir(), `cl-entry-probe-${process.pid}.cjs`);
  afterAll(async () => {
    await rm(probe, { force: true });
    await rm(`${probe}.out`, { force: true });
  });
  const entryOf = async (): Promise<string> => {
    const out = `${probe}.out`;
    await run(join(ROOT, 'bin/central-logger'), ['--help'], {
      env: { PATH: process.env.PATH, NODE_OPTIONS: `--require ${probe}`, PROBE_OUT: out },
      timeout: 60_000,
    });
    return readFile(out, 'utf8');
  };

  it('runs the build while no source is newer than it, else the sources', async () => {
    // (tsx's loader runs a thread of its own, which preloads this too)
    await writeFile(probe, `if (require('node:worker_threads').isMainThread) require('node:fs').writeFileSync(process.env.PROBE_OUT, process.argv[1]);\n`);
    expect(await entryOf()).toBe(join(ROOT, 'apps/admin/dist/cli/main.js'));

    // a source edited after the build: the build is stale, the sources run
    const source = join(ROOT, 'packages/errors/src/index.ts');
    const { atime, mtime } = await stat(source);
    try {
      await utimes(source, atime, new Date(Date.now() + 60_000));
      expect(await entryOf()).toBe(join(ROOT, 'apps/admin/src/cli/main.ts'));
    } finally {
      await utimes(source, atime, mtime);
    }
  }, 120_000);
});
