// `npm start`: migrate as the owner (DATABASE_URL), create a demo tenant on first
// run in development (as the admin role), and run ingest-api (8000), worker and
// admin (8001) together until Ctrl-C, each connecting as its own role.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { adminSchema, appNodeOptions, ConfigError, ingestSchema, loadEnvConfig, workerSchema } from '@central-logger/config';
import { createSql, describeDatabase, ensureDatabase, getClient, migrate, roleUrl, setRolePasswords } from '@central-logger/db';
import { createDemoTenant } from '../apps/admin/src/store/demo-tenant.js';

const APPS = { 'ingest-api': 'apps/ingest-api/src/main.ts', worker: 'apps/worker/src/main.ts', admin: 'apps/admin/src/main.ts' } as const;
// development: the TypeScript sources, workspace packages too (packages/client/README.md); production runs dist/ (README)
const NODE_ARGS = ['--conditions=central-logger-source', '--import', 'tsx'];

// each app reads .env itself, the same way (they run in this directory)
function loadConfigs() {
  try {
    const ingest = loadEnvConfig(ingestSchema);
    loadEnvConfig(workerSchema);
    return { ingest, admin: loadEnvConfig(adminSchema) };
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  }
}
const { ingest, admin } = loadConfigs();

console.log(`  Database: ${describeDatabase(ingest.DATABASE_URL)}`);
if (await ensureDatabase(ingest.DATABASE_URL)) console.log('✓ Database created');
const owner = createSql(ingest.DATABASE_URL, { max: 1, applicationName: 'start-migrate' });
const { applied } = await migrate(owner);
console.log(applied.length ? `✓ Applied migrations: ${applied.join(', ')}` : '✓ Migrations up to date');
await setRolePasswords(owner, {
  ingest: ingest.INGEST_DB_PASSWORD,
  worker: ingest.WORKER_DB_PASSWORD,
  admin: ingest.ADMIN_DB_PASSWORD,
  reader: ingest.READER_PASSWORD,
});
await owner.end();

// the owner only migrates: the demo tenant is made as the admin app would make it
const sql = createSql(admin.ADMIN_DATABASE_URL ?? roleUrl(admin.DATABASE_URL, 'admin'), { max: 1, applicationName: 'start' });

const base = `http://${ingest.HOST === '0.0.0.0' ? '127.0.0.1' : ingest.HOST}:${ingest.INGEST_PORT}`;
if (ingest.NODE_ENV === 'development' && !(await getClient(sql, 'demo'))) {
  // audited like any client and key an admin makes
  const { key } = await createDemoTenant(sql, { bcryptCost: ingest.BCRYPT_COST });
  const event = JSON.stringify({ environment: 'dev', executed_at: new Date().toISOString(), status: 'SUCCESS', workflow: 'hello', message: 'my first log' });
  console.log(`
✓ Created the demo client with an owner key. It is shown this once:

    ${key}

  Try it:

    curl -X POST ${base}/api/v1/logs \\
      -H "X-API-Key: ${key}" \\
      -H "Content-Type: application/json" \\
      -d '${event}'
`);
} else {
  console.log(`  Make a key: ./bin/central-logger api-key create my-key --client demo --role owner`);
}
await sql.end();

const children = new Map<string, ChildProcess>();
let stopping = false;

for (const [name, entry] of Object.entries(APPS)) {
  // the heap cap production runs with (the Dockerfile's NODE_OPTIONS)
  const env = { ...process.env, NODE_OPTIONS: appNodeOptions(process.env.NODE_OPTIONS) };
  const child = spawn(process.execPath, [...NODE_ARGS, entry], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.set(name, child);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => console.log(`[${name}] ${line}`));
  }
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      console.error(`[${name}] exited (${signal ?? code}); stopping the others`);
      stop(1);
    } else if (children.size === 0) process.exit(process.exitCode ?? 0);
  });
}
console.log(
  `  ingest-api ${base}   admin http://${admin.HOST}:${admin.ADMIN_PORT} (sign-in: ./bin/central-logger admin-user create <name>)   Ctrl-C stops all three`,
);

function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  for (const child of children.values()) child.kill('SIGTERM');
  if (children.size === 0) process.exit(code);
  setTimeout(() => process.exit(code), 15_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
