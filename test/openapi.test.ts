import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_CODES } from '@central-logger/errors';
import { logQuerySchema, statsQuerySchema } from '@central-logger/events';
import { createKeyBody } from '@central-logger/keys';
import { openApiDocument, ROUTE_SCHEMAS } from '../apps/ingest-api/src/routes/openapi.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startStack, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let doc: Doc;
beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
  doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as Doc;
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

type Param = { in: string; name: string; required: boolean; schema: Record<string, unknown> };
type Op = {
  summary: string;
  parameters?: Param[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};
type Doc = { openapi: string; paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> } };

const queryNames = (op: Op) => op.parameters!.filter((p) => p.in === 'query').map((p) => p.name);

describe('GET /openapi.json', () => {
  it('documents exactly the routes the ingest API serves', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );

    // the routes registered on the app's router
    const router = (stack.ingest.app.koa.middleware as Array<{ router?: { stack: Array<{ path: string; methods: string[] }> } }>).find((m) => m.router)!
      .router!;
    const served = router.stack.flatMap((l) => l.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${l.path}`));
    expect(new Set(documented)).toEqual(new Set(served));
    expect(served).toContain('GET /docs');
  });

  it('carries the event schema the API validates with', async () => {
    expect(doc.components.schemas.Event).toMatchObject({ required: ['environment', 'executed_at', 'status'] });
  });

  it('takes query parameters and request bodies from the zod schemas the routes parse with', () => {
    expect(queryNames(doc.paths['/api/v1/logs']!.get!)).toEqual([...Object.keys(logQuerySchema.shape), 'metadata.{field}']);
    expect(queryNames(doc.paths['/api/v1/stats']!.get!)).toEqual(Object.keys(statsQuerySchema.shape));
    // the live tail: the same filters, no range or page size, a position
    const filters = Object.keys(logQuerySchema.shape).filter((n) => !['from', 'to', 'limit', 'cursor'].includes(n));
    expect(queryNames(doc.paths['/api/v1/logs/tail']!.get!)).toEqual([...filters, 'metadata.{field}', 'cursor']);
    expect(doc.paths['/api/v1/logs/tail']!.get!.responses['200']!.content).toHaveProperty(['text/event-stream']);
    const level = doc.paths['/api/v1/logs']!.get!.parameters!.find((p) => p.name === 'level')!;
    // any case is accepted (it is lower-cased before the enum), so its input is a string
    expect(level).toMatchObject({ required: false, description: 'one of debug, info, warn, error, fatal', schema: { type: 'string' } });
    const { $schema: _, ...createKey } = z.toJSONSchema(createKeyBody, { io: 'input' });
    expect(doc.paths['/api/v1/keys']!.post!.requestBody!.content['application/json']!.schema).toEqual(createKey);
    expect(doc.paths['/api/v1/logs']!.post!.responses['202']!.content!['application/json']!.schema).toMatchObject({ required: ['accepted', 'ids'] });
  });

  it('follows a change in a zod schema (it is generated, not copied)', () => {
    const changed = openApiDocument({
      ...ROUTE_SCHEMAS,
      logQuery: logQuerySchema.extend({ service: z.string().optional().describe('a new filter') }),
    }) as unknown as Doc;
    const params = changed.paths['/api/v1/logs']!.get!.parameters!;
    expect(params.find((p) => p.name === 'service')).toMatchObject({ in: 'query', required: false, description: 'a new filter', schema: { type: 'string' } });
  });
});

describe('GET /docs', () => {
  it('renders the document as a page: every operation, its parameters, and every error code', async () => {
    const res = await fetch(`${stack.baseUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) expect(html).toContain(`<code>${method.toUpperCase()} ${path}</code>`);
    }
    for (const name of Object.keys(logQuerySchema.shape)) expect(html).toContain(`<code>${name}</code>`);
    for (const code of ERROR_CODES) expect(html).toContain(`<code>${code}</code>`);
    expect(html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)[a-z]/i);
  });
});
