import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '@central-logger/errors';
import { clientAddress, type Exchange, type RawHandler } from '@central-logger/http';
import type { Principal } from '@central-logger/keys';
import {
  checkOtlpHeaders,
  countRecords,
  decodeExportRequest,
  exportLogsResponse,
  mapExportRequest,
  otlpEncodingOf,
  readBinaryBody,
  statusBody,
  type MappedRequest,
  type OtlpBody,
  type OtlpEncoding,
} from '@central-logger/otlp';
import { admit, refuseWhenOverloaded, refusedBeforeAdmission } from '../admission.js';
import { tenantPrincipal } from '../middleware/authenticate.js';
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
 * (the request lifecycle's `fail`) with its code and message in a
 * google.rpc.Status.
 */
export function ingestOtlpLogs(deps: IngestRouteDeps): RawHandler<Principal> {
  const limits = batchLimitsOf(deps.config);
  const bodyLimits = { maxBytes: deps.config.MAX_BODY_BYTES, maxDecompressedBytes: deps.config.MAX_DECOMPRESSED_BYTES };

  return async function postOtlpLogs(req: IncomingMessage, res: ServerResponse, exchange: Exchange<Principal>): Promise<void> {
    exchange.ip = clientAddress(req, deps.config);
    const encoding = otlpEncodingOf(req.headers['content-type']);
    let status = 200;
    let answer: OtlpBody;
    try {
      const principal = await tenantPrincipal(deps.verifier, req.headers, exchange.ip, 'logs:write');
      exchange.principal = principal;
      const mapped = await accept(req, principal, encoding, exchange);
      exchange.eventsAccepted = mapped.events.length;
      deps.metrics.eventsAccepted.inc(mapped.events.length);
      if (mapped.rejected.length > 0) deps.metrics.eventsRejected.inc({ reason: 'invalid_record' }, mapped.rejected.length);
      answer = exportLogsResponse(encoding!, exchange.eventCount!, mapped.rejected);
    } catch (err) {
      const failure = exchange.fail(err);
      if (exchange.principal) deps.metrics.eventsRejected.inc({ reason: failure.body.error }, exchange.eventCount ?? 1);
      status = failure.status;
      answer = statusBody(encoding, status, failure.body);
    }
    exchange.send(res, status, answer.contentType, answer.body);
    exchange.finish();
  };

  /** Reads, decodes, maps and queues the request's records; what was queued and what was rejected, once Redis holds the events. */
  async function accept(req: IncomingMessage, principal: Principal, encoding: OtlpEncoding | undefined, exchange: Exchange<Principal>): Promise<MappedRequest> {
    let admitted = false;
    const hold = deps.bodies.hold(principal.clientId!);
    try {
      refuseWhenOverloaded(deps.admission);
      const { gzip } = checkOtlpHeaders(encoding, req.headers['content-encoding']);
      const body = await readBinaryBody(req, gzip, bodyLimits, exchange, hold);
      const request = decodeExportRequest(body, encoding!);
      const total = countRecords(request);
      if (total > limits.maxEvents) {
        throw new AppError('payload_too_large', `A request may hold at most ${limits.maxEvents} log records; this one holds ${total}`);
      }
      const receivedAt = new Date();
      const mapped = mapExportRequest(request, { limits: { ...limits, maxAgeDays: principal.retentionDays }, now: receivedAt.getTime() });
      exchange.eventCount = total; // for usage and metrics: what a later refusal rejected
      admitted = true;
      // the request's share of the limits: its valid records (none when all were rejected: one request)
      const lane = await admit(deps.admission, principal, mapped.events.length, exchange);
      if (mapped.events.length > 0) {
        await deps.committers[lane].submit({
          client_id: principal.clientId!,
          key_id: principal.keyId,
          received_at: receivedAt.toISOString(),
          events: mapped.events,
        });
      }
      return mapped;
    } catch (err) {
      throw admitted ? err : await refusedBeforeAdmission(deps.admission, principal, err, exchange);
    } finally {
      hold.release();
    }
  }
}
