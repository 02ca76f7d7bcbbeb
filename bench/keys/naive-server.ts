// The naive way, for comparison only: every request looks the key up in
// Postgres and runs bcrypt on it, with no cache. Same route and answer as
// the real heartbeat. Prints {"port": n} once listening.
import Koa from 'koa';
import bcrypt from 'bcrypt';
import { createSql } from '@central-logger/db';
import { keyDigest, parseKey } from '@central-logger/keys';

const sql = createSql(process.argv[2]!, { max: 10 });
const app = new Koa();
app.use(async (ctx) => {
  const key = ctx.get('x-api-key');
  const prefix = parseKey(key)?.prefix;
  const [row] = prefix ? await sql`select key_hash, client_id from api_keys where prefix = ${prefix}` : [];
  if (!row || !(await bcrypt.compare(keyDigest(key), row.key_hash as string))) {
    ctx.status = 401;
    ctx.body = { error: 'invalid_api_key' };
    return;
  }
  ctx.body = { success: true, message: 'Heartbeat received', clientId: row.client_id };
});
const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
process.on('SIGTERM', () => {
  server.close();
  void sql.end().then(() => process.exit(0));
});
