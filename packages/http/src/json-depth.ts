import { AppError } from '@central-logger/errors';

/** How deep a JSON body may nest, checked on the raw bytes before it is parsed. */
export interface DepthLimit {
  /** Most objects and arrays open at once (the whole body, or one NDJSON line). */
  maxDepth: number;
  /** NDJSON: every line is a document of its own, so depth and string state restart at each newline. */
  perLine: boolean;
  /** What the limit is made of, for the error message (e.g. "MAX_METADATA_DEPTH 16 plus the event and its envelope"). */
  describe?: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Tracks the nesting depth of JSON text as its bytes arrive, outside strings
 * (and their escapes), and throws 400 validation_failed as soon as it passes
 * the limit. `JSON.parse` of 8 MB of `[` then `]` (7.8 KB gzipped) blocks the
 * event loop for about 3 s; this refuses it after the limit's bytes, in one
 * linear pass with no allocation. It reads UTF-8 bytes: every byte it looks
 * at is ASCII, and no byte of a multi-byte character is, so chunks may split
 * characters anywhere. Text it cannot judge (unbalanced brackets, an
 * unterminated string) is left for JSON.parse to refuse.
 */
export class JsonDepthGuard {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly limit: DepthLimit) {}

  /** Scans the next bytes of the body; throws when it nests too deep. */
  push(chunk: Uint8Array): void {
    const { maxDepth, perLine } = this.limit;
    const n = chunk.length;
    // tight loops over the bytes that matter nothing (most of a body): a table look-up each
    const skipInString = perLine ? PLAIN_IN_STRING_LINES : PLAIN_IN_STRING;
    const skipOutside = perLine ? PLAIN_OUTSIDE_LINES : PLAIN_OUTSIDE;
    let { depth, inString, escaped } = this;
    let i = 0;
    while (i < n) {
      if (!inString) while (i < n && skipOutside[chunk[i]!]) i++;
      else if (!escaped) while (i < n && skipInString[chunk[i]!]) i++;
      if (i === n) break;
      const c = chunk[i++]!;
      if (c === NEWLINE && perLine) {
        // each line is parsed alone, so it starts afresh, even after an unterminated string or a trailing backslash
        depth = 0;
        inString = escaped = false;
      } else if (inString) {
        if (escaped)
          escaped = false; // the byte after a backslash, whatever it is
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
      } else if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++depth > maxDepth) throw tooDeep(this.limit);
      } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && depth > 0) depth--;
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
  }
}

/** 1 for the bytes a scan in that state passes over without looking. */
function plainBytes(significant: number[]): Uint8Array {
  const table = new Uint8Array(256).fill(1);
  for (const b of significant) table[b] = 0;
  return table;
}
const PLAIN_IN_STRING = plainBytes([QUOTE, BACKSLASH]);
const PLAIN_IN_STRING_LINES = plainBytes([QUOTE, BACKSLASH, NEWLINE]);
const PLAIN_OUTSIDE = plainBytes([QUOTE, OPEN_BRACE, OPEN_BRACKET, CLOSE_BRACE, CLOSE_BRACKET]);
const PLAIN_OUTSIDE_LINES = plainBytes([QUOTE, OPEN_BRACE, OPEN_BRACKET, CLOSE_BRACE, CLOSE_BRACKET, NEWLINE]);

/** Throws when `text` nests deeper than the limit (for text already read whole). */
export function checkJsonDepth(text: string, limit: DepthLimit): void {
  new JsonDepthGuard(limit).push(Buffer.from(text, 'utf8'));
}

function tooDeep(limit: DepthLimit): AppError {
  const why = limit.describe ? ` (${limit.describe})` : '';
  // the rest of the body is not read: close the connection after answering
  return new AppError('validation_failed', `JSON may be nested at most ${limit.maxDepth} levels deep${why}; this body is nested deeper`, {
    headers: { Connection: 'close' },
  });
}
