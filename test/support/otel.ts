import { execFile } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ROOT } from './child-processes.js';

/** A record for logger.emit (api-logs LogRecord, JSON-safe), optionally inside a span. */
export interface EmittedRecord {
  timestamp?: number | [number, number];
  observedTimestamp?: number | [number, number];
  severityNumber?: number;
  severityText?: string;
  body?: unknown;
  attributes?: Record<string, unknown>;
  eventName?: string;
  span?: { traceId: string; spanId: string };
}

export interface OtelService {
  /** The exporter package: exporter-logs-otlp-proto or exporter-logs-otlp-http (JSON). */
  exporter: 'proto' | 'http';
  /** The OTEL_* environment of the service: endpoint, headers, compression, service name, resource attributes. */
  env: Record<string, string>;
  records: EmittedRecord[];
  scope?: { name: string; version: string };
}

/** ExportResultCode.SUCCESS */
export const EXPORT_SUCCESS = 0;

/**
 * Runs test/otel-service/service.mjs: the official OpenTelemetry JS SDK
 * (LoggerProvider, BatchLogRecordProcessor, an official OTLP exporter)
 * configured by OTEL_* variables only, in plain node, as a service runs it.
 * Not in this process: vitest runs tests with the "module" export condition,
 * and the ESM builds it selects in @opentelemetry/api 1.9 (the newest the
 * SDK's Node 20 line accepts) do not load in Node. Returns the result of
 * each export.
 */
export function runOtelService(service: OtelService): Promise<Array<{ code: number; error?: string }>> {
  const env = {
    PATH: process.env.PATH ?? '',
    OTEL_EMIT: JSON.stringify({ exporter: service.exporter, records: service.records, scope: service.scope }),
    ...service.env,
  };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['test/otel-service/service.mjs'], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`otel-service failed: ${err.message}\n${stderr}`));
      resolve((JSON.parse(stdout) as { results: Array<{ code: number; error?: string }> }).results);
    });
  });
}

/**
 * Runs `script` (after `cd` to the repository) in bash, as a user's shell
 * runs the README's commands, with only `env` (and PATH) set; its stdout.
 */
export function runShell(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
      resolve(stdout);
    });
  });
}

/**
 * Runs test/otel-service/service.mjs in a shell that has sourced `envFile`
 * (the README's OTEL_* variables) and then run `then` (e.g. exports that
 * point it at the test's server), so the service is configured by the file.
 */
export async function runOtelServiceSourcing(
  envFile: string,
  then: string,
  records: EmittedRecord[],
  env: Record<string, string>,
): Promise<Array<{ code: number; error?: string }>> {
  const stdout = await runShell(`. ${envFile} && ${then} && exec "${process.execPath}" test/otel-service/service.mjs`, {
    ...env,
    OTEL_EMIT: JSON.stringify({ records }),
  });
  return (JSON.parse(stdout) as { results: Array<{ code: number; error?: string }> }).results;
}

/** The OTEL_* variables of the README that point an SDK at `baseUrl` with `key`. */
export function otlpEnv(baseUrl: string, key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${baseUrl}/v1/logs`, OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${key}`, ...extra };
}

export const succeeded = (results: Array<{ code: number }>) => results.length > 0 && results.every((r) => r.code === EXPORT_SUCCESS);

export interface SeenRequest {
  headers: IncomingHttpHeaders;
  body: Buffer;
  status: number;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of `upstream` that records every
 * request. `answer` may replace the upstream's answer to the n-th request
 * (from 0) after the upstream has served it: a lost answer, as when a
 * response times out on its way back to the exporter.
 */
export async function startRecordingProxy(
  upstream: string,
  answer?: (n: number) => { status: number; headers: Record<string, string> } | undefined,
): Promise<{ url: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const n = seen.length;
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)),
    ) as Record<string, string>;
    const upstreamAnswer = await fetch(`${upstream}${req.url}`, { method: req.method, headers, body });
    const upstreamBody = Buffer.from(await upstreamAnswer.arrayBuffer());
    seen.push({ headers: req.headers, body, status: upstreamAnswer.status });
    const replaced = answer?.(n);
    if (replaced) return void res.writeHead(replaced.status, replaced.headers).end();
    res.writeHead(upstreamAnswer.status, { 'content-type': upstreamAnswer.headers.get('content-type') ?? 'application/octet-stream' }).end(upstreamBody);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
