import type { Context } from 'koa';
import type { z } from 'zod';
import { AppError } from '@central-logger/errors';
import { readJsonBody } from '@central-logger/http';

const MAX_ADMIN_BODY_BYTES = 64 * 1024;

/** Reads a small JSON body and checks it against `schema`: 415, 413, 400 with details per field. */
export async function readJson<S extends z.ZodType>(ctx: Context, schema: S): Promise<z.infer<S>> {
  return parseWith(schema, await readJsonBody(ctx.req, MAX_ADMIN_BODY_BYTES));
}

/** `value` checked against `schema`, or 400 validation_failed naming each field (an unknown one too). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.flatMap((i) =>
    // a strict schema's one issue for every unknown name becomes one detail per name, so each is named
    i.code === 'unrecognized_keys'
      ? i.keys.map((key) => ({ field: [...i.path, key].join('.'), message: 'is not a known parameter' }))
      : [{ ...(i.path.length ? { field: i.path.join('.') } : {}), message: i.message }],
  );
  throw new AppError('validation_failed', 'The request is invalid', { details });
}
