import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkJsonDepth, JsonDepthGuard } from '@central-logger/http';

/** The real nesting of a parsed value. */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe('JsonDepthGuard', () => {
  it('agrees with the parsed value on any JSON, whatever its strings hold and however the bytes are split', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 7 }), (value, max, split) => {
        const bytes = Buffer.from(JSON.stringify(value), 'utf8');
        const guard = new JsonDepthGuard({ maxDepth: max, perLine: false });
        let refused = false;
        try {
          for (let i = 0; i < bytes.length; i += split) guard.push(bytes.subarray(i, i + split));
        } catch {
          refused = true;
        }
        expect(refused).toBe(depthOf(value) > max);
      }),
      { numRuns: 500 },
    );
  });

  it('judges each NDJSON line by its own depth, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 6 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 9 }),
        (values, max, split) => {
          const bytes = Buffer.from(values.map((v) => JSON.stringify(v)).join('\n'), 'utf8');
          const guard = new JsonDepthGuard({ maxDepth: max, perLine: true });
          let refused = false;
          try {
            for (let i = 0; i < bytes.length; i += split) guard.push(bytes.subarray(i, i + split));
          } catch {
            refused = true;
          }
          expect(refused).toBe(Math.max(...values.map(depthOf)) > max);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('restarts at each NDJSON line, even after an open string or a trailing backslash', () => {
    const limit = { maxDepth: 2, perLine: true };
    expect(() => checkJsonDepth('[[1]]\n[[2]]\n', limit)).not.toThrow();
    expect(() => checkJsonDepth('"open\n[[[1]]]', limit)).toThrow(/at most 2 levels/);
    expect(() => checkJsonDepth('"open\\\n[[[1]]]', limit)).toThrow(/at most 2 levels/);
    // as one JSON document the newline is just whitespace
    expect(() => checkJsonDepth('[[\n1]]', { maxDepth: 2, perLine: false })).not.toThrow();
  });
});
