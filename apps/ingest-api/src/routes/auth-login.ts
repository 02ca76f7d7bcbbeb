import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '@central-logger/errors';
import { readJsonBody } from '@central-logger/http';
import { MAX_PASSWORD_LENGTH, signIn, type SignInDeps } from '@central-logger/tenant-auth';

const loginBody = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

/** `POST /api/v1/auth/login` `{"username", "password"}`: `{"access_token", "token_type", "expires_in", "user"}` for a tenant user. */
export function login(deps: SignInDeps) {
  return async function postLogin(ctx: Context): Promise<void> {
    const parsed = loginBody.safeParse(await readJsonBody(ctx.req, 4 * 1024));
    if (!parsed.success) {
      throw new AppError('validation_failed', 'The body must be {"username": "...", "password": "..."}', {
        details: parsed.error.issues.map((i) => ({ field: i.path.join('.') || undefined, message: i.message })),
      });
    }
    const answer = await signIn(deps, parsed.data.username, parsed.data.password, ctx.ip);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = answer;
  };
}
