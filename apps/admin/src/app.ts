import Koa from 'koa';
import Router from '@koa/router';
import type { AdminConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import { errorMiddleware, health, ready, type Logger } from '@central-logger/http';
import type { Redis } from 'ioredis';

export interface AdminDeps {
  config: AdminConfig;
  sql: Sql;
  redis: Redis;
  log: Logger;
}

/** The provider's app: wiring only. */
export function createAdminApp(deps: AdminDeps): Koa {
  const app = new Koa();
  app.proxy = deps.config.TRUST_PROXY;
  app.silent = true;

  const router = new Router();
  router.get('/health', health);
  router.get('/ready', ready({ postgres: () => deps.sql`select 1`, redis: () => deps.redis.ping() }));

  app.use(errorMiddleware(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}
