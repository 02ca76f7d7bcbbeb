import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Sql } from '@central-logger/db';

/**
 * The ceiling: `rows` rows of the benchmark's shape COPYed straight into
 * workflow_logs (same table, same partitions, same indexes) under a client of
 * their own. Returns rows per second.
 */
export async function copyCeiling(sql: Sql, clientId: string, rows: number): Promise<number> {
  const executedAt = new Date().toISOString();
  const metadata = JSON.stringify({ bench: true, n: 1 });
  function* lines(): Generator<string> {
    const chunk: string[] = [];
    for (let i = 0; i < rows; i++) {
      chunk.push(`${clientId}\tcopy_${i}\t${executedAt}\t${executedAt}\tbench\twf\t\\N\tSUCCESS\tinfo\tbench event ${i}\t12.5\t${metadata}\n`);
      if (chunk.length === 1000) yield chunk.splice(0).join('');
    }
    if (chunk.length) yield chunk.join('');
  }
  const started = performance.now();
  const writable = await sql`
    copy workflow_logs (client_id, event_id, received_at, executed_at, environment, workflow, run_id,
                        status, level, message, duration_ms, metadata) from stdin`.writable();
  await pipeline(Readable.from(lines()), writable);
  return rows / ((performance.now() - started) / 1000);
}
