import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AppError } from '@central-logger/errors';
import type { BodyHold } from './body-budget.js';
import { JsonDepthGuard, type DepthLimit } from './json-depth.js';

export type BodyType = 'json' | 'ndjson';

/** Bytes of a request body read off the wire so far. */
export interface WireBytes {
  bytes: number;
}

export interface BodyLimits {
  /** Bytes on the wire. */
  maxBytes: number;
  /** Bytes after decompression. */
  maxDecompressedBytes: number;
  /** Nesting of the JSON text, checked on the bytes as they arrive (after gunzip), before anything parses them. */
  depth?: DepthLimit;
}

const MEDIA_TYPES: Record<string, BodyType> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
};

/** Which body type the headers announce; 415 for anything else. */
export function bodyTypeOf(contentType: string | undefined, contentEncoding: string | undefined): { type: BodyType; gzip: boolean } {
  const [media = '', ...params] = (contentType ?? '')
    .toLowerCase()
    .split(';')
    .map((s) => s.trim());
  const type = MEDIA_TYPES[media];
  if (!type) {
    throw new AppError('unsupported_media_type', 'Content-Type must be application/json or application/x-ndjson');
  }
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replaceAll('"', '');
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new AppError('unsupported_media_type', 'Only the utf-8 charset is accepted');
  }
  const encoding = (contentEncoding ?? 'identity').toLowerCase().trim();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new AppError('unsupported_media_type', 'Content-Encoding must be gzip or absent');
  }
  return { type, gzip: encoding === 'gzip' };
}

/**
 * Reads a request body as UTF-8 text while it streams, stopping as soon as a
 * limit is passed: the wire limit on raw bytes, the decompressed limit on
 * what gunzip produces (so a gzip bomb is cut off, never inflated whole).
 * Invalid UTF-8 is rejected instead of silently becoming U+FFFD.
 * `received`, when given, counts the bytes read off the wire (compressed,
 * and up to the cut-off of a refused body): what usage counts, with or
 * without a Content-Length. `hold`, when given, takes each chunk (after
 * gunzip) from the process's BodyBudget, refusing the body once its tenant or
 * the process holds too much (the caller releases it when done); while the
 * body is read, the budget may revoke the hold, which fails the read with its
 * 429 at once.
 */
export async function readBody(req: IncomingMessage, gzip: boolean, limits: BodyLimits, received?: WireBytes, hold?: BodyHold): Promise<string> {
  const bytes = await readBodyBytes(req, gzip, limits, received, hold);
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new AppError('validation_failed', 'The body is not valid UTF-8');
  }
}

/** `readBody` for a binary body (e.g. protobuf): the same limits and errors, the bytes as they are. */
export async function readBodyBytes(req: IncomingMessage, gzip: boolean, limits: BodyLimits, received?: WireBytes, hold?: BodyHold): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBytes) throw tooLarge('The request body', limits.maxBytes);

  const chunks: Buffer[] = [];
  const guard = limits.depth ? new JsonDepthGuard(limits.depth) : undefined;
  try {
    if (gzip) {
      const gunzip = createGunzip();
      // a revoked hold fails the pipeline at once, even if the client sends nothing more;
      // pipeline then destroys the request but not its socket, which carries the 429
      hold?.onRevoke((err) => gunzip.destroy(err));
      const inflated = limit(limits.maxDecompressedBytes, 'The decompressed request body', undefined, guard, hold);
      await pipeline(req, limit(limits.maxBytes, 'The request body', received), gunzip, async (source) => {
        for await (const chunk of inflated(source)) chunks.push(chunk);
      });
    } else {
      // no pipeline or async iterator here: on the hot path their per-request
      // AbortController, AbortError (with a stack trace) and generators cost
      // more than reading the body
      chunks.push(...(await readPlain(req, Math.min(limits.maxBytes, limits.maxDecompressedBytes), received, guard, hold)));
    }
  } catch (err) {
    // once revoked, whatever else failed too, the request was cut for holding too much
    if (hold?.revoked) throw hold.revoked;
    if (err instanceof AppError) throw err;
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('Z_')) throw new AppError('validation_failed', 'The body is not valid gzip', { cause: err });
    throw new AppError('bad_request', 'The request body could not be read', { cause: err });
  } finally {
    hold?.offRevoke();
  }
  // revoked as the read ended: its bytes were given back, so the body must not be used
  if (hold?.revoked) throw hold.revoked;
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

// one decoder for all: a whole-buffer decode keeps no state between calls
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The raw chunks of a body without Content-Encoding, refusing it once it passes `max` bytes. */
function readPlain(
  req: IncomingMessage,
  max: number,
  received: WireBytes | undefined,
  guard: JsonDepthGuard | undefined,
  hold: BodyHold | undefined,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', settle);
    req.once('close', onClose);
    // revoked while the client stalls: fail the read now; the route answers the 429 and closes
    // the connection (destroying the request would destroy the socket before that answer)
    hold?.onRevoke(onRevoke);

    function onData(chunk: Buffer): void {
      total += chunk.length;
      if (received) received.bytes += chunk.length;
      if (total > max) {
        // stop reading; the 413 closes the connection
        req.pause();
        settle(tooLarge('The request body', max));
        return;
      }
      try {
        hold?.take(chunk.length);
        guard?.push(chunk);
      } catch (err) {
        req.pause();
        settle(err);
        return;
      }
      chunks.push(chunk);
    }
    function onEnd(): void {
      settle();
    }
    function onRevoke(err: AppError): void {
      req.pause();
      settle(err);
    }
    function onClose(): void {
      settle(new Error('the client closed the request before its body ended'));
    }
    // every listener goes once the body is settled: the request's 'close'
    // comes after every answered request, and an Error built then (with its
    // stack trace) cost more than reading a small body
    function settle(err?: unknown): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', settle);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks);
    }
  });
}

function limit(max: number, what: string, received?: WireBytes, guard?: JsonDepthGuard, hold?: BodyHold) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let total = 0;
    for await (const chunk of source) {
      total += chunk.length;
      if (received) received.bytes += chunk.length;
      if (total > max) throw tooLarge(what, max);
      hold?.take(chunk.length);
      guard?.push(chunk);
      yield chunk;
    }
  };
}

function tooLarge(what: string, max: number): AppError {
  // close the connection after answering, instead of reading the rest of a body we refused
  return new AppError('payload_too_large', `${what} may be at most ${max} bytes`, { headers: { Connection: 'close' } });
}
