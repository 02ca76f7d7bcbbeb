// The docs are the project's contract, so they must not silently drift: every
// relative link in the repository's Markdown resolves to a file inside it (and
// its anchor to a heading), no link leaves the repository through the file
// system, every error code has its row in docs/api.md's error table with its
// status, and every configuration setting its row in docs/operations.md with
// its default. No database or Redis: this reads files only.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as config from '@central-logger/config';
import { errorStatus } from '@central-logger/errors';
import { INGEST_ROUTE } from '../apps/ingest-api/src/routes/logs-ingest.js';
import { OTLP_ROUTE } from '../apps/ingest-api/src/routes/otlp-logs.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'test-results', 'coverage']);

/** Every Markdown file of the repository, as paths relative to its root. */
function markdownFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) out.push(...markdownFiles(join(dir, entry.name)));
    } else if (entry.name.toLowerCase().endsWith('.md')) {
      out.push(relative(ROOT, join(dir, entry.name)));
    }
  }
  return out.sort();
}

/** The text links are read from: without fenced code blocks, inline code spans and HTML comments. */
function proseOf(markdown: string): string {
  return markdown
    .replace(/^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/(`+)[\s\S]*?\1/g, '');
}

/** Link targets of a Markdown text: inline links and images, reference definitions, HTML href and src. */
function linkTargets(markdown: string): string[] {
  const prose = proseOf(markdown);
  const targets: string[] = [];
  const inline = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
  for (const m of prose.matchAll(inline)) targets.push(m[1]!.replace(/^<|>$/g, ''));
  for (const m of prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/gm)) targets.push(m[1]!.replace(/^<|>$/g, ''));
  for (const m of prose.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)) targets.push(m[1]!);
  return targets;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The anchors a Markdown file offers: its headings' slugs (repeats numbered as GitHub does) and explicit ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutCode = markdown.replace(/^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '');
  for (const m of withoutCode.matchAll(/^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of withoutCode.matchAll(/<a\s+(?:name|id)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]!);
  return anchors;
}

/** What is wrong with one link of `file` (relative to the root), or undefined when it is fine. */
function linkProblem(file: string, target: string, root = ROOT): string | undefined {
  if (/^(https?|mailto):/i.test(target)) return undefined; // a public web address, not a file
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return `${target}: a ${target.split(':')[0]}: link leaves the repository`;
  if (target.startsWith('/') || target.startsWith('\\') || /^[a-z]:[\\/]/i.test(target)) return `${target}: an absolute path, not one inside the repository`;
  const [pathAndQuery, anchor] = splitOnce(target, '#');
  const [rawPath] = splitOnce(pathAndQuery, '?');
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return `${target}: not a valid URL path`;
  }
  const resolved = path === '' ? join(root, file) : resolve(root, dirname(file), path);
  const inside = relative(root, resolved);
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return `${target}: points outside the repository`;
  if (!existsSync(resolved)) return `${target}: ${inside} does not exist`;
  if (anchor && statSync(resolved).isFile() && resolved.toLowerCase().endsWith('.md')) {
    if (!anchorsOf(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor).toLowerCase())) return `${target}: ${inside} has no heading #${anchor}`;
  }
  return undefined;
}

function splitOnce(s: string, on: string): [string, string | undefined] {
  const i = s.indexOf(on);
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/** The rows of the first Markdown table after the heading `heading` (up to the next heading of its level or above). */
function tableRowsUnder(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start === -1) throw new Error(`no heading "${heading}"`);
  const level = heading.match(/^#+/)![0].length;
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    const h = line.match(/^(#+)\s/);
    if (h && h[1]!.length <= level) break;
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    rows.push(cells(line));
  }
  return rows;
}

/** A table row's cells, `\|` kept inside a cell. */
function cells(line: string): string[] {
  return line
    .replace(/^\|/, '')
    .replace(/\|\s*$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

describe("links in the repository's Markdown", () => {
  const files = markdownFiles();

  it('finds the docs and the README', () => {
    for (const f of [
      'README.md',
      'docs/README.md',
      'docs/architecture.md',
      'docs/api.md',
      'docs/data-model.md',
      'docs/operations.md',
      'docs/security.md',
      'docs/scale-out.md',
    ]) {
      expect(files).toContain(f.split('/').join(sep));
    }
  });

  it('resolve to files (and headings) inside the repository', () => {
    const problems: string[] = [];
    for (const file of files) {
      for (const target of linkTargets(read(file))) {
        const problem = linkProblem(file, target);
        if (problem) problems.push(`${file}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the README links to docs/ and to each document in it', () => {
    const targets = linkTargets(read('README.md')).map((t) => t.replace(/^\.\//, ''));
    expect(targets.some((t) => t === 'docs/' || t === 'docs' || t === 'docs/README.md')).toBe(true);
    for (const doc of readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
      expect(targets, `README.md links to docs/${doc}`).toContain(`docs/${doc}`);
    }
  });

  it('the checker itself refuses what leaves the repository and finds broken links and anchors', () => {
    expect(linkProblem('README.md', '../shared/DESIGN.md')).toMatch(/outside the repository/);
    expect(linkProblem('docs/api.md', '../../x.md')).toMatch(/outside the repository/);
    expect(linkProblem('README.md', 'file:///etc/passwd')).toMatch(/leaves the repository/);
    expect(linkProblem('README.md', '/etc/passwd')).toMatch(/absolute path/);
    expect(linkProblem('README.md', 'docs/nope.md')).toMatch(/does not exist/);
    expect(linkProblem('README.md', 'docs/api.md#no-such-heading')).toMatch(/no heading/);
    expect(linkProblem('README.md', 'docs/api.md#error-codes')).toBeUndefined();
    expect(linkProblem('docs/api.md', '#error-codes')).toBeUndefined();
    expect(linkProblem('README.md', 'https://github.com/panva/jose')).toBeUndefined();
    expect(linkTargets('[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n[d]: w.md\n<a href="v.md">')).toEqual(['x.md', 'w.md', 'v.md']);
    expect(slug('Ingest — `npm run bench:ingest` (30 s)')).toBe('ingest--npm-run-benchingest-30-s');
    expect([...anchorsOf('# A\n## A\n### B c\n')]).toEqual(['a', 'a-1', 'b-c']);
  });
});

/**
 * The routes an app's wiring registers (`router.get('/path', …)`), read from its source: method and path, with
 * `${api}` as the admin app defines it and the raw handlers' route constants resolved. Routes registered in a
 * loop (the dashboard's files) are not literal and not listed.
 */
function routesOf(file: string): Array<[string, string]> {
  const constants: Record<string, string> = { 'INGEST_ROUTE.path': INGEST_ROUTE.path, 'OTLP_ROUTE.path': OTLP_ROUTE.path };
  const routes: Array<[string, string]> = [];
  for (const m of read(file).matchAll(/router\.(get|post|put|patch|delete)\(\s*(`[^`]*`|'[^']*'|[A-Z_]+\.path)/g)) {
    const raw = m[2]!;
    const path = constants[raw] ?? raw.slice(1, -1).replaceAll('$' + '{api}', '/admin/api');
    routes.push([m[1]!.toUpperCase(), path]);
  }
  return routes;
}

describe('docs/api.md', () => {
  it('names every route the ingest API and the admin API register', () => {
    const doc = read('docs/api.md');
    const ingest = routesOf('apps/ingest-api/src/app.ts');
    const admin = routesOf('apps/admin/src/app.ts');
    expect(ingest.length).toBeGreaterThanOrEqual(20);
    expect(admin.length).toBeGreaterThanOrEqual(20);
    const missing = [...ingest, ...admin].filter(([method, path]) => {
      const relative = path.startsWith('/admin/api/') ? path.slice('/admin/api/'.length) : undefined;
      return !doc.includes(`\`${method} ${path}\``) && !(relative && doc.includes(`\`${method} ${relative}\``));
    });
    expect(missing.map(([m, p]) => `${m} ${p}`)).toEqual([]);
  });

  it('has every error code in its error table, with the status packages/errors maps it to, and no other', () => {
    const rows = tableRowsUnder(read('docs/api.md'), '## Error codes').filter((r) => /^`[a-z_]+`$/.test(r[0]!));
    const documented = new Map(rows.map((r) => [r[0]!.slice(1, -1), Number(r[1])]));
    expect(Object.fromEntries(documented)).toEqual({ ...errorStatus });
    for (const r of rows) expect(r[2]!.length, `the "when" of ${r[0]}`).toBeGreaterThan(20);
  });
});

describe('docs/operations.md', () => {
  // every zod object schema packages/config exports, and the defaults it gives when nothing is set
  const schemas = (Object.values(config) as unknown[]).filter(
    (v): v is { shape: Record<string, unknown>; parse(input: unknown): Record<string, unknown> } =>
      typeof v === 'object' && v !== null && 'shape' in v && 'parse' in v,
  );
  const defaults = new Map<string, unknown>();
  for (const schema of schemas) for (const [key, value] of Object.entries(schema.parse({}))) defaults.set(key, value);
  const keys = [...new Set(schemas.flatMap((s) => Object.keys(s.shape)))].sort();
  // read in the tests, so that a missing file fails them rather than the whole suite
  const documented = () => {
    const rows = tableRowsUnder(read('docs/operations.md'), '## Configuration reference').filter((r) => /^`[A-Z][A-Z0-9_]*`$/.test(r[0]!));
    return new Map(rows.map((r) => [r[0]!.slice(1, -1), r]));
  };

  it('reads the settings of every schema', () => {
    expect(schemas.length).toBeGreaterThanOrEqual(6);
    expect(keys).toContain('DATABASE_URL');
    expect(keys).toContain('MAX_BULK_BACKLOG_JOBS');
  });

  it('documents every setting in packages/config, and no setting that does not exist', () => {
    const byKey = documented();
    expect(keys.filter((k) => !byKey.has(k))).toEqual([]);
    expect([...byKey.keys()].filter((k) => !keys.includes(k))).toEqual([]);
  });

  it('gives each setting its default as the schema has it, or says it is unset, and a meaning', () => {
    const byKey = documented();
    const wrong: string[] = [];
    for (const key of keys) {
      const [, dflt = '', meaning = ''] = byKey.get(key) ?? [];
      const value = defaults.get(key);
      const ok = value === undefined ? /^unset\b/i.test(dflt) : dflt.startsWith(`\`${String(value)}\``);
      if (!ok) wrong.push(`${key}: default cell "${dflt}", schema default ${value === undefined ? 'none' : JSON.stringify(value)}`);
      if (meaning.length < 10) wrong.push(`${key}: no meaning`);
    }
    expect(wrong).toEqual([]);
  });
});
