// Runs before `npm start` and `npm test`, with nothing but Node itself:
// installs dependencies when they are missing, then checks that Postgres and
// Redis answer. One that does not, on this machine and installed here, is
// started (Debian's pg_ctlcluster for the cluster on that port; redis-server on
// that port, never evicting keys); otherwise it says so in one line with how to
// start it. (Tooling, not the service: the one place besides config that reads
// the environment.)
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (!existsSync(join(root, 'node_modules', '.bin', 'tsx'))) {
  console.log('Installing dependencies (first run)...');
  execSync(existsSync(join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

function endpoint(url, fallbackPort) {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port) || fallbackPort };
}

/** Resolves with the first bytes the server sends back after `hello`, or rejects within 2 s. */
function probe({ host, port }, hello) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout'));
    }, 2000);
    socket.once('connect', () => {
      if (hello) return void socket.write(hello);
      clearTimeout(timer);
      socket.end();
      resolve('');
    });
    socket.once('data', (d) => {
      clearTimeout(timer);
      socket.end();
      resolve(d.toString());
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

// the servers the services will use: .env under the environment, as packages/config's loadEnvConfig reads them
// (it cannot be imported here: this runs before anything is installed or built)
const envFile = process.env.ENV_FILE || '.env';
const env = { ...(envFile !== 'none' && existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {}), ...process.env };
const pg = endpoint(env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/central_logger', 5432);
const redis = endpoint(env.REDIS_URL || 'redis://127.0.0.1:6379', 6379);
const isLocal = ({ host }) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const pgUp = () =>
  probe(pg).then(
    () => true,
    () => false,
  );
const redisUp = () =>
  probe(redis, 'PING\r\n').then(
    (reply) => reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'),
    () => false,
  );

/** Runs `file args` quietly; false when it is not installed or fails. */
function run(file, args) {
  try {
    execFileSync(file, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** Polls `up` for up to 15 s. */
async function cameUp(up) {
  for (let i = 0; i < 30; i++) {
    if (await up()) return true;
    await sleep(500);
  }
  return false;
}

/** The installed Debian cluster (version, name) that listens on `port`, if any. */
function clusterOn(port) {
  try {
    const lines = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8', timeout: 10_000 }).trim().split('\n');
    const [version, name] = lines.map((l) => l.trim().split(/\s+/)).find((f) => Number(f[2]) === port) ?? [];
    return version && name ? { version, name } : undefined;
  } catch {
    return undefined;
  }
}

async function startPostgres() {
  const cluster = isLocal(pg) ? clusterOn(pg.port) : undefined;
  if (!cluster || !run('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, cluster.name, 'start'])) return false;
  if (!(await cameUp(pgUp))) return false;
  console.log(`Started the local Postgres (cluster ${cluster.version}/${cluster.name} on port ${pg.port}).`);
  return true;
}

async function startRedis() {
  // never a privileged port: those are not ours to take
  if (!isLocal(redis) || redis.port < 1024) return false;
  const args = [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '--port',
    String(redis.port),
    '--save',
    '',
    '--appendonly',
    'no',
    '--maxmemory-policy',
    'noeviction',
  ];
  if (!run('redis-server', args) || !(await cameUp(redisUp))) return false;
  console.log(`Started a local Redis on port ${redis.port} (no persistence: for development and tests).`);
  return true;
}

const problems = [];
if (!(await pgUp()) && !(await startPostgres()))
  problems.push(
    `✗ Postgres is not reachable at ${pg.host}:${pg.port}. Start it with \`docker compose up -d postgres\` (or \`pg_ctlcluster <version> main start\`), or set DATABASE_URL.`,
  );
if (!(await redisUp()) && !(await startRedis()))
  problems.push(
    `✗ Redis is not reachable at ${redis.host}:${redis.port}. Start it with \`docker compose up -d redis\` (or \`redis-server --daemonize yes\`), or set REDIS_URL.`,
  );
if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
