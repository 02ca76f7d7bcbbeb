import type { Context } from 'koa';
import { z } from 'zod';
import { ERROR_CODES } from '@central-logger/errors';
import { eventSchema, histogramParamsSchema, ingestAcceptedSchema, logQuerySchema, METADATA_FILTER, statsQuerySchema } from '@central-logger/events';
import { createKeyBody, rotateKeyBody } from '@central-logger/keys';

type Json = Record<string, unknown>;

/** The zod schemas the routes validate with (and answer with); the document is generated from them, so it cannot drift. */
export interface DocumentedSchemas {
  event: z.ZodType;
  ingestAccepted: z.ZodType;
  logQuery: z.ZodObject;
  statsQuery: z.ZodObject;
  createKey: z.ZodType;
  rotateKey: z.ZodType;
}

export const ROUTE_SCHEMAS: DocumentedSchemas = {
  event: eventSchema,
  ingestAccepted: ingestAcceptedSchema,
  logQuery: logQuerySchema,
  statsQuery: statsQuerySchema,
  createKey: createKeyBody,
  rotateKey: rotateKeyBody,
};

/** JSON Schema of what a client sends (`input`: before transforms and defaults) or receives (`output`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

/** One query parameter per property of a zod object schema. */
function queryParameters(schema: z.ZodObject): Json[] {
  const js = jsonSchema(schema) as { properties: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties).map(([name, { description, ...prop }]) => ({
    in: 'query',
    name,
    required: js.required?.includes(name) ?? false,
    description,
    schema: prop,
  }));
}

const errorResponse = { description: 'Error (see the error codes)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const keyed = (op: Json, scope: string): Json => ({
  security: [{ ApiKey: [] }, { Bearer: [] }, { UserToken: [] }],
  'x-required-scope': scope,
  ...op,
  responses: { ...(op.responses as object), '4XX': errorResponse, '503': errorResponse },
});
const json = (description: string, schema: unknown = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: Json) => ({ required: false, content: { 'application/json': { schema } } });
const pathId = { in: 'path', name: 'id', required: true, description: 'the key id or prefix', schema: { type: 'string' } };
const eventRef = { $ref: '#/components/schemas/Event' };

/** `GET /api/v1/logs/tail`: Server-Sent Events, resumable by Last-Event-ID. */
function tailOperation(schemas: DocumentedSchemas, metadataFilter: Json): Json {
  const filters = queryParameters(schemas.logQuery).filter((p) => !['from', 'to', 'limit', 'cursor'].includes(p.name as string));
  return {
    summary: "Live tail: the tenant's events as they are stored, as Server-Sent Events, with the filters of GET /api/v1/logs",
    description: [
      "Each event is sent once it is stored (after the worker's commit), so what is tailed is what GET /api/v1/logs returns, as an SSE message: `id:` an opaque position, `data:` the event exactly as GET /api/v1/logs/{id} returns it. Events stored before the stream opened are not sent.",
      "Resume: reconnect with the `Last-Event-ID` header (browsers' EventSource does) or `?cursor=` (the header wins): every matching event stored since that position is sent, then the live stream goes on; no gap and no repeat, whatever order concurrent workers commit in (a position is a Postgres snapshot). Within one commit events come in (received_at, executed_at, event_id) order; commits come in the order they became visible.",
      'A comment `: heartbeat` with the current position as `id:` comes every 15 s (TAIL_HEARTBEAT_MS). The stream ends with `event: error` and data `{"error", "message"}` when its credential stops holding (revoked or expired key, deactivated client or user, role changed): do not reconnect with it. A reader that takes nothing for TAIL_STALL_MS while TAIL_BUFFER_BYTES are waiting is disconnected; it resumes by position. At most MAX_TAILS_PER_KEY streams per key or user, and MAX_TAILS_PER_CLIENT per client (all its keys and users), across processes (429 beyond).',
    ].join('\n\n'),
    parameters: [
      ...filters,
      metadataFilter,
      {
        in: 'query',
        name: 'cursor',
        required: false,
        description: 'a position (an `id:` of this stream) to resume after; the Last-Event-ID header wins over it',
        schema: { type: 'string', maxLength: 8192 },
      },
      {
        in: 'header',
        name: 'Last-Event-ID',
        required: false,
        description: 'the `id:` of the last message received: resume after it',
        schema: { type: 'string', maxLength: 8192 },
      },
    ],
    responses: {
      '200': {
        description: 'An event stream (never ends by itself)',
        content: {
          'text/event-stream': {
            schema: { type: 'string', description: 'SSE messages: `id: <position>` and `data: <event JSON>`; `: heartbeat` comments; a final `event: error`' },
          },
        },
      },
    },
  };
}

/**
 * `POST /v1/logs` (OTLP/HTTP): the bodies are OpenTelemetry's messages, as
 * protobuf or OTLP/JSON, and errors are google.rpc.Status in the request's
 * encoding (with the service's error code in an ErrorInfo detail).
 */
function otlpLogsOperation(): Json {
  const otlp = (description: string, json: Json) => ({
    description,
    content: { 'application/x-protobuf': { schema: { type: 'string', format: 'binary' } }, 'application/json': { schema: json } },
  });
  const status = otlp(
    'google.rpc.Status: code, message, and a google.rpc.ErrorInfo detail whose reason is the error code and whose metadata.request_id is the request id',
    { $ref: '#/components/schemas/OtlpStatus' },
  );
  return {
    summary:
      'OpenTelemetry logs (OTLP/HTTP): an ExportLogsServiceRequest as protobuf or JSON, optionally gzip; invalid records are answered in partial_success while the valid ones are stored',
    security: [{ ApiKey: [] }, { Bearer: [] }],
    'x-required-scope': 'logs:write',
    requestBody: {
      required: true,
      ...otlp('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest', {
        type: 'object',
        properties: { resourceLogs: { type: 'array', items: { type: 'object' } } },
      }),
    },
    responses: {
      '200': otlp('ExportLogsServiceResponse, stored in the queue; partialSuccess when records were rejected', {
        type: 'object',
        properties: {
          partialSuccess: {
            type: 'object',
            properties: { rejectedLogRecords: { type: 'string', description: 'int64, as a decimal string' }, errorMessage: { type: 'string' } },
          },
        },
      }),
      '400': status,
      '401': status,
      '403': status,
      '413': status,
      '415': status,
      '429': { ...status, description: `${status.description}; Retry-After (retryable)` },
      '503': { ...status, description: `${status.description}; Retry-After (retryable)` },
    },
  };
}

/** The ingest API's OpenAPI 3.1 document. */
export function openApiDocument(schemas: DocumentedSchemas = ROUTE_SCHEMAS): Json {
  const metadataFilter = { in: 'query', name: METADATA_FILTER.name, description: METADATA_FILTER.description, schema: { type: 'string' } };
  return {
    openapi: '3.1.0',
    info: { title: 'central-logger ingest API', version: '1', description: 'Send logs with an API key; read your own. Human-readable: GET /docs.' },
    components: {
      securitySchemes: {
        ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The key, or "ApiKey <key>"' },
        Bearer: { type: 'http', scheme: 'bearer' },
        UserToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A tenant user's access token from POST /api/v1/auth/login (15 min)" },
      },
      schemas: {
        Event: jsonSchema(schemas.event),
        OtlpStatus: {
          type: 'object',
          properties: {
            code: { type: 'integer', description: 'gRPC status code' },
            message: { type: 'string' },
            details: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  '@type': { const: 'type.googleapis.com/google.rpc.ErrorInfo' },
                  reason: { enum: ERROR_CODES },
                  domain: { type: 'string' },
                  metadata: { type: 'object', properties: { request_id: { type: 'string' } } },
                },
              },
            },
          },
        },
        Error: {
          type: 'object',
          required: ['error', 'message', 'request_id'],
          properties: {
            error: { enum: ERROR_CODES },
            message: { type: 'string' },
            details: {
              type: 'array',
              items: { type: 'object', properties: { index: { type: 'integer' }, field: { type: 'string' }, message: { type: 'string' } } },
            },
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
              required: true,
              content: {
                'application/json': {
                  schema: {
                    oneOf: [
                      eventRef,
                      { type: 'array', items: eventRef },
                      { type: 'object', required: ['logs'], properties: { logs: { type: 'array', items: eventRef } } },
                    ],
                  },
                },
                'application/x-ndjson': { schema: { type: 'string', description: 'one event per line' } },
              },
            },
            responses: { '202': json('Stored in the queue', jsonSchema(schemas.ingestAccepted, 'output')) },
          },
          'logs:write',
        ),
        get: keyed(
          {
            summary: "The tenant's logs, newest first; an NDJSON export of every match with Accept: application/x-ndjson",
            parameters: [...queryParameters(schemas.logQuery), metadataFilter],
            responses: {
              '200': json('A page', {
                type: 'object',
                properties: { data: { type: 'array', items: { type: 'object' } }, next_cursor: { type: ['string', 'null'] } },
              }),
            },
          },
          'logs:read',
        ),
      },
      '/v1/logs': { post: otlpLogsOperation() },
      '/api/v1/logs/{id}': {
        get: keyed(
          { summary: 'One event by event_id', parameters: [{ ...pathId, description: 'the event_id' }], responses: { '200': json('The event') } },
          'logs:read',
        ),
      },
      '/api/v1/logs/tail': { get: keyed(tailOperation(schemas, metadataFilter), 'logs:read') },
      '/api/v1/logs/histogram': {
        get: keyed(
          {
            summary:
              'Counts per time bucket split by level, with the filters of GET /api/v1/logs (from/to default to the last 24 h); every bucket of the range, empty ones as zeros',
            parameters: [
              ...queryParameters(schemas.logQuery).filter((p) => p.name !== 'limit' && p.name !== 'cursor'),
              ...queryParameters(histogramParamsSchema),
              metadataFilter,
            ],
            responses: {
              '200': json('{"interval", "from", "to", "total", "data": [{"start", "count", "levels": {"debug", "info", "warn", "error", "fatal", "none"}}]}'),
            },
          },
          'logs:read',
        ),
      },
      '/api/v1/stats': {
        get: keyed(
          {
            summary: 'Counts by status, environment, workflow, hour or day',
            parameters: queryParameters(schemas.statsQuery),
            responses: { '200': json('Counts') },
          },
          'logs:read',
        ),
      },
      '/api/v1/heartbeat': {
        post: keyed(
          { summary: "Record the tenant's heartbeat", responses: { '200': json('{"success": true, "message": "Heartbeat received", "clientId": "..."}') } },
          'logs:write',
        ),
      },
      '/api/v1/limits': { get: keyed({ summary: "The tenant's limits and today's usage", responses: { '200': json('Limits') } }, 'any tenant key') },
      '/api/v1/keys': {
        get: keyed({ summary: "The tenant's keys (never a secret)", responses: { '200': json('Keys') } }, 'keys:manage'),
        post: keyed(
          {
            summary: 'Create a key; the secret is in this answer only',
            requestBody: { ...body(jsonSchema(schemas.createKey)), required: true },
            responses: { '201': json('The key and its secret') },
          },
          'keys:manage',
        ),
      },
      '/api/v1/keys/{id}': { delete: keyed({ summary: 'Revoke a key', parameters: [pathId], responses: { '200': json('The revoked key') } }, 'keys:manage') },
      '/api/v1/keys/{id}/rotate': {
        post: keyed(
          {
            summary: 'Rotate a key with a grace period',
            parameters: [pathId],
            requestBody: body(jsonSchema(schemas.rotateKey)),
            responses: { '201': json('The new key and its secret') },
          },
          'keys:manage',
        ),
      },
      '/api/v1/auth/login': {
        post: {
          summary: 'A tenant user signs in: a 15-minute access token to send as Authorization: Bearer, in place of a key of the same role',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string' } } },
              },
            },
          },
          responses: { '200': json('{"access_token", "token_type": "Bearer", "expires_in": 900, "user"}'), '4XX': errorResponse, '503': errorResponse },
        },
      },
      '/api/v1/auth/me': {
        get: keyed(
          {
            summary: 'Who is calling: the user of an access token or console session, or the key',
            responses: {
              '200': json('{"via": "token" | "session" | "api_key", "client_id", "role", "user" | "key", "session"?: {"id", "kind", "expires_at"}}'),
            },
          },
          'any tenant key, token or console session',
        ),
      },
      '/api/v1/auth/invites': {
        post: keyed(
          {
            summary: 'Invite a person to the tenant as owner or reader: a one-time token, valid 24 h, in this answer only',
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: { type: 'object', required: ['username', 'role'], properties: { username: { type: 'string' }, role: { enum: ['owner', 'reader'] } } },
                },
              },
            },
            responses: { '201': json('The invitation and its token') },
          },
          'keys:manage',
        ),
        get: keyed({ summary: "The tenant's invitations (never a token)", responses: { '200': json('Invitations') } }, 'keys:manage'),
      },
      '/api/v1/auth/invites/accept': {
        post: {
          summary: 'The invited person sets a password (once, within 24 h); then signs in with POST /api/v1/auth/login',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'object', required: ['token', 'password'], properties: { token: { type: 'string' }, password: { type: 'string' } } },
              },
            },
          },
          responses: { '201': json('{"user"}'), '4XX': errorResponse, '503': errorResponse },
        },
      },
      '/api/v1/auth/api-key': {
        post: keyed(
          {
            summary: 'Create a key (as POST /api/v1/keys); the secret is in this answer only',
            requestBody: { ...body(jsonSchema(schemas.createKey)), required: true },
            responses: { '201': json('The key and its secret') },
          },
          'keys:manage',
        ),
      },
      '/api/v1/auth/session': {
        post: {
          summary:
            "Sign in to the console with a user's name and password, or a reader or owner key: sets the session cookie (httpOnly, SameSite=Strict, Secure in production; the session lives server-side). Same sign-in limits as /api/v1/auth/login; refused from another site",
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string' } } },
                    { type: 'object', required: ['api_key'], properties: { api_key: { type: 'string' } } },
                  ],
                },
              },
            },
          },
          responses: {
            '201': json('{"via": "session" | "api_key", "client_id", "role", "expires_at", "user" | "key"}'),
            '4XX': errorResponse,
            '503': errorResponse,
          },
        },
        delete: {
          summary: "Sign out: ends the console session server-side and clears its cookie (from the console's own origin)",
          responses: { '204': { description: 'Signed out' }, '4XX': errorResponse },
        },
      },
      '/api/v1/users': { get: keyed({ summary: "The tenant's users (never a password hash)", responses: { '200': json('{"data": [user]}') } }, 'keys:manage') },
      '/api/v1/users/{id}': {
        patch: keyed(
          {
            summary: "Change a user's role (not your own); audited; the user's sessions end and their tokens carry the new role",
            parameters: [{ ...pathId, description: 'the user id or username' }],
            requestBody: {
              required: true,
              content: { 'application/json': { schema: { type: 'object', required: ['role'], properties: { role: { enum: ['owner', 'reader'] } } } } },
            },
            responses: { '200': json('The user') },
          },
          'keys:manage',
        ),
        delete: keyed(
          {
            summary: 'Deactivate a user (not yourself); audited; their tokens and sessions stop within a second',
            parameters: [{ ...pathId, description: 'the user id or username' }],
            responses: { '200': json('The user') },
          },
          'keys:manage',
        ),
      },
      ...consolePaths(),
      '/health': { get: { summary: 'The process is up', responses: { '200': json('ok') } } },
      '/ready': { get: { summary: 'Postgres and Redis answer', responses: { '200': json('ready'), '503': json('unavailable') } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': json('OpenAPI 3.1') } } },
      '/docs': { get: { summary: 'This document as a web page', responses: { '200': { description: 'HTML', content: { 'text/html': {} } } } } },
    },
  };
}

// the console's page (one page; the script shows the part the path names) and its built script and style
function consolePaths(): Record<string, Json> {
  const html = { '200': { description: 'HTML', content: { 'text/html': {} } }, '503': errorResponse };
  const pages: Record<string, string> = {
    '/': 'Explore: search, histogram, live tail, export',
    '/keys': 'Keys (owners)',
    '/users': 'Users (owners)',
    '/usage': 'Usage and limits',
    '/accept': 'Accept an invitation (the token in the URL fragment)',
  };
  const paths: Record<string, Json> = {};
  for (const [path, what] of Object.entries(pages)) paths[path] = { get: { summary: `The tenant console: ${what}`, responses: html } };
  paths['/console/app.js'] = {
    get: { summary: "The console's script", responses: { '200': { description: 'JavaScript', content: { 'text/javascript': {} } } } },
  };
  paths['/console/app.css'] = { get: { summary: "The console's style sheet", responses: { '200': { description: 'CSS', content: { 'text/css': {} } } } } };
  return paths;
}

/** `GET /openapi.json` */
export function openApi(doc: Json) {
  return function serveOpenApi(ctx: Context): void {
    ctx.body = doc;
  };
}
