/**
 * `npm run bench:abuse`: each attack of the hardening work, against real
 * processes on 127.0.0.1, bounded in count and time. Prints, per attack, the
 * victim's p50/p99 without and with it. `BENCH_ONLY=<name,...>` runs some.
 */
import { authFlood } from './auth-flood.js';
import { machine } from './machine.js';
import { nestingBomb } from './nesting-bomb.js';
import type { AbuseResult, AbuseScenario } from './scenario.js';
import { tenantFlood } from './tenant-flood.js';

// each scenario module adds itself here
const scenarios: AbuseScenario[] = [authFlood, nestingBomb, tenantFlood];

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const results: AbuseResult[] = [];
for (const s of scenarios) {
  if (only && !only.some((o) => s.name.includes(o))) continue;
  console.error(`--- ${s.name}`);
  results.push(await s.run());
}

const f = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : '–');
console.log(`\nbench:abuse on ${machine()}\n`);
console.log('| attack | victim measures | without: n, p50 / p99 / max | with: n, p50 / p99 / max |');
console.log('| --- | --- | --- | --- |');
for (const r of results) {
  const cell = (l: AbuseResult['with']) => `${l.n}, ${f(l.p50Ms)} / ${f(l.p99Ms)} / ${f(l.maxMs)}`;
  console.log(`| ${r.name} | ${r.victimMeasures} | ${cell(r.without)} | ${cell(r.with)} |`);
}
for (const r of results) {
  console.log(`\n${r.name}:`);
  for (const n of r.notes) console.log(`- ${n}`);
}
