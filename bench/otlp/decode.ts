// `npx tsx bench/otlp/decode.ts`: the CPU the ingest process spends per event
// before queueing it, OTLP against JSON, without HTTP, Redis or Postgres: an
// ExportLogsServiceRequest of BENCH_RECORDS records (bench/otlp/run.ts's)
// decoded and mapped, against the ingest API's JSON of the same events parsed
// and validated. Prints CPU µs per event for each step (median of
// BENCH_ROUNDS rounds of BENCH_ITERATIONS requests): CPU time, not wall time,
// so that the neighbours of a shared machine count less (they still do).
import { validateBatch } from '@central-logger/events';
import { decodeExportRequest, mapExportRequest } from '@central-logger/otlp';
import { benchBodies, BENCH_LIMITS, RECORDS } from './bodies.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);

const { protobuf, json } = benchBodies();
const now = Date.now();
const newId = (): string => {
  throw new Error('every bench event has its id');
};

const steps: Record<string, (n: number) => unknown> = {
  'OTLP protobuf: decode': (n) => decodeExportRequest(protobuf(n), 'protobuf'),
  'OTLP protobuf: decode + map': (n) => mapExportRequest(decodeExportRequest(protobuf(n), 'protobuf'), { limits: BENCH_LIMITS, now }),
  'JSON: parse': (n) => JSON.parse(json(n)),
  'JSON: parse + validate': (n) => validateBatch(JSON.parse(json(n)), BENCH_LIMITS, newId, now),
};

let sink = 0;
const results: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, step] of Object.entries(steps)) {
    const start = process.cpuUsage();
    for (let i = 0; i < ITERATIONS; i++) sink += step(round * ITERATIONS + i) ? 1 : 0;
    const { user, system } = process.cpuUsage(start);
    results[name] ??= [];
    results[name].push((user + system) / (ITERATIONS * RECORDS));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`\nCPU µs per event, median of ${ROUNDS} rounds × ${ITERATIONS} requests of ${RECORDS} records (${sink > 0 ? 'ran' : ''})\n`);
console.log('| step | CPU µs/event |\n| --- | ---: |');
for (const [name, xs] of Object.entries(results)) console.log(`| ${name} | ${median(xs).toFixed(2)} |`);
