// The naive baseline, for the benchmark only: a Koa handler that bcrypt-verifies
// the key on every request (no cache) and INSERTs each event synchronously, one
// statement per event, before answering. Run as a child process by run.ts.
import Koa from 'koa';
import { createSql, insertLogs } from '@central-logger/db';
import { extractApiKey, findKeyForVerification, parseKey, verifyKeyHash } from '@central-logger/keys';
import { readBody } from '@central-logger/http';
import { validateBatch } from '@central-logger/events';

const sql = createSql(process.env.DATABASE_URL!, { max: 10, applicationName: 'bench-naive' });
const limits = { maxEvents: 1000, maxEventBytes: 65_536, maxMetadataDepth: 16, maxFutureMs: 86_400_000 };
let n = 0;

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.path === '/health') {
    ctx.body = { status: 'ok' };
    return;
  }
  const key = extractApiKey(ctx.headers);
  const parsed = key ? parseKey(key) : undefined;
  const stored = parsed ? await findKeyForVerification(sql, parsed.prefix) : undefined;
  if (!key || !stored || !(await verifyKeyHash(key, stored.keyHash, stored.hashVersion))) {
    ctx.status = 401;
    return;
  }
  const text = await readBody(ctx.req, false, { maxBytes: 1 << 20, maxDecompressedBytes: 8 << 20 });
  const receivedAt = new Date().toISOString();
  const events = validateBatch(JSON.parse(text), limits, () => `naive_${process.pid}_${n++}`);
  for (const e of events) await insertLogs(sql, [{ ...e, client_id: stored.clientId!, received_at: receivedAt }]);
  ctx.status = 202;
  ctx.body = { accepted: events.length };
});
app.listen(Number(process.env.INGEST_PORT), '127.0.0.1');
