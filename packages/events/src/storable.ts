/**
 * Checks that Postgres can store a parsed JSON value as text and jsonb:
 * no NUL characters (rejected in text and jsonb), no lone UTF-16 surrogates
 * (rejected in jsonb), nesting no deeper than `maxDepth` (deep values crash
 * JSON.stringify). Recursion stops at `maxDepth`, so hostile nesting cannot
 * overflow the stack; the path of a problem is built only when one is found.
 * Also returns an estimate of the value's serialized size in bytes.
 */
export interface StorableCheck {
  /** `tooDeep` marks the nesting limit (a size limit: 413), as opposed to text Postgres cannot store (400). */
  problem?: { path: string; message: string; tooDeep?: boolean };
  bytes: number;
}

interface Walk {
  bytes: number;
  /** Keys from the problem up to the root, innermost first. */
  keys: string[];
  message?: string;
  tooDeep?: boolean;
}

export function checkStorable(value: unknown, maxDepth: number): StorableCheck {
  const walk: Walk = { bytes: 0, keys: [] };
  if (!visit(value, 0, maxDepth, walk)) return { bytes: walk.bytes };
  const problem = { path: walk.keys.reverse().join('.'), message: walk.message! };
  return { problem: walk.tooDeep ? { ...problem, tooDeep: true } : problem, bytes: walk.bytes };
}

/**
 * Values that many events carry by reference (the attributes of an OTLP
 * resource, in the metadata of each of its records), checked once by
 * `checkShared`: the nesting they were checked with, and their size.
 */
const SHARED = new WeakMap<object, { maxDepth: number; bytes: number }>();

/**
 * `checkStorable` for a value that many events will share, unchanged, by
 * reference: when it passes, the check of each event that holds it counts
 * its size without walking it again (as long as it sits where `maxDepth`
 * levels are still allowed). When it fails, nothing is remembered, and each
 * event's check finds and words the problem as usual.
 */
export function checkShared(value: object, maxDepth: number): StorableCheck {
  const check = checkStorable(value, maxDepth);
  if (!check.problem) SHARED.set(value, { maxDepth, bytes: check.bytes });
  return check;
}

/** Adds `v`'s size to `w.bytes`; true (with `w.message` set) when a problem was found. */
function visit(v: unknown, depth: number, maxDepth: number, w: Walk): boolean {
  if (typeof v === 'string') {
    w.bytes += v.length + 2;
    w.message = textProblem(v);
    return w.message !== undefined;
  }
  if (v === null || typeof v !== 'object') {
    w.bytes += 8;
    return false;
  }
  const shared = SHARED.get(v);
  if (shared && maxDepth - depth >= shared.maxDepth) {
    w.bytes += shared.bytes;
    return false;
  }
  if (depth >= maxDepth) {
    w.message = `is nested deeper than ${maxDepth} levels`;
    w.tooDeep = true;
    return true;
  }
  w.bytes += 2;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (visit(v[i], depth + 1, maxDepth, w)) return found(w, String(i));
    }
    return false;
  }
  for (const k of Object.keys(v)) {
    w.bytes += k.length + 3;
    const problem = textProblem(k);
    if (problem) {
      w.message = `has a key that ${problem}`;
      return found(w, k);
    }
    if (visit((v as Record<string, unknown>)[k], depth + 1, maxDepth, w)) return found(w, k);
  }
  return false;
}

function found(w: Walk, key: string): true {
  w.keys.push(key);
  return true;
}

function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (!s.isWellFormed()) return 'contains an unpaired UTF-16 surrogate, which cannot be stored';
  return undefined;
}
