import type { Context } from 'koa';

export type Check = () => Promise<unknown>;

/** `GET /health`: the process is up. */
export function health(ctx: Context): void {
  ctx.body = { status: 'ok' };
}

/**
 * `GET /ready`: each dependency answers within 2 s; 503 naming the ones that
 * do not. `info` adds fields to the body that never make it 503 (the state of
 * something the process does without).
 */
export function ready(checks: Record<string, Check>, info?: () => Record<string, unknown>) {
  return async (ctx: Context): Promise<void> => {
    const results = await Promise.all(
      Object.entries(checks).map(
        async ([name, check]) =>
          [
            name,
            await withTimeout(check(), 2_000).then(
              () => 'ok',
              () => 'unreachable',
            ),
          ] as const,
      ),
    );
    const status = Object.fromEntries(results);
    const ok = results.every(([, r]) => r === 'ok');
    ctx.status = ok ? 200 : 503;
    ctx.body = { status: ok ? 'ready' : 'unavailable', checks: status, ...info?.() };
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
