import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type AppName = 'ingest-api' | 'worker' | 'admin';

export interface AppProcess {
  name: AppName;
  child: ChildProcess;
  /** The HTTP port, for apps that listen. */
  port: number | undefined;
  /** Every line the process wrote to stdout and stderr so far. */
  output: string[];
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const ENTRY: Record<AppName, string> = {
  'ingest-api': 'apps/ingest-api/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  admin: 'apps/admin/src/main.ts',
};
const READY_LINE: Record<AppName, string> = { 'ingest-api': 'ingest-api listening', worker: 'worker started', admin: 'admin listening' };

/**
 * Starts one app as a real child process (as `npm start` does) and resolves
 * once it logs that it is ready. Its output is kept for inspection.
 */
export async function startApp(name: AppName, env: Record<string, string>, timeoutMs = 20_000): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY[name]], {
    // info at least: readiness is read from the log
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let port: number | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    exited.then((code) => reject(new Error(`${name} exited (${code}) before it was ready:\n${output.join('\n')}`)));
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (line.includes(READY_LINE[name])) {
          port = (/"port":(\d+)/.exec(line) ?? [])[1] !== undefined ? Number(/"port":(\d+)/.exec(line)![1]) : undefined;
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
  return {
    name,
    child,
    port,
    output,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
