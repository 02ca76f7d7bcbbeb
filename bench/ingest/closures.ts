// `npx tsx --conditions=central-logger-source bench/ingest/closures.ts`: what
// a request's listeners cost to create as named closures and as methods of
// one object, as tsx runs the sources (esbuild with keepNames: every named
// function is wrapped in __name(), a defineProperty, each time it is created)
// and as the build runs them (tsc's output, which adds nothing).
// Settings: BENCH_CALLS (2,000,000) per variant, BENCH_ROUNDS (5), the median printed.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import * as underTsx from './closures-subject.js';

type Subject = typeof underTsx;

const CALLS = Number(process.env.BENCH_CALLS ?? 2_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** The subject as `npm run build` compiles it (tsc, the build's target). */
async function compiledByTsc(): Promise<Subject> {
  const source = await readFile(new URL('./closures-subject.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  const dir = await mkdtemp(join(tmpdir(), 'cl-closures-'));
  const file = join(dir, 'subject.mjs');
  await writeFile(file, outputText);
  try {
    return (await import(pathToFileURL(file).href)) as Subject;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Nanoseconds per call of `make`, the median of ROUNDS rounds. */
function nsPerCall(make: (sink: (n: number) => void) => unknown): number {
  let kept: unknown;
  const sink = (n: number) => {
    kept = n;
  };
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) kept = make(sink);
    rounds.push(Number(process.hrtime.bigint() - started) / CALLS);
  }
  if (kept === undefined) throw new Error('unreachable');
  return rounds.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

const compiled = await compiledByTsc();
const wrapped = underTsx.namedClosures.toString().includes('__name(');
const rows = [
  ['tsx (sources)', nsPerCall(underTsx.namedClosures), nsPerCall(underTsx.methodsOfOneObject)],
  ['tsc (dist)', nsPerCall(compiled.namedClosures), nsPerCall(compiled.methodsOfOneObject)],
];
console.log(
  `\nSix listeners created per call, ${CALLS.toLocaleString('en-US')} calls × ${ROUNDS} rounds, median; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(`tsx wraps named functions in __name(): ${wrapped ? 'yes' : 'no'}\n`);
console.log('| compiled by | named closures, ns/call | methods of one object, ns/call |\n| --- | --- | --- |');
for (const [by, closures, methods] of rows) console.log(`| ${by} | ${(closures as number).toFixed(1)} | ${(methods as number).toFixed(1)} |`);
