// Runs before `npm start` and `npm test`, with nothing but Node itself:
// installs dependencies when they are missing, then checks that Postgres and
// Redis answer, and if not says so in one line with how to start them.
// (Tooling, not the service: the one place besides config that reads the environment.)
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('timeout')); }, 2000);
    socket.once('connect', () => (hello ? socket.write(hello) : (clearTimeout(timer), socket.end(), resolve(''))));
    socket.once('data', (d) => { clearTimeout(timer); socket.end(); resolve(d.toString()); });
    socket.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const pg = endpoint(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/central_logger', 5432);
const redis = endpoint(process.env.REDIS_URL || 'redis://127.0.0.1:6379', 6379);
const problems = [];
await probe(pg).catch(() => problems.push(
  `✗ Postgres is not reachable at ${pg.host}:${pg.port}. Start it with \`docker compose up -d postgres\` (or \`pg_ctlcluster <version> main start\`), or set DATABASE_URL.`));
await probe(redis, 'PING\r\n').then((reply) => {
  if (!reply.startsWith('+PONG') && !reply.startsWith('-NOAUTH')) throw new Error(reply);
}).catch(() => problems.push(
  `✗ Redis is not reachable at ${redis.host}:${redis.port}. Start it with \`docker compose up -d redis\` (or \`redis-server --daemonize yes\`), or set REDIS_URL.`));
if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
