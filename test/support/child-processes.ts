// Real child processes for the key tests: any log level (the no-key-leak test
// runs them at trace), extra argv, waiting for any line, and the CLI.
// (main's test/support/processes.ts `startApp` covers the apps at info level.)
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const execFileAsync = promisify(execFile);

/** Node flags of every TypeScript child: tsx, and packages/client from its sources (as bin/central-logger runs). */
const TS_NODE_ARGS = ['--conditions=central-logger-source', '--import', 'tsx'];

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Every child this test process started that may still run. Each runs in a
 * process group of its own (detached), and is killed by its group: whatever
 * it started dies with it. A test that fails, or a test file that ends
 * before its cleanup ran, leaves none behind (killAllChildren runs after each
 * file, see child-cleanup.ts, and when this process exits or is signalled).
 */
const running = new Set<ChildProcess>();

/** Sends `signal` to the child's whole process group; false when it is gone already. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

/** Spawns with its own process group, and tracks the child until it exits (killAllChildren). */
export function spawnTracked(command: string, args: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Kills (SIGKILL, by process group) every child still running, and waits for their exits. */
export async function killAllChildren(): Promise<void> {
  const children = [...running];
  await Promise.all(
    children.map((child) => {
      const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      return signalGroup(child, 'SIGKILL') ? exited : undefined;
    }),
  );
}

function killAllNow(): void {
  for (const child of running) signalGroup(child, 'SIGKILL');
}
process.once('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAllNow();
    process.kill(process.pid, signal); // the listener is gone: the default action ends this process
  });
}

/** Children run in the repository: a developer's .env there must not reach a test's processes (ENV_FILE in packages/config). */
const NO_ENV_FILE = { ENV_FILE: 'none' };

export interface ServiceProcess {
  child: ChildProcess;
  /** Every line the process wrote, stdout and stderr, in order. */
  lines: string[];
  /** Resolves with the first line matching `pattern` (including lines already seen). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs a TypeScript entry point (e.g. apps/ingest-api/src/main.ts) as a real child process with `env`;
 * `nodeArgs: []` runs plain JavaScript with plain node.
 */
export function spawnService(entry: string, env: Record<string, string>, args: string[] = [], nodeArgs = TS_NODE_ARGS): ServiceProcess {
  const child = spawnTracked(process.execPath, [...nodeArgs, entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...NO_ENV_FILE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.pattern.test(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    lines,
    waitForLine(pattern, timeoutMs = 20_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${lines.join('\n')}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    async stop(graceMs = 10_000) {
      if (!signalGroup(child, 'SIGTERM')) return;
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts ingest-api as a child process on a free port; resolves once it listens and hears key invalidations. */
export async function spawnIngestApi(env: Record<string, string>): Promise<ServiceProcess & { baseUrl: string }> {
  const proc = spawnService('apps/ingest-api/src/main.ts', {
    ...env,
    INGEST_PORT: '0',
    INGEST_METRICS_PORT: '0',
    LOG_LEVEL: env.LOG_LEVEL === 'silent' ? 'info' : (env.LOG_LEVEL ?? 'info'),
  });
  const listening = JSON.parse(await proc.waitForLine(/"ingest-api listening"/)) as { address: { port: number } };
  await proc.waitForLine(/"key invalidations subscribed"/);
  return Object.assign(proc, { baseUrl: `http://127.0.0.1:${listening.address.port}` });
}

export type AppName = 'ingest-api' | 'worker' | 'admin';

export interface AppProcess extends ServiceProcess {
  name: AppName;
  /** The HTTP port, for apps that listen. */
  port: number | undefined;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code or signal. */
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const APP_ENTRY: Record<AppName, string> = {
  'ingest-api': 'apps/ingest-api/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  admin: 'apps/admin/src/main.ts',
};
const READY_LINE: Record<AppName, RegExp> = { 'ingest-api': /"ingest-api listening"/, worker: /"worker started"/, admin: /"admin listening"/ };

/** Starts one app as a real child process, as `npm start` does, and resolves once it logs that it is ready. */
export async function startApp(name: AppName, env: Record<string, string>, timeoutMs = 20_000): Promise<AppProcess> {
  // info at least: readiness is read from the log
  const proc = spawnService(APP_ENTRY[name], { ...env, LOG_LEVEL: env.LOG_LEVEL === 'silent' || !env.LOG_LEVEL ? 'info' : env.LOG_LEVEL });
  const exited = new Promise<number | string>((resolve) => proc.child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const ready = await Promise.race([
    proc.waitForLine(READY_LINE[name], timeoutMs),
    exited.then((code) => Promise.reject(new Error(`${name} exited (${code}) before it was ready:\n${proc.lines.join('\n')}`))),
  ]).catch((err: unknown) => {
    // never leave a process behind that failed to come up
    signalGroup(proc.child, 'SIGKILL');
    throw err;
  });
  const port = /"port":(\d+)/.exec(ready)?.[1];
  return Object.assign(proc, {
    name,
    port: port === undefined ? undefined : Number(port),
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      signalGroup(proc.child, signal);
      return exited;
    },
  });
}

/**
 * Runs the real `bin/central-logger` to completion with `env` added to this
 * process's environment, and `input` on stdin; in `cwd` (default: here) and
 * reading no .env unless `env` says so (ENV_FILE: '' reads `cwd`/.env).
 */
export async function centralLogger(
  args: string[],
  env: Record<string, string>,
  options: { input?: string; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const run = execFileAsync(`${ROOT}bin/central-logger`, args, { env: { ...process.env, ...NO_ENV_FILE, ...env }, cwd: options.cwd, timeout: 30_000 });
    if (options.input !== undefined) run.child.stdin!.end(options.input);
    const { stdout, stderr } = await run;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
