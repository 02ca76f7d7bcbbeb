// `npx tsx --conditions=central-logger-source bench/ingest/validator.ts`: the event validator's fast path against
// zod, interleaved in one process so a busy machine slows both alike.
import { eventSchema, fastParseEvent, toQueuedEvent, validateBatch } from '@central-logger/events';
import { parsePersistLogsJob, persistLogsJob } from '@central-logger/queue';
import { benchEvent } from './bench-event.js';

const items = Array.from({ length: 1000 }, (_, i) => benchEvent(i));
const limits = { maxEvents: 1000, maxEventBytes: 65_536, maxMetadataDepth: 16, maxFutureMs: 86_400_000 };
let n = 0;
const newId = () => `e${n++}`;

const job = JSON.parse(
  JSON.stringify({ groups: [{ client_id: 'c', key_id: 'key_1', received_at: new Date().toISOString(), events: validateBatch(items, limits, newId) }] }),
);

const paths: Record<string, () => void> = {
  'worker job: zod': () => void persistLogsJob.parse(job),
  'worker job: fast check': () => void parsePersistLogsJob(job),
  'zod parse': () => {
    for (const it of items) eventSchema.parse(it);
  },
  'fast parse': () => {
    for (const it of items) fastParseEvent(it);
  },
  'zod + toQueuedEvent': () => {
    for (const it of items) toQueuedEvent(eventSchema.parse(it), newId);
  },
  'validateBatch (fast path)': () => void validateBatch(items, limits, newId),
};
const totals: Record<string, number> = Object.fromEntries(Object.keys(paths).map((k) => [k, 0]));
for (let round = 0; round < 60; round++) {
  for (const [name, run] of Object.entries(paths)) {
    const t0 = performance.now();
    run();
    if (round >= 10) totals[name]! += performance.now() - t0;
  }
}
for (const [name, ms] of Object.entries(totals)) console.log(`${name.padEnd(28)} ${((ms * 1000) / (50 * items.length)).toFixed(2)} µs/event`);
