// `npx tsx --conditions=central-logger-source bench/ingest/http-floor.ts`: the
// floor under the single-event figure of `npm run bench:ingest`. A bare Node
// HTTP server (http-floor-server.ts: read, JSON.parse, answer 202) under the
// same autocannon load, at the request rate the service reached there, and
// its CPU per request against the load generator's: what any Node service's
// HTTP handling costs before it authenticates, validates, queues or stores
// anything (issue 18's "CPU per single event ≤ 3.5× the load generator's").
// Settings: BENCH_RATE (13,500 req/s; 0 = as fast as it goes), BENCH_DURATION_S (20), BENCH_CONNECTIONS (50).
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { freePort, selfMeter, startChild, waitHealthy } from './processes.js';
import { benchEvent } from './bench-event.js';

const RATE = Number(process.env.BENCH_RATE ?? 13_500);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

const event = benchEvent();

const port = await freePort();
// nothing of ours is loaded: tsx only compiles this one file at start, before the load is measured
const server = startChild('http-floor', 'bench/ingest/http-floor-server.ts', { PORT: String(port) }, 'tsx');
const self = selfMeter('autocannon');
try {
  await waitHealthy(`http://127.0.0.1:${port}/`, 60_000);
  const serverBefore = server.cpuSeconds();
  const selfBefore = self.cpuSeconds();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/v1/logs`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION_S,
    ...(RATE > 0 ? { overallRate: RATE } : {}),
    headers: { 'content-type': 'application/json', 'x-api-key': 'cl_live_benchbenchbenchbenchbenchbench' },
    body: JSON.stringify(event),
  });
  const requests = result.requests.total;
  const serverUs = ((server.cpuSeconds() - serverBefore) * 1e6) / requests;
  const selfUs = ((self.cpuSeconds() - selfBefore) * 1e6) / requests;
  console.log(
    `\nBare Node HTTP server, ${CONNECTIONS} connections × ${DURATION_S} s${RATE > 0 ? ` at ${RATE.toLocaleString('en-US')} req/s` : ''}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `requests ${requests.toLocaleString('en-US')} (${Math.round(requests / DURATION_S).toLocaleString('en-US')}/s), p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
  );
  console.log(
    `CPU per request: server ${serverUs.toFixed(1)} µs, autocannon ${selfUs.toFixed(1)} µs; the server alone is ${(serverUs / selfUs).toFixed(2)}× the load generator's`,
  );
} finally {
  await server.stop();
}
