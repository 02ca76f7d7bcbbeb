import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IngestConfig } from '@central-logger/config';
import { AppError } from '@central-logger/errors';
import { parseNdjson, validateBatch, type BatchLimits, type IngestAccepted } from '@central-logger/events';
import { bodyTypeOf, clientAddress, readBody, timeOrderedId, type BodyBudget, type Exchange, type Logger, type RawHandler } from '@central-logger/http';
import type { KeyVerifier, Principal } from '@central-logger/keys';
import type { Committer, QueueLane } from '@central-logger/queue';
import { admit, refuseWhenOverloaded, refusedBeforeAdmission, type AdmissionDeps } from '../admission.js';
import type { IngestMetrics } from '../metrics.js';
import { tenantPrincipal } from '../middleware/authenticate.js';

/** The route this handler serves; the server sends it here without going through Koa. */
export const INGEST_ROUTE = { method: 'POST', path: '/api/v1/logs' } as const;

export const newEventId = (): string => timeOrderedId('evt');

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
  committers: Record<QueueLane, Committer>;
  metrics: IngestMetrics;
  log: Logger;
  /** The request bodies the process holds at once, in total and per client. */
  bodies: BodyBudget;
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
 * Served without Koa (through `serveRaw`): it is the hot path, and Koa's
 * context, middleware chain and router cost as much as everything else a
 * request does here. Its request id, error answers, metrics, usage and access
 * log are the request lifecycle's, as on every Koa route.
 */
export function ingestLogs(deps: IngestRouteDeps): RawHandler<Principal> {
  const limits = batchLimitsOf(deps.config);
  const bodyLimits = { maxBytes: deps.config.MAX_BODY_BYTES, maxDecompressedBytes: deps.config.MAX_DECOMPRESSED_BYTES };
  // nesting is checked on the raw bytes, before JSON.parse (whose time grows with it): the event's metadata, plus the event and the envelope
  const maxDepth = bodyDepthLimit(deps.config.MAX_METADATA_DEPTH);
  const describe = `MAX_METADATA_DEPTH ${deps.config.MAX_METADATA_DEPTH} plus the event and its envelope`;
  const limitsOf = {
    json: { ...bodyLimits, depth: { maxDepth, perLine: false, describe } },
    ndjson: { ...bodyLimits, depth: { maxDepth, perLine: true, describe } },
  };

  return async function postLogs(req: IncomingMessage, res: ServerResponse, exchange: Exchange<Principal>): Promise<void> {
    exchange.ip = clientAddress(req, deps.config);
    let status = 202;
    let body: object;
    try {
      const principal = await tenantPrincipal(deps.verifier, req.headers, exchange.ip, 'logs:write');
      exchange.principal = principal;
      const ids = await accept(req, principal, exchange);
      deps.metrics.eventsAccepted.inc(ids.length);
      exchange.eventsAccepted = ids.length;
      body = { accepted: ids.length, ids } satisfies IngestAccepted;
    } catch (err) {
      const answer = exchange.fail(err);
      if (exchange.principal) deps.metrics.eventsRejected.inc({ reason: answer.body.error }, exchange.eventCount ?? 1);
      status = answer.status;
      body = answer.body;
    }
    exchange.sendJson(res, status, body);
    exchange.finish();
  };

  /** Reads, checks and queues the request's events; their ids once Redis holds them. */
  async function accept(req: IncomingMessage, principal: Principal, exchange: Exchange<Principal>): Promise<string[]> {
    let admitted = false;
    const hold = deps.bodies.hold(principal.clientId!);
    try {
      refuseWhenOverloaded(deps.admission);
      const { type, gzip } = bodyTypeOf(req.headers['content-type'], req.headers['content-encoding']);
      const text = await readBody(req, gzip, limitsOf[type], exchange, hold);
      const parsed = type === 'ndjson' ? parseNdjson(text) : parseJson(text);
      const receivedAt = new Date();
      const queued = validateBatch(parsed, { ...limits, maxAgeDays: principal.retentionDays }, newEventId, receivedAt.getTime());
      exchange.eventCount = queued.length; // for usage and metrics: what a later refusal rejected
      admitted = true;
      const lane = await admit(deps.admission, principal, queued.length, exchange);
      await deps.committers[lane].submit({ client_id: principal.clientId!, key_id: principal.keyId, received_at: receivedAt.toISOString(), events: queued });
      return queued.map((e) => e.event_id);
    } catch (err) {
      throw admitted ? err : await refusedBeforeAdmission(deps.admission, principal, err, exchange);
    } finally {
      // the body and what was parsed from it are in the job (or dropped) by now
      hold.release();
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
