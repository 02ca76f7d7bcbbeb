import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AppError } from '@central-logger/errors';
import type { BodyLimits, WireBytes } from '@central-logger/http';

/**
 * Reads a binary request body (protobuf, or JSON decoded by the caller) with
 * the limits of `readBody` in @central-logger/http, which reads text: the
 * wire limit on raw bytes, the decompressed limit on what gunzip produces (a
 * gzip bomb is cut off while it streams), 413 with `Connection: close` past
 * either. `received` counts the bytes read off the wire, for usage.
 */
export async function readBinaryBody(req: IncomingMessage, gzip: boolean, limits: BodyLimits, received: WireBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBytes) throw tooLarge('The request body', limits.maxBytes);
  const chunks: Buffer[] = [];
  const collect = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  };
  try {
    if (gzip) await pipeline(req, limit(limits.maxBytes, 'The request body', received), createGunzip(), limit(limits.maxDecompressedBytes, 'The decompressed request body'), collect);
    else await pipeline(req, limit(Math.min(limits.maxBytes, limits.maxDecompressedBytes), 'The request body', received), collect);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('Z_')) throw new AppError('validation_failed', 'The body is not valid gzip', { cause: err });
    throw new AppError('bad_request', 'The request body could not be read', { cause: err });
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function limit(max: number, what: string, received?: WireBytes) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let total = 0;
    for await (const chunk of source) {
      total += chunk.length;
      if (received) received.bytes += chunk.length;
      if (total > max) throw tooLarge(what, max);
      yield chunk;
    }
  };
}

function tooLarge(what: string, max: number): AppError {
  // close the connection after answering, instead of reading the rest of a body we refused
  return new AppError('payload_too_large', `${what} may be at most ${max} bytes`, { headers: { Connection: 'close' } });
}
