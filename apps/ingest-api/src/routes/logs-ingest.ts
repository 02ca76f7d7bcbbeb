import type { Context } from 'koa';
import type { IngestConfig } from '@central-logger/config';
import { AppError, isAppError } from '@central-logger/errors';
import { parseNdjson, validateBatch, type BatchLimits, type IngestAccepted } from '@central-logger/events';
import { bodyTypeOf, randomId, readBody } from '@central-logger/http';
import type { GroupCommitter } from '@central-logger/queue';
import type { IngestMetrics } from '../metrics.js';

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

/**
 * `POST /api/v1/logs`: one event, an array, `{"logs": [...]}`, or NDJSON;
 * optionally gzip. After validation the request takes its share of the rate
 * limits (`ctx.state.admit`), then its events join the group commit; the 202
 * is sent only once Redis holds the job that carries them.
 */
export function ingestLogs(config: IngestConfig, committer: GroupCommitter, metrics: IngestMetrics) {
  const limits = batchLimitsOf(config);
  return async function postLogs(ctx: Context): Promise<void> {
    let events = 0;
    try {
      const { type, gzip } = bodyTypeOf(ctx.get('content-type') || undefined, ctx.get('content-encoding') || undefined);
      const text = await readBody(ctx.req, gzip, {
        maxBytes: config.MAX_BODY_BYTES,
        maxDecompressedBytes: config.MAX_DECOMPRESSED_BYTES,
      });
      const body = type === 'ndjson' ? parseNdjson(text) : parseJson(text);
      const receivedAt = new Date();
      const queued = validateBatch(body, { ...limits, maxAgeDays: ctx.state.principal.retentionDays }, newEventId, receivedAt.getTime());
      events = queued.length;
      ctx.state.eventCount = events; // for usage: what a later refusal rejected
      await ctx.state.admit?.(events);
      const { clientId, keyId } = ctx.state.principal;
      await committer.submit({ client_id: clientId!, key_id: keyId, received_at: receivedAt.toISOString(), events: queued });
      metrics.eventsAccepted.inc(events);
      ctx.status = 202;
      ctx.body = { accepted: events, ids: queued.map((e) => e.event_id) } satisfies IngestAccepted;
    } catch (err) {
      metrics.eventsRejected.inc({ reason: isAppError(err) ? err.code : 'internal_error' }, events || 1);
      throw err;
    }
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('validation_failed', 'The body is not valid JSON');
  }
}
