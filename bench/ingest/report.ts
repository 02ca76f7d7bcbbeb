export interface Scenario {
  name: string;
  eventsPerRequest: number;
  seconds: number;
  /** Events answered 202 within the run (requests still in flight when it stops are not counted, but stored). */
  accepted: number;
  /** Events Postgres holds after the drain. */
  stored: number;
  drainS: number;
  requestsPerS: number;
  /** Stored events over load time plus drain time. */
  persistedPerS: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  errors: number;
  /** CPU seconds each service process used during the scenario (load and drain). */
  cpu: Record<string, number>;
  /** Mean events per queue job (group commit) and rows per INSERT (worker batching). */
  eventsPerJob: number;
  rowsPerInsert: number;
}

export interface Report {
  scenarios: Scenario[];
  ceiling: number;
  ceilingRows: number;
  rss: Record<string, number>;
  cores: number;
  durationS: number;
  connections: number;
  /** How ingest-api and the worker ran: tsx (sources) or dist (compiled). */
  mode: string;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const check = (ok: boolean) => (ok ? 'yes' : 'NO');

/** One side-by-side table (Markdown, so it can go into the README as is), then the targets. */
export function printReport(r: Report): void {
  const [batched, single, naive] = r.scenarios;
  const rows = [
    ['scenario', 'req/s (202)', 'events/s persisted', 'p50 ms', 'p99 ms', 'drain s', 'accepted', 'stored', 'other answers'],
    ...r.scenarios.map((s) => [
      s.name,
      fmt(s.requestsPerS),
      fmt(s.persistedPerS),
      fmt(s.p50, 1),
      fmt(s.p99, 1),
      fmt(s.drainS, 1),
      fmt(s.accepted),
      fmt(s.stored),
      otherAnswers(s),
    ]),
    // measured only when the batched scenario ran (BENCH_ONLY=single skips it)
    ...(r.ceilingRows > 0 ? [[`COPY ceiling (${fmt(r.ceilingRows)} rows)`, '', fmt(r.ceiling), '', '', '', '', '', '']] : []),
  ];
  console.log(
    `\nIngest benchmark: ${r.cores} cores, ${r.connections} connections, ${r.durationS} s per scenario (naive: ${naive?.seconds ?? '-'} s); apps run from ${r.mode === 'dist' ? 'the compiled build (plain node)' : 'their sources (tsx)'}\n`,
  );
  console.log(rows.map((row, i) => `| ${row.join(' | ')} |${i === 0 ? `\n|${row.map(() => ' --- ').join('|')}|` : ''}`).join('\n'));
  console.log(
    '\nCPU per 1,000 stored events (ms) by process (load and drain; postgres: its background processes and the bench database backends; redis: all its processes); mean events per queue job; mean rows per INSERT:',
  );
  for (const s of r.scenarios) {
    const perEvents = (v: number) => fmt((1000 * 1000 * v) / Math.max(1, s.stored), 1);
    const cpu = [...Object.entries(s.cpu).map(([k, v]) => `${k} ${perEvents(v)}`), `all ${perEvents(Object.values(s.cpu).reduce((a, b) => a + b, 0))}`].join(
      ', ',
    );
    const multiple = ourCpuMultiple(s);
    console.log(
      `  ${s.name}: ${cpu}${multiple ? `; ours ${fmt(multiple, 2)}× the load generator's` : ''}${s.eventsPerJob ? `; ${fmt(s.eventsPerJob, 1)} events/job; ${fmt(s.rowsPerInsert)} rows/INSERT` : ''}`,
    );
  }
  console.log(
    `\nPeak RSS: ${Object.entries(r.rss)
      .map(([k, v]) => `${k} ${fmt(v)} MB`)
      .join(', ')}\n`,
  );
  printRatios(r);
  if (!batched || !single || !naive) return;
  const targets: Array<[string, boolean]> = [
    [`batched ≥ 60% of COPY: ${fmt((100 * batched.persistedPerS) / r.ceiling, 1)}%`, batched.persistedPerS >= 0.6 * r.ceiling],
    [`single-event ≥ 8,000 req/s persisted: ${fmt(single.persistedPerS)}`, single.persistedPerS >= 8_000],
    [`single-event p99 ≤ 50 ms: ${fmt(single.p99, 1)}`, single.p99 <= 50],
    [`batched ≥ 10× naive: ${fmt(batched.persistedPerS / naive.persistedPerS, 1)}×`, batched.persistedPerS >= 10 * naive.persistedPerS],
    [`single-event ≥ 10× naive: ${fmt(single.persistedPerS / naive.persistedPerS, 1)}×`, single.persistedPerS >= 10 * naive.persistedPerS],
    // autocannon does not count the requests in flight when it stops, though they are answered and stored:
    // at most one request per connection more than it counted
    [`every accepted event persisted`, r.scenarios.every((s) => s.stored >= s.accepted && s.stored - s.accepted <= r.connections * s.eventsPerRequest)],
    [`our CPU per single event ≤ 3.5× the load generator's: ${fmt(ourCpuMultiple(single) ?? 0, 2)}×`, (ourCpuMultiple(single) ?? 99) <= 3.5],
    [`RSS < 200 MB each`, Object.values(r.rss).every((v) => v < 200)],
  ];
  for (const [what, ok] of targets) console.log(`  ${check(ok)}  ${what}`);
}

// rsyslog's ompgsql (one INSERT a row, 1,000 rows a transaction) into the same table and indexes on this machine (issue 18)
const PEER = { name: 'rsyslog ompgsql', low: 2_700, high: 3_000 };

/** Issue 18's ratios, each from this run alone: batched vs COPY, our CPU per single event vs the load generator's, and the peer. */
function printRatios(r: Report): void {
  const batched = r.scenarios.find((s) => s.eventsPerRequest > 1);
  const single = r.scenarios.find((s) => s.eventsPerRequest === 1 && s.cpu['ingest-api'] !== undefined);
  const lines: string[] = [];
  if (batched && r.ceiling > 0) lines.push(`batched share of COPY: ${fmt((100 * batched.persistedPerS) / r.ceiling, 1)}% (target ≥ 60%)`);
  const multiple = single && ourCpuMultiple(single);
  if (multiple) lines.push(`our processes' CPU per single event: ${fmt(multiple, 2)}× the load generator's (target ≤ 3.5×)`);
  const peer = (s: Scenario) => `${fmt(s.persistedPerS / PEER.high, 1)}–${fmt(s.persistedPerS / PEER.low, 1)}×`;
  const vs = [batched && `batched ${peer(batched)}`, single && `single event ${peer(single)}`].filter(Boolean).join(', ');
  if (vs) lines.push(`${PEER.name} stored ${fmt(PEER.low)}–${fmt(PEER.high)} rows/s on this machine (issue 18, a reference not measured here): ${vs} that`);
  if (lines.length) console.log(`Issue 18:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

/**
 * Our processes' CPU (ingest-api, worker, Postgres, Redis) per event as a
 * multiple of the load generator's: the machine's speed cancels out, so runs
 * on different days compare. Undefined without a load generator's figure.
 */
function ourCpuMultiple(s: Scenario): number | undefined {
  const generator = s.cpu.autocannon;
  if (!generator) return undefined;
  const ours = Object.entries(s.cpu)
    .filter(([k]) => k !== 'autocannon')
    .reduce((a, [, v]) => a + v, 0);
  return ours / generator;
}

function otherAnswers(s: Scenario): string {
  const other = Object.entries(s.statuses)
    .filter(([k]) => k !== '202')
    .map(([k, v]) => `${k}×${v}`);
  if (s.errors) other.push(`errors×${s.errors}`);
  return other.join(' ') || '-';
}
