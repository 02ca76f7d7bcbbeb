import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IngestConfig } from '@central-logger/config';
import { AppError, isAppError } from '@central-logger/errors';
import { parseNdjson, validateBatch, type BatchLimits, type IngestAccepted } from '@central-logger/events';
import { API_ANSWER, bodyTypeOf, clientAddress, errorAnswer, logRequest, randomId, readBody, type Logger, type RequestCounters, type WireBytes } from '@central-logger/http';
import type { KeyVerifier, Principal } from '@central-logger/keys';
import type { GroupCommitter, QueueLane } from '@central-logger/queue';
import type { UsageCounter } from '@central-logger/usage';
import { admit, refuseWhenOverloaded, refusedBeforeAdmission, type AdmissionDeps } from '../admission.js';
import type { IngestMetrics } from '../metrics.js';
import { tenantPrincipal } from '../middleware/authenticate.js';
import { recordUsage } from '../middleware/usage.js';

/** The route this handler serves; the server sends it here without going through Koa. */
export const INGEST_ROUTE = { method: 'POST', path: '/api/v1/logs' } as const;

export const newEventId = (): string => randomId('evt');

/** The request limits of validateBatch, from config. */
export function batchLimitsOf(config: IngestConfig): BatchLimits {
  return {
    maxEvents: config.MAX_EVENTS_PER_REQUEST,
    maxEventBytes: config.MAX_EVENT_BYTES,
    maxMetadataDepth: config.MAX_METADATA_DEPTH,
    maxFutureMs: config.MAX_EVENT_FUTURE_MS,
  };
}

export interface IngestRouteDeps {
  config: IngestConfig;
  verifier: KeyVerifier;
  admission: AdmissionDeps;
  /** Group commit of each queue lane. */
  committers: Record<QueueLane, GroupCommitter>;
  metrics: IngestMetrics;
  requests: RequestCounters;
  usage: UsageCounter;
  log: Logger;
}

/**
 * Whether a request is for the ingest route, matched as the router matches
 * its routes (any case, a trailing slash and a query string allowed), so the
 * router's entry for it (`servedBeforeKoa`) is never reached.
 */
export function isIngestRequest(req: IncomingMessage): boolean {
  if (req.method !== INGEST_ROUTE.method) return false;
  const url = req.url ?? '';
  const end = url.indexOf('?');
  const path = (end === -1 ? url : url.slice(0, end)).toLowerCase();
  return path === INGEST_ROUTE.path || path === `${INGEST_ROUTE.path}/`;
}

/**
 * The router's entry for the ingest route: it makes the route known to the
 * router (Allow headers, the OpenAPI check) while the request listener sends
 * every such request to `ingestLogs` first.
 */
export function servedBeforeKoa(): never {
  throw new Error(`${INGEST_ROUTE.method} ${INGEST_ROUTE.path} reached Koa: serve the app with IngestApp.listener`);
}

/**
 * `POST /api/v1/logs`: one event, an array, `{"logs": [...]}`, or NDJSON;
 * optionally gzip. Authenticated, then refused while the service is
 * overloaded; after validation the request takes its share of the rate
 * limits, which also name its queue lane (fast while its tenant is within its
 * fair share), then its events join that lane's group commit, and the 202 is sent only
 * once Redis holds the job that carries them.
 *
 * The one route served without Koa: it is the hot path, and Koa's context,
 * middleware chain and router cost as much as everything else a request does
 * here. It answers as the Koa app does (X-Request-Id, the error body of
 * `errorAnswer`, the access log, request metrics, usage), with the same
 * functions.
 */
export function ingestLogs(deps: IngestRouteDeps) {
  const limits = batchLimitsOf(deps.config);
  const bodyLimits = { maxBytes: deps.config.MAX_BODY_BYTES, maxDecompressedBytes: deps.config.MAX_DECOMPRESSED_BYTES };
  // nesting is checked on the raw bytes, before JSON.parse (whose time grows with it): the event's metadata, plus the event and the envelope
  const maxDepth = bodyDepthLimit(deps.config.MAX_METADATA_DEPTH);
  const describe = `MAX_METADATA_DEPTH ${deps.config.MAX_METADATA_DEPTH} plus the event and its envelope`;
  const limitsOf = {
    json: { ...bodyLimits, depth: { maxDepth, perLine: false, describe } },
    ndjson: { ...bodyLimits, depth: { maxDepth, perLine: true, describe } },
  };
  const { log } = deps;

  return async function postLogs(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomId('req');
    const address = clientAddress(req, deps.config);
    const headers: Record<string, string> = { 'X-Request-Id': requestId, ...API_ANSWER };
    const received: WireBytes = { bytes: 0 };
    // methods of one object, not named closures: under tsx each of those costs a defineProperty per request
    let child: Logger | undefined;
    const perRequest = {
      log(): Logger {
        return (child ??= log.child({ request_id: requestId }));
      },
      setHeader(name: string, value: string): void {
        headers[name] = value;
      },
    };

    let principal: Principal | undefined;
    let events: number | undefined;
    let status = 202;
    let body: object;
    try {
      principal = await tenantPrincipal(deps.verifier, req.headers, address, 'logs:write');
      const ids = await accept(req, principal, received, (n) => (events = n), perRequest.setHeader);
      deps.metrics.eventsAccepted.inc(ids.length);
      body = { accepted: ids.length, ids } satisfies IngestAccepted;
    } catch (err) {
      if (principal) deps.metrics.eventsRejected.inc({ reason: isAppError(err) ? err.code : 'internal_error' }, events ?? 1);
      const answer = errorAnswer(err, requestId, perRequest.log);
      status = answer.status;
      Object.assign(headers, answer.headers);
      body = answer.body;
    }

    const json = JSON.stringify(body);
    headers['Content-Type'] = 'application/json; charset=utf-8';
    headers['Content-Length'] = String(Buffer.byteLength(json));
    res.writeHead(status, headers);
    res.end(json);

    const errorCode = status === 202 ? undefined : (body as { error: string }).error;
    deps.requests.count(INGEST_ROUTE.method, INGEST_ROUTE.path, status, errorCode);
    recordUsage(deps.usage, log, { principal, headers: req.headers, address, status, errorCode, eventsAccepted: status === 202 ? events! : 0, eventCount: events, bodyBytes: received.bytes });
    logRequest(log, perRequest.log, status, () => ({ method: INGEST_ROUTE.method, path: INGEST_ROUTE.path, ms: Math.round(performance.now() - started), key_prefix: principal?.prefix, ip: address, error: errorCode }));
  };

  /** Reads, checks and queues the request's events; their ids once Redis holds them. */
  async function accept(req: IncomingMessage, principal: Principal, received: WireBytes, counted: (events: number) => void, setHeader: (name: string, value: string) => void): Promise<string[]> {
    let admitted = false;
    try {
      refuseWhenOverloaded(deps.admission);
      const { type, gzip } = bodyTypeOf(req.headers['content-type'], req.headers['content-encoding']);
      const text = await readBody(req, gzip, limitsOf[type], received);
      const parsed = type === 'ndjson' ? parseNdjson(text) : parseJson(text);
      const receivedAt = new Date();
      const queued = validateBatch(parsed, { ...limits, maxAgeDays: principal.retentionDays }, newEventId, receivedAt.getTime());
      counted(queued.length); // for usage and metrics: what a later refusal rejected
      admitted = true;
      const lane = await admit(deps.admission, principal, queued.length, setHeader);
      await deps.committers[lane].submit({ client_id: principal.clientId!, key_id: principal.keyId, received_at: receivedAt.toISOString(), events: queued });
      return queued.map((e) => e.event_id);
    } catch (err) {
      throw admitted ? err : await refusedBeforeAdmission(deps.admission, principal, err, setHeader);
    }
  }
}

/**
 * Most objects and arrays a body may have open at once: `{"logs": [` (2),
 * the event (1) and its metadata's levels. Deeper metadata within this is
 * refused later, per event, naming where (checkStorable).
 */
export function bodyDepthLimit(maxMetadataDepth: number): number {
  return maxMetadataDepth + 3;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('validation_failed', 'The body is not valid JSON');
  }
}
