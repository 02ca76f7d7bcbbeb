import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { CentralLoggerClient, DeliveryError, EventDefaults } from '@central-logger/client';
import { ConfigError, loadEnvConfig, apiCliSchema } from '@central-logger/config';
import { followLines } from '../ship/follow.js';

interface ShipOptions extends EventDefaults {
  follow?: boolean;
  jsonOnly?: boolean;
  url?: string;
  apiKey?: string;
}

/** Past this many events held, reading waits for them to be delivered: a fast file never meets the drop-oldest bound. */
const HIGH_WATER = 2_000;

/**
 * `central-logger ship [file]`: log lines (stdin, a file, or a followed
 * file) sent as events with the SDK. A JSON object is mapped (pino's fields
 * and the event's own); any other line is plain text, an event of level info
 * whose message is the line, unless --json-only refuses it. Talks to the
 * ingest API only, so unlike the other commands it needs no database.
 */
export function registerShip(program: Command): void {
  program
    .command('ship [file]')
    .description(
      'send log lines from stdin or a file to the ingest API: JSON objects mapped, other lines as their message at level info; prints how many were sent and failed',
    )
    .option('--json-only', 'refuse lines that are not JSON objects (counted as failed) instead of sending them as plain text')
    .option('--follow', 'keep reading the file as it grows, across rotation and truncation, until SIGINT or SIGTERM')
    .option('--url <url>', 'the ingest API, its base or its /api/v1/logs URL (default: LOGGER_API_URL, from the environment or .env)')
    .option('--api-key <key>', 'the key (default: LOGGER_API_KEY, better: arguments show in ps)')
    .option('--environment <name>', 'environment of lines that carry none (default: LOGGER_ENVIRONMENT)')
    .option('--status <status>', 'status of lines that carry none (default: FAILURE for error and fatal lines, SUCCESS otherwise)')
    .option('--workflow <name>', 'workflow of lines that carry none')
    .action(async (file: string | undefined, opts: ShipOptions) => {
      process.exitCode = (await ship(file, opts)) ? 0 : 1;
    });
}

/** Ships every line; true when every one was delivered. */
async function ship(file: string | undefined, opts: ShipOptions): Promise<boolean> {
  if (opts.follow && !file) return fail('--follow needs a file');
  if (file) {
    const readable = await access(file).then(
      () => true,
      (err: Error) => fail(`Cannot read ${file}: ${err.message}`),
    );
    if (!readable) return false;
  }
  // loaded here, so the commands that never ship never load the SDK
  const { createLogger, toEvent } = await import('@central-logger/client');
  let client: CentralLoggerClient;
  try {
    const config = loadEnvConfig(apiCliSchema);
    opts.environment ??= config.LOGGER_ENVIRONMENT;
    client = createLogger({
      url: opts.url ?? config.LOGGER_API_URL,
      apiKey: opts.apiKey ?? config.LOGGER_API_KEY,
      flushOnExit: false,
      onError: reportUndelivered,
    });
  } catch (err) {
    return fail(err instanceof ConfigError ? err.message : (err as Error).message);
  }
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  let badLines = 0;
  let n = 0;
  for await (const line of linesOf(file, opts.follow === true, stop.signal)) {
    n++;
    if (line.trim() !== '' && !shipLine(client, toEvent, line, n, opts)) badLines++;
    if (client.stats().buffered >= HIGH_WATER) await client.flush();
  }
  await client.close();
  const s = client.stats();
  const failed = badLines + s.failed + s.dropped;
  process.stdout.write(`sent ${s.sent}, failed ${failed}\n`);
  return failed === 0;
}

/** Logs one line as an event; false (with the line number on stderr) when it cannot be one. */
function shipLine(client: CentralLoggerClient, toEvent: typeof import('@central-logger/client').toEvent, line: string, n: number, opts: ShipOptions): boolean {
  const parsed = jsonObject(line);
  if (typeof parsed === 'string' && opts.jsonOnly) return lineProblem(n, `${parsed} (--json-only)`);
  // plain text (console output, a stack trace's lines): the line is the message
  const record = typeof parsed === 'string' ? { message: line, level: 'info' } : parsed;
  const event = toEvent(record, opts);
  if (!event.environment) return lineProblem(n, 'no environment (give one with --environment)');
  client.log(event);
  return true;
}

/** The line as a JSON object, or what it is instead. */
function jsonObject(line: string): Record<string, unknown> | string {
  // only a line that opens like an object is parsed: a plain line costs no JSON.parse
  if (!line.trimStart().startsWith('{')) return 'not a JSON object';
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : 'not a JSON object';
  } catch {
    return 'not valid JSON';
  }
}

function linesOf(file: string | undefined, follow: boolean, signal: AbortSignal): AsyncIterable<string> {
  if (file && follow) return followLines(file, signal);
  return createInterface({ input: file ? createReadStream(file) : process.stdin, crlfDelay: Infinity, signal });
}

function reportUndelivered(e: DeliveryError): void {
  process.stderr.write(`✗ ${e.events.length} event${e.events.length === 1 ? '' : 's'} not delivered: ${e.message}\n`);
}

function lineProblem(n: number, problem: string): false {
  process.stderr.write(`✗ line ${n}: ${problem}\n`);
  return false;
}

function fail(message: string): false {
  process.stderr.write(`✗ ${message}\n`);
  return false;
}
