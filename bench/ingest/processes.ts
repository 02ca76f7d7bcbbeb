import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { appNodeOptions } from '@central-logger/config';

/** Something whose CPU time a scenario measures. */
export interface CpuMeter {
  name: string;
  /** CPU seconds (user + system) used so far: on a shared machine, steadier than throughput. */
  cpuSeconds(): number;
}

export interface Child extends CpuMeter {
  proc: ChildProcess;
  /** Peak resident set size so far (VmHWM), in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

/** CPU seconds of a process from /proc/<pid>/stat (fields 14 and 15, after the parenthesised command name); 0 once it is gone. */
function processCpuSeconds(pid: number | string): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Every process of this machine whose command is `command` (e.g. all of
 * Postgres's) and whose title (cmdline) `counts`, as one meter. Backends that exit during a run take their
 * time with them; the services' own connections outlive the scenarios.
 */
export function commandMeter(name: string, command: string, counts: (title: string) => boolean = () => true): CpuMeter {
  return {
    name,
    cpuSeconds() {
      let total = 0;
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== command) continue;
          if (counts(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) total += processCpuSeconds(pid);
        } catch {
          // gone
        }
      }
      return total;
    },
  };
}

/**
 * A Postgres process title that is not another database's client backend
 * ("postgres: 15/main: user db 127.0.0.1(5432) idle"): the background
 * processes and `database`'s backends. On a machine shared with other test
 * runs, their backends' CPU is not the bench's.
 */
export const postgresOf =
  (database: string) =>
  (title: string): boolean =>
    !/ (\d{1,3}(\.\d{1,3}){3}|[\da-f:]+)\(\d+\)|\[local\]/.test(title) || title.includes(` ${database} `);

/** This process: the load generator (autocannon runs in it). */
export const selfMeter = (name: string): CpuMeter => ({
  name,
  cpuSeconds() {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  },
});

/** How the apps run: `tsx` (their TypeScript sources, as `npm start`) or `dist` (the compiled build, as in production; `npm run build` first). */
export type RunMode = 'tsx' | 'dist';

export const RUN_MODE: RunMode = process.env.BENCH_RUN === 'dist' ? 'dist' : 'tsx';

/**
 * Node's argv for an app's entry point (`apps/<app>/src/main.ts`): under tsx,
 * with the workspace packages from their sources; or its compiled
 * `dist/main.js` under plain node.
 */
export function nodeArgsFor(entry: string, mode: RunMode = RUN_MODE): string[] {
  if (mode === 'tsx' || !entry.startsWith('apps/')) return ['--conditions=central-logger-source', '--import', 'tsx', entry];
  const built = entry.replace('/src/', '/dist/').replace(/\.ts$/, '.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build first`);
  return [built];
}

/** Runs an app (or a bench server) as its own Node process (see nodeArgsFor), logs to our stderr. */
export function startChild(name: string, entry: string, env: Record<string, string>, mode: RunMode = RUN_MODE): Child {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each child there (open in Chrome DevTools)
  const flags = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/${name}`] : [];
  // BENCH_NODE_FLAGS="--max-semi-space-size=8 …": V8 flags for the apps only (NODE_OPTIONS would also change the load generator)
  flags.push(...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean));
  // ENV_FILE none: a developer's .env must not change what is measured
  const proc = spawn(process.execPath, [...flags, ...nodeArgsFor(entry, mode)], {
    // the heap cap production runs with (the Dockerfile's NODE_OPTIONS)
    env: { ...process.env, ENV_FILE: 'none', NODE_OPTIONS: appNodeOptions(process.env.NODE_OPTIONS), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // process gone
    }
    return peak;
  };
  return {
    name,
    proc,
    peakRssMb: sample,
    cpuSeconds: () => processCpuSeconds(proc.pid!),
    async stop() {
      sample();
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200 (on a loaded machine the apps take over 30 s to start under tsx). */
export async function waitHealthy(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become healthy within ${timeoutMs} ms`);
}

/** What a service started in production mode needs besides its settings: the secrets every process of a deployment shares (fresh per run). */
export function productionSecrets(): Record<string, string> {
  const secret = () => randomBytes(24).toString('hex');
  return { NODE_ENV: 'production', CURSOR_SECRET: secret(), KEY_LOOKUP_SECRET: secret(), TENANT_TOKEN_SECRET: secret() };
}

/** Peak figures (MB) of one process's memory, from its /metrics (prom-client's default metrics). */
export interface MemoryPeaks {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JS ones, Buffers and ArrayBuffers included (socket and body buffers). */
  external: number;
}

const MEMORY_METRICS: Array<[keyof MemoryPeaks, string]> = [
  ['rss', 'process_resident_memory_bytes'],
  ['heapTotal', 'nodejs_heap_size_total_bytes'],
  ['heapUsed', 'nodejs_heap_size_used_bytes'],
  ['external', 'nodejs_external_memory_bytes'],
];

/**
 * Samples the memory of processes from their /metrics every `everyMs` and keeps
 * each figure's peak: where a process's resident memory goes (V8's heap, used
 * or only reserved, against buffers outside it).
 */
export class MemorySampler {
  readonly peaks: Record<string, MemoryPeaks> = {};
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly urls: Record<string, string>,
    everyMs = 500,
  ) {
    for (const name of Object.keys(urls)) this.peaks[name] = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0 };
    this.timer = setInterval(() => void this.sample(), everyMs);
  }

  private async sample(): Promise<void> {
    for (const [name, url] of Object.entries(this.urls)) {
      try {
        const text = await (await fetch(url)).text();
        const peak = this.peaks[name]!;
        for (const [field, metric] of MEMORY_METRICS) {
          const m = new RegExp(`^${metric}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text);
          if (m) peak[field] = Math.max(peak[field], Number(m[1]) / 1_048_576);
        }
      } catch {
        // not up yet, or gone
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One line per process: its peaks in MB. */
  describe(): string {
    return Object.entries(this.peaks)
      .map(
        ([name, p]) =>
          `${name} rss ${p.rss.toFixed(0)}, heap total ${p.heapTotal.toFixed(0)}, heap used ${p.heapUsed.toFixed(0)}, external ${p.external.toFixed(0)}`,
      )
      .join('; ');
  }
}

/** Rate limits out of a benchmark's reach: it measures throughput, not the limiter's refusals. */
export const UNLIMITED_RATES = {
  RATE_KEY_REQUESTS_PER_SECOND: '1000000',
  RATE_KEY_REQUEST_BURST: '1000000',
  RATE_KEY_EVENTS_PER_SECOND: '100000000',
  RATE_KEY_EVENT_BURST: '100000000',
  RATE_TENANT_EVENTS_PER_DAY: '1000000000000',
  RATE_TENANT_EVENTS_PER_SECOND: '100000000',
  RATE_TENANT_EVENT_BURST: '100000000',
} as const;
