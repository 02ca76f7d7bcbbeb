import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startStack, type Stack } from './support/stack.js';
import { INGEST_ROUTE } from '../apps/ingest-api/src/routes/logs-ingest.js';

let db: TestDatabase;
let stack: Stack;
beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

type Doc = { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };

describe('GET /openapi.json', () => {
  it('documents exactly the routes the ingest API serves', async () => {
    const res = await fetch(`${stack.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));

    // the routes registered on the app's router
    const router = (stack.ingest.app.koa.middleware as Array<{ router?: { stack: Array<{ path: string; methods: string[] }> } }>).find((m) => m.router)!.router!;
    const served = [...router.stack.flatMap((l) => l.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${l.path}`)), `${INGEST_ROUTE.method} ${INGEST_ROUTE.path}`];
    expect(new Set(documented)).toEqual(new Set(served));
  });

  it('carries the event schema the API validates with', async () => {
    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as Doc;
    expect(doc.components.schemas.Event).toMatchObject({ required: ['environment', 'executed_at', 'status'] });
  });
});
