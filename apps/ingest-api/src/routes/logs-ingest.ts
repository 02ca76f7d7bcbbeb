import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { IngestConfig } from '@central-logger/config';
import { AppError } from '@central-logger/errors';
import { parseNdjson, validateBatch } from '@central-logger/events';
import { bodyTypeOf, readBody } from '@central-logger/http';
import type { LogsProducer } from '@central-logger/queue';

export const newEventId = (): string => `evt_${randomUUID().replaceAll('-', '')}`;

/**
 * `POST /api/v1/logs`: one event, an array, `{"logs": [...]}`, or NDJSON;
 * optionally gzip. Answers 202 only once Redis holds the job.
 */
export function ingestLogs(config: IngestConfig, producer: LogsProducer) {
  const limits = {
    maxEvents: config.MAX_EVENTS_PER_REQUEST,
    maxEventBytes: config.MAX_EVENT_BYTES,
    maxMetadataDepth: config.MAX_METADATA_DEPTH,
    maxFutureMs: config.MAX_EVENT_FUTURE_MS,
  };
  return async function postLogs(ctx: Context): Promise<void> {
    const { type, gzip } = bodyTypeOf(ctx.get('content-type') || undefined, ctx.get('content-encoding') || undefined);
    const text = await readBody(ctx.req, gzip, {
      maxBytes: config.MAX_BODY_BYTES,
      maxDecompressedBytes: config.MAX_DECOMPRESSED_BYTES,
    });
    const body = type === 'ndjson' ? parseNdjson(text) : parseJson(text);
    const receivedAt = new Date();
    const events = validateBatch(body, { ...limits, maxAgeDays: ctx.state.principal.retentionDays }, newEventId, receivedAt.getTime());
    const { clientId, keyId } = ctx.state.principal;
    await producer.enqueue({ client_id: clientId!, key_id: keyId, received_at: receivedAt.toISOString(), events });
    ctx.status = 202;
    ctx.body = { accepted: events.length, ids: events.map((e) => e.event_id) };
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('validation_failed', 'The body is not valid JSON');
  }
}
