import type { Context } from 'koa';
import { z } from 'zod';
import { ERROR_CODES } from '@central-logger/errors';
import { eventSchema, LEVELS, MAX_LIMIT, STATS_GROUPS } from '@central-logger/events';

type Op = Record<string, unknown>;

const errorResponse = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const keyed = (op: Op, scope: string): Op => ({
  security: [{ ApiKey: [] }, { Bearer: [] }],
  'x-required-scope': scope,
  ...op,
  responses: { ...(op.responses as object), '4XX': errorResponse, '503': errorResponse },
});
const json = (description: string, schema: unknown = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } });
const query = (name: string, description: string, schema: unknown = { type: 'string' }) => ({ in: 'query', name, description, schema });
const pathId = { in: 'path', name: 'id', required: true, schema: { type: 'string' } };

/** The ingest API's OpenAPI 3.1 document; the event schema is generated from the zod schema the API validates with. */
export function openApiDocument(): Record<string, unknown> {
  const filters = [
    query('from', 'executed_at ≥ (ISO 8601)'),
    query('to', 'executed_at < (ISO 8601)'),
    query('status', 'exact status'),
    query('environment', 'exact environment'),
    query('workflow', 'exact workflow'),
    query('run_id', 'exact run_id'),
    query('level', 'level', { enum: LEVELS }),
    query('q', 'text in message'),
    query('metadata.<field>', 'a top-level metadata field equals this value'),
  ];
  return {
    openapi: '3.1.0',
    info: { title: 'central-logger ingest API', version: '1' },
    components: {
      securitySchemes: {
        ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The key, or "ApiKey <key>"' },
        Bearer: { type: 'http', scheme: 'bearer' },
      },
      schemas: {
        Event: z.toJSONSchema(eventSchema, { io: 'input', unrepresentable: 'any' }),
        Error: {
          type: 'object',
          required: ['error', 'message', 'request_id'],
          properties: {
            error: { enum: ERROR_CODES },
            message: { type: 'string' },
            details: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' }, field: { type: 'string' }, message: { type: 'string' } } } },
            request_id: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/api/v1/logs': {
        post: keyed(
          {
            summary: 'Send logs: one event, an array, {"logs": [...]}, or NDJSON; optionally gzip',
            requestBody: {
              content: {
                'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/Event' }, { type: 'array', items: { $ref: '#/components/schemas/Event' } }, { type: 'object', properties: { logs: { type: 'array', items: { $ref: '#/components/schemas/Event' } } } }] } },
                'application/x-ndjson': { schema: { type: 'string' } },
              },
            },
            responses: { '202': json('Stored in the queue', { type: 'object', properties: { accepted: { type: 'integer' }, ids: { type: 'array', items: { type: 'string' } } } }) },
          },
          'logs:write',
        ),
        get: keyed(
          {
            summary: "The tenant's logs, newest first; NDJSON export with Accept: application/x-ndjson",
            parameters: [...filters, query('limit', `1-${MAX_LIMIT}`, { type: 'integer' }), query('cursor', 'next_cursor of the previous page')],
            responses: { '200': json('A page', { type: 'object', properties: { data: { type: 'array' }, next_cursor: { type: ['string', 'null'] } } }) },
          },
          'logs:read',
        ),
      },
      '/api/v1/logs/{id}': { get: keyed({ summary: 'One event by event_id', parameters: [pathId], responses: { '200': json('The event') } }, 'logs:read') },
      '/api/v1/stats': {
        get: keyed({ summary: 'Counts', parameters: [query('from', 'ISO 8601'), query('to', 'ISO 8601'), query('group_by', 'grouping', { enum: STATS_GROUPS })], responses: { '200': json('Counts') } }, 'logs:read'),
      },
      '/api/v1/heartbeat': { post: keyed({ summary: "Record the tenant's heartbeat", responses: { '200': json('{"success": true, "message": "Heartbeat received", "clientId": "..."}') } }, 'logs:write') },
      '/api/v1/limits': { get: keyed({ summary: "The tenant's limits and today's usage", responses: { '200': json('Limits') } }, 'any tenant key') },
      '/api/v1/keys': {
        get: keyed({ summary: "The tenant's keys (never a secret)", responses: { '200': json('Keys') } }, 'keys:manage'),
        post: keyed({ summary: 'Create a key; the secret is in this answer only', responses: { '201': json('The key and its secret') } }, 'keys:manage'),
      },
      '/api/v1/keys/{id}': { delete: keyed({ summary: 'Revoke a key', parameters: [pathId], responses: { '200': json('The revoked key') } }, 'keys:manage') },
      '/api/v1/keys/{id}/rotate': { post: keyed({ summary: 'Rotate a key with a grace period', parameters: [pathId], responses: { '201': json('The new key and its secret') } }, 'keys:manage') },
      '/health': { get: { summary: 'The process is up', responses: { '200': json('ok') } } },
      '/ready': { get: { summary: 'Postgres and Redis answer', responses: { '200': json('ready'), '503': json('unavailable') } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain exposition format' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': json('OpenAPI 3.1') } } },
    },
  };
}

/** `GET /openapi.json` */
export function openApi() {
  const body = openApiDocument();
  return function serveOpenApi(ctx: Context): void {
    ctx.body = body;
  };
}
