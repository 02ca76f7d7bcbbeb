import type { IncomingMessage } from 'node:http';
import { AppError } from '@central-logger/errors';
import { checkStorable } from '@central-logger/events';
import { bodyTypeOf, readBody } from './body.js';

/** Nesting of a management body: their fields are flat, so this leaves a wide margin. Default of readJsonBody. */
export const MAX_JSON_BODY_DEPTH = 32;

/**
 * A small JSON request body (management endpoints): `{}` when the request has
 * none, 415 for other media types, 413 past `maxBytes`, 400 when not JSON,
 * nested deeper than `maxDepth` (checked before parsing), or holding text
 * Postgres cannot store or compare (NUL, a lone surrogate) in any value: a
 * username or key name with one was a 500 from the query it reached.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, maxDepth = MAX_JSON_BODY_DEPTH): Promise<unknown> {
  const length = req.headers['content-length'];
  if ((length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined) return {};
  const { type, gzip } = bodyTypeOf(req.headers['content-type'] ?? 'application/json', req.headers['content-encoding']);
  if (type !== 'json') throw new AppError('unsupported_media_type', 'Content-Type must be application/json');
  const text = await readBody(req, gzip, { maxBytes, maxDecompressedBytes: maxBytes, depth: { maxDepth, perLine: false } });
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('validation_failed', 'The body is not valid JSON');
  }
  const { problem } = checkStorable(value, maxDepth);
  if (problem)
    throw new AppError('validation_failed', 'The request is invalid', {
      details: [{ ...(problem.path ? { field: problem.path } : {}), message: problem.message }],
    });
  return value;
}
