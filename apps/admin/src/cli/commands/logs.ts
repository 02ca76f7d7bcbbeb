import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '@central-logger/keys';
import { CliError } from '../errors.js';
import { apiTarget, getJson, type ApiFlags } from '../tenant/api.js';
import { followTail } from '../tenant/follow.js';
import { formatLine, type LogLine } from '../tenant/format.js';

interface FilterFlags extends ApiFlags {
  status?: string;
  environment?: string;
  workflow?: string;
  runId?: string;
  level?: string;
  query?: string;
  traceId?: string;
  spanId?: string;
  meta: string[];
  json?: boolean;
}

interface LogsFlags extends FilterFlags {
  since?: string;
  from?: string;
  to?: string;
  limit: number;
}

/**
 * `central-logger logs` and `central-logger tail`: a tenant reads its own
 * logs through the ingest API with a reader or owner key (or a user's
 * access token); like `ship`, no database is needed.
 */
export function registerLogs(program: Command, run: (fn: () => Promise<void>) => Promise<void>): void {
  filters(program.command('logs'))
    .description('print your logs, newest first, paging through the API (one line per event, or --json)')
    .option('--since <duration>', 'only events executed within this long before now, e.g. 15m, 1h, 7d')
    .option('--from <time>', 'only events executed at or after this ISO 8601 time')
    .option('--to <time>', 'only events executed before this ISO 8601 time')
    .option('--limit <n>', 'print at most this many events', positive, 100)
    .action((opts: LogsFlags) => run(() => printLogs(opts)));
  filters(program.command('tail'))
    .description('print your events as they are stored, until Ctrl-C; reconnects where it left off')
    .action((opts: FilterFlags) => run(() => tail(opts)));
}

function filters(c: Command): Command {
  return c
    .option('--status <status>', 'exactly this status')
    .option('--environment <name>', 'exactly this environment')
    .option('--workflow <name>', 'exactly this workflow')
    .option('--run-id <id>', 'exactly this run_id')
    .option('--level <level>', 'debug, info, warn, error or fatal')
    .option('-q, --query <text>', 'text in the message (case-insensitive)')
    .option('--trace-id <hex>', 'metadata.trace_id (32 hex digits)')
    .option('--span-id <hex>', 'metadata.span_id (16 hex digits)')
    .option('--meta <field=value>', 'a top-level metadata field equals this text (repeatable)', collect, [])
    .option('--json', 'one JSON event per line, as the API returns it')
    .option('--url <url>', 'the ingest API (default: LOGGER_API_URL)')
    .option('--api-key <key>', 'a reader or owner key (default: LOGGER_API_KEY, better: arguments show in ps)');
}

/** The API's query parameters for the filter flags. */
export function filterParams(o: FilterFlags): URLSearchParams {
  const p = new URLSearchParams();
  const set = (name: string, v: string | undefined) => v !== undefined && p.set(name, v);
  set('status', o.status);
  set('environment', o.environment);
  set('workflow', o.workflow);
  set('run_id', o.runId);
  set('level', o.level);
  set('q', o.query);
  set('trace_id', o.traceId);
  set('span_id', o.spanId);
  for (const m of o.meta) {
    const eq = m.indexOf('=');
    if (eq <= 0) throw new CliError(`--meta takes field=value, got ${JSON.stringify(m)}`);
    p.set(`metadata.${m.slice(0, eq)}`, m.slice(eq + 1));
  }
  return p;
}

async function printLogs(o: LogsFlags): Promise<void> {
  const params = filterParams(o);
  if (o.since !== undefined && o.from !== undefined) throw new CliError('Give --since or --from, not both');
  if (o.since !== undefined) {
    const ms = parseDuration(o.since);
    if (ms === undefined) throw new CliError(`--since takes a duration such as 15m, 1h or 7d, got ${JSON.stringify(o.since)}`);
    params.set('from', new Date(Date.now() - ms).toISOString());
  }
  if (o.from !== undefined) params.set('from', o.from);
  if (o.to !== undefined) params.set('to', o.to);
  const target = await apiTarget(o);
  const print = printer(o.json === true);
  let left = o.limit;
  let cursor: string | undefined;
  do {
    params.set('limit', String(Math.min(left, 1000)));
    if (cursor) params.set('cursor', cursor);
    const page = (await getJson(target, '/api/v1/logs', params)) as { data: LogLine[]; next_cursor: string | null };
    for (const log of page.data) print(log);
    left -= page.data.length;
    cursor = page.next_cursor ?? undefined;
  } while (cursor && left > 0);
}

async function tail(o: FilterFlags): Promise<void> {
  const params = filterParams(o);
  const target = await apiTarget(o);
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  await followTail(target, params, printer(o.json === true), {
    signal: stop.signal,
    notice: (m) => process.stderr.write(`… ${m}\n`),
  });
}

function printer(json: boolean): (log: LogLine) => void {
  const color = !json && process.stdout.isTTY === true;
  return (log) => process.stdout.write(`${json ? JSON.stringify(log) : formatLine(log, color)}\n`);
}

function positive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number from 1');
  return Number(value);
}

function collect(value: string, all: string[]): string[] {
  return [...all, value];
}
