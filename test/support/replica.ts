// A Postgres primary and a streaming hot standby of its own (pg_basebackup -R),
// on free ports with their data directories in one temporary directory. Each
// postmaster runs in a process group of its own (spawnTracked), started as the
// postgres user when this process is root (initdb and postgres refuse root);
// teardown stops them by process group, also after a failed test
// (killAllChildren). The machine's shared Postgres is never touched.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { signalGroup, spawnTracked } from './child-processes.js';
import { freePort } from './private-services.js';

function pgBin(tool: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return join('/usr/lib/postgresql', versions[0]!, 'bin', tool);
}

const isRoot = process.getuid?.() === 0;

/**
 * The command line that runs a Postgres tool, as the postgres user when we are
 * root. setpriv execs the tool (no process in between), so the child's pid is
 * the postmaster's, and HOME points at the directory so that no tool reads or
 * names root's files (pg_basebackup -R writes a passfile path from HOME).
 */
function command(tool: string, args: string[]): [string, string[]] {
  return isRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', pgBin(tool), ...args]] : [pgBin(tool), args];
}

interface PostgresNode {
  port: number;
  /** Connection string of `database` as `user` (default: postgres, the superuser). */
  url(database?: string, user?: string): string;
  /** Fast shutdown (SIGINT to the postmaster), then its process group killed if it has not exited in 10 s. */
  stop(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

export interface PrimaryAndStandby {
  primary: PostgresNode;
  standby: PostgresNode;
  /** Stops both and removes the directory. */
  destroy(): Promise<void>;
}

export async function startPrimaryAndStandby(): Promise<PrimaryAndStandby> {
  const dir = mkdtempSync(join(tmpdir(), 'cl-replica-'));
  chmodSync(dir, 0o700);
  if (isRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const env = { ...process.env, HOME: dir, PGPASSFILE: join(dir, 'none') };
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = command(tool, args);
    execFileSync(cmd, argv, { stdio: 'pipe', env, cwd: dir });
  };
  const nodes: PostgresNode[] = [];
  try {
    run('initdb', ['-D', join(dir, 'primary'), '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    const primary = await node(dir, 'primary', env);
    nodes.push(primary);
    await primary.start();
    run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', join(dir, 'standby'), '-R', '-X', 'stream', '--no-sync']);
    const standby = await node(dir, 'standby', env);
    nodes.push(standby);
    await standby.start();
    return {
      primary,
      standby,
      async destroy() {
        await Promise.all(nodes.map((n) => n.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function node(dir: string, name: string, env: NodeJS.ProcessEnv): Promise<PostgresNode> {
  const port = await freePort();
  const data = join(dir, name);
  let child: ChildProcess | undefined;
  const url = (database = 'postgres', user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      const log = openSync(join(dir, `${name}.log`), 'a');
      const [cmd, argv] = command('postgres', [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'max_connections=100',
      ]);
      child = spawnTracked(cmd, argv, { stdio: ['ignore', log, log], env, cwd: dir });
      closeSync(log);
      await waitUntilAnswering(url(), child);
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGINT');
      const timer = setTimeout(() => signalGroup(c, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      signalGroup(c, 'SIGKILL'); // a backend left behind, if any
    },
  };
}

/** Polls until the server takes queries (a standby: once it is consistent and open to reads). */
async function waitUntilAnswering(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) while starting`);
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    } finally {
      await sql.end({ timeout: 1 });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
