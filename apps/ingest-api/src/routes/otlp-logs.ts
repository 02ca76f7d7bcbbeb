import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '@central-logger/errors';
import { clientAddress, errorAnswer, logRequest, randomId, type Logger, type WireBytes } from '@central-logger/http';
import type { Principal } from '@central-logger/keys';
import { checkOtlpHeaders, countRecords, decodeExportRequest, exportLogsResponse, mapExportRequest, otlpEncodingOf, readBinaryBody, statusBody, type MappedRequest, type OtlpBody, type OtlpEncoding } from '@central-logger/otlp';
import { admit, refuseWhenOverloaded, refusedBeforeAdmission } from '../admission.js';
import { tenantPrincipal } from '../middleware/authenticate.js';
import { recordUsage } from '../middleware/usage.js';
import { batchLimitsOf, type IngestRouteDeps } from './logs-ingest.js';

/** OTLP/HTTP's default logs path; served without Koa, as the ingest route is. */
export const OTLP_ROUTE = { method: 'POST', path: '/v1/logs' } as const;

/** Whether a request is for the OTLP route (any case, a trailing slash and a query string allowed, as the router matches). */
export function isOtlpRequest(req: IncomingMessage): boolean {
  if (req.method !== OTLP_ROUTE.method) return false;
  const url = req.url ?? '';
  const end = url.indexOf('?');
  const path = (end === -1 ? url : url.slice(0, end)).toLowerCase();
  return path === OTLP_ROUTE.path || path === `${OTLP_ROUTE.path}/`;
}

/** The router's entry for the OTLP route: known to the router (Allow, the OpenAPI check); the listener serves it. */
export function otlpServedBeforeKoa(): never {
  throw new Error(`${OTLP_ROUTE.method} ${OTLP_ROUTE.path} reached Koa: serve the app with IngestApp.listener`);
}

/** A bug's last line: ingestOtlpLogs answers every failure itself. */
export function otlpFailedOutside(err: unknown, res: ServerResponse, log: Logger): void {
  log.error({ err: (err as Error).message }, 'OTLP request failed outside its handler');
  if (res.headersSent) return void res.destroy();
  const answer = statusBody(undefined, 500, { error: 'internal_error', message: 'Internal server error', request_id: randomId('req') });
  res.writeHead(500, { 'Content-Type': answer.contentType }).end(answer.body);
}

/**
 * `POST /v1/logs`: OTLP/HTTP logs, protobuf or JSON, optionally gzip. A
 * decoder in front of the ingest pipeline of `POST /api/v1/logs`: the same
 * authentication, backpressure, body limits, per-event checks, rate limits,
 * group commit, usage and metrics. Unlike that route, a request is not
 * accepted or rejected whole: invalid records are answered in
 * `partial_success` while the valid ones are queued (the OTLP spec's
 * contract). Answers are OTLP's, in the request's encoding: an
 * ExportLogsServiceResponse with 200 once Redis holds the events; for
 * failures, the status and headers of the service's error answer
 * (`errorAnswer`) with its code and message in a google.rpc.Status.
 */
export function ingestOtlpLogs(deps: IngestRouteDeps) {
  const limits = batchLimitsOf(deps.config);
  const bodyLimits = { maxBytes: deps.config.MAX_BODY_BYTES, maxDecompressedBytes: deps.config.MAX_DECOMPRESSED_BYTES };
  const { log } = deps;

  return async function postOtlpLogs(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomId('req');
    const address = clientAddress(req, deps.config);
    const headers: Record<string, string> = { 'X-Request-Id': requestId };
    const received: WireBytes = { bytes: 0 };
    const encoding = otlpEncodingOf(req.headers['content-type']);
    let child: Logger | undefined;
    const requestLog = (): Logger => (child ??= log.child({ request_id: requestId }));

    let principal: Principal | undefined;
    let records: number | undefined;
    let accepted = 0;
    let status = 200;
    let errorCode: string | undefined;
    let answer: OtlpBody;
    try {
      principal = await tenantPrincipal(deps.verifier, req.headers, address, 'logs:write');
      const mapped = await accept(req, principal, encoding, received, (n) => (records = n), (name, value) => (headers[name] = value));
      accepted = mapped.events.length;
      deps.metrics.eventsAccepted.inc(accepted);
      if (mapped.rejected.length > 0) deps.metrics.eventsRejected.inc({ reason: 'invalid_record' }, mapped.rejected.length);
      answer = exportLogsResponse(encoding!, records!, mapped.rejected);
    } catch (err) {
      const failure = errorAnswer(err, requestId, requestLog);
      if (principal) deps.metrics.eventsRejected.inc({ reason: failure.body.error }, records ?? 1);
      status = failure.status;
      errorCode = failure.body.error;
      Object.assign(headers, failure.headers);
      answer = statusBody(encoding, status, failure.body);
    }

    headers['Content-Type'] = answer.contentType;
    headers['Content-Length'] = String(answer.body.length);
    res.writeHead(status, headers);
    res.end(answer.body);

    deps.requests.count(OTLP_ROUTE.method, OTLP_ROUTE.path, status, errorCode);
    recordUsage(deps.usage, log, { principal, headers: req.headers, address, status, errorCode, eventsAccepted: accepted, eventCount: records, bodyBytes: received.bytes });
    logRequest(log, requestLog, status, () => ({ method: OTLP_ROUTE.method, path: OTLP_ROUTE.path, ms: Math.round(performance.now() - started), key_prefix: principal?.prefix, ip: address, error: errorCode }));
  };

  /** Reads, decodes, maps and queues the request's records; what was queued and what was rejected, once Redis holds the events. */
  async function accept(req: IncomingMessage, principal: Principal, encoding: OtlpEncoding | undefined, received: WireBytes, counted: (records: number) => void, setHeader: (name: string, value: string) => void): Promise<MappedRequest> {
    let admitted = false;
    try {
      refuseWhenOverloaded(deps.admission);
      const { gzip } = checkOtlpHeaders(encoding, req.headers['content-encoding']);
      const body = await readBinaryBody(req, gzip, bodyLimits, received);
      const request = decodeExportRequest(body, encoding!);
      const total = countRecords(request);
      if (total > limits.maxEvents) {
        throw new AppError('payload_too_large', `A request may hold at most ${limits.maxEvents} log records; this one holds ${total}`);
      }
      const receivedAt = new Date();
      const mapped = mapExportRequest(request, { limits: { ...limits, maxAgeDays: principal.retentionDays }, now: receivedAt.getTime() });
      counted(total); // for usage and metrics: what a later refusal rejected
      admitted = true;
      // the request's share of the limits: its valid records (none when all were rejected: one request)
      const lane = await admit(deps.admission, principal, mapped.events.length, setHeader);
      if (mapped.events.length > 0) {
        await deps.committers[lane].submit({ client_id: principal.clientId!, key_id: principal.keyId, received_at: receivedAt.toISOString(), events: mapped.events });
      }
      return mapped;
    } catch (err) {
      throw admitted ? err : await refusedBeforeAdmission(deps.admission, principal, err, setHeader);
    }
  }
}
