/**
 * Checks that Postgres can store a parsed JSON value as text and jsonb:
 * no NUL characters (rejected in text and jsonb), no lone UTF-16 surrogates
 * (rejected in jsonb), nesting no deeper than `maxDepth` (deep values crash
 * JSON.stringify). Iterative, so hostile nesting cannot overflow the stack.
 * Also returns an estimate of the value's serialized size in bytes.
 */
export interface StorableCheck {
  problem?: { path: string; message: string };
  bytes: number;
}

export function checkStorable(value: unknown, maxDepth: number): StorableCheck {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: '', depth: 0 }];
  let bytes = 0;
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      bytes += v.length + 2;
      const problem = textProblem(v);
      if (problem) return { problem: { path, message: problem }, bytes };
    } else if (v !== null && typeof v === 'object') {
      if (depth >= maxDepth) {
        return { problem: { path, message: `is nested deeper than ${maxDepth} levels` }, bytes };
      }
      bytes += 2;
      const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
      for (const [k, child] of entries) {
        if (!Array.isArray(v)) {
          bytes += k.length + 3;
          const problem = textProblem(k);
          if (problem) return { problem: { path: join(path, k), message: `has a key that ${problem.replace(/^contains/, 'contains')}` }, bytes };
        }
        stack.push({ v: child, path: join(path, k), depth: depth + 1 });
      }
    } else {
      bytes += 8;
    }
  }
  return { bytes };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (!s.isWellFormed()) return 'contains an unpaired UTF-16 surrogate, which cannot be stored';
  return undefined;
}
