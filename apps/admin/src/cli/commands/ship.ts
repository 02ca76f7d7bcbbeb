import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { CentralLoggerClient, DeliveryError, EventDefaults } from '@central-logger/client';
import { followLines } from '../ship/follow.js';

interface ShipOptions extends EventDefaults {
  follow?: boolean;
  url?: string;
  apiKey?: string;
}

/** Past this many events held, reading waits for them to be delivered: a fast file never meets the drop-oldest bound. */
const HIGH_WATER = 2_000;

/**
 * `central-logger ship [file]`: NDJSON lines (stdin, a file, or a followed
 * file) mapped to events and sent with the SDK. Talks to the ingest API
 * only, so unlike the other commands it needs no database.
 */
export function registerShip(program: Command): void {
  program
    .command('ship [file]')
    .description('send NDJSON log lines from stdin or a file to the ingest API; prints how many were sent and failed')
    .option('--follow', 'keep reading the file as it grows, across rotation and truncation, until SIGINT or SIGTERM')
    .option('--url <url>', 'the ingest API, its base or its /api/v1/logs URL (default: LOGGER_API_URL)')
    .option('--api-key <key>', 'the key (default: LOGGER_API_KEY, better: arguments show in ps)')
    .option('--environment <name>', 'environment of lines that carry none')
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
    const readable = await access(file).then(() => true, (err: Error) => fail(`Cannot read ${file}: ${err.message}`));
    if (!readable) return false;
  }
  // loaded here, so the commands that never ship never load the SDK (e.g. `migrate` under plain tsx)
  const { createLogger, toEvent } = await import('@central-logger/client');
  let client: CentralLoggerClient;
  try {
    client = createLogger({ url: opts.url, apiKey: opts.apiKey, flushOnExit: false, onError: reportUndelivered });
  } catch (err) {
    return fail((err as Error).message);
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
function shipLine(client: CentralLoggerClient, toEvent: typeof import('@central-logger/client').toEvent, line: string, n: number, defaults: EventDefaults): boolean {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return lineProblem(n, 'not valid JSON');
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return lineProblem(n, 'not a JSON object');
  const event = toEvent(record as Record<string, unknown>, defaults);
  if (!event.environment) return lineProblem(n, 'no environment (give one with --environment)');
  client.log(event);
  return true;
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
