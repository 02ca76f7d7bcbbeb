import Koa from 'koa';
import Router from '@koa/router';
import type { AdminConfig } from '@central-logger/config';
import { isUnavailable, type Sql } from '@central-logger/db';
import { health, koaLifecycle, ready, refuseNulInUrl, RequestCounters, RequestLifecycle, trustProxy, type Logger, type Registry } from '@central-logger/http';
import { parseDuration, type KeyVerifier } from '@central-logger/keys';
import type { RedisClient as Redis } from '@central-logger/redis';
import { LoginLimiter } from './auth/login-limiter.js';
import { hashPassword } from './auth/passwords.js';
import { requireAdmin } from './middleware/require-admin.js';
import { listAuditRoute } from './routes/audit.js';
import { clientStatusRoute, createClientRoute, updateClientRoute, getClientRoute, listClientsRoute } from './routes/clients.js';
import { clientSummaryRoute } from './routes/client-summary.js';
import { DASHBOARD_PATHS, dashboardFile } from './routes/dashboard.js';
import type { RouteDeps } from './routes/deps.js';
import { issueKeyRoute, listKeysRoute, revokeKeyRoute, rotateKeyRoute, setKeyExpiryRoute } from './routes/keys.js';
import { login, logout, whoAmI } from './routes/session.js';
import { getDeadLetterRoute, listDeadLettersRoute, replayDeadLetterRoute, retryJobsRoute, systemRoute } from './routes/system.js';
import { authFailuresRoute, usageRoute } from './routes/usage.js';
import { createUserRoute, deactivateUserRoute, listUsersRoute } from './routes/users.js';
import { ackAlertRoute, alertsSummaryRoute, listAlertsRoute } from './routes/alerts.js';

export interface AdminDeps {
  config: AdminConfig;
  sql: Sql;
  redis: Redis;
  log: Logger;
  verifier: KeyVerifier;
  /** Where request counts go (served by serveMetrics, off the public port); none when absent. */
  metrics?: Registry;
}

/** The provider's app: wiring only. */
export function createAdminApp(deps: AdminDeps): Koa {
  const app = new Koa();
  trustProxy(app, deps.config);
  app.silent = true;
  const r = routeDeps(deps);
  const auth = requireAdmin(deps.sql, deps.verifier);
  const api = '/admin/api';

  const router = new Router();
  router.get('/health', health);
  router.get('/ready', ready({ postgres: () => deps.sql`select 1`, redis: () => deps.redis.ping() }));
  for (const path of DASHBOARD_PATHS) router.get(path, dashboardFile);

  router.post(`${api}/login`, login(r));
  router.post(`${api}/logout`, auth, logout(r));
  router.get(`${api}/session`, auth, whoAmI);
  router.post(`${api}/clients`, auth, createClientRoute(r));
  router.get(`${api}/clients`, auth, listClientsRoute(r));
  router.get(`${api}/clients/:id`, auth, getClientRoute(r));
  router.get(`${api}/clients/:id/summary`, auth, clientSummaryRoute(r));
  router.post(`${api}/clients/:id/deactivate`, auth, clientStatusRoute(r, 'inactive'));
  router.post(`${api}/clients/:id/activate`, auth, clientStatusRoute(r, 'active'));
  router.patch(`${api}/clients/:id`, auth, updateClientRoute(r));
  router.post(`${api}/keys`, auth, issueKeyRoute(r));
  router.get(`${api}/keys`, auth, listKeysRoute(r));
  router.delete(`${api}/keys/:id`, auth, revokeKeyRoute(r));
  router.patch(`${api}/keys/:id`, auth, setKeyExpiryRoute(r));
  router.post(`${api}/keys/:id/rotate`, auth, rotateKeyRoute(r));
  router.get(`${api}/audit`, auth, listAuditRoute(r));
  // tenant users: the provider creates them and deactivates them
  router.get(`${api}/users`, auth, listUsersRoute(r));
  router.post(`${api}/users`, auth, createUserRoute(r));
  router.post(`${api}/users/:id/deactivate`, auth, deactivateUserRoute(r));
  // usage and alerts: what each client and key did, and what looks like abuse
  router.get(`${api}/usage`, auth, usageRoute(r));
  router.get(`${api}/usage/auth-failures`, auth, authFailuresRoute(r));
  router.get(`${api}/alerts`, auth, listAlertsRoute(r));
  router.get(`${api}/alerts/summary`, auth, alertsSummaryRoute(r));
  router.post(`${api}/alerts/:id/ack`, auth, ackAlertRoute(r));
  router.get(`${api}/system`, auth, systemRoute(r));
  router.post(`${api}/jobs/retry`, auth, retryJobsRoute(r));
  router.get(`${api}/dead-letters`, auth, listDeadLettersRoute(r));
  router.get(`${api}/dead-letters/:id`, auth, getDeadLetterRoute(r));
  router.post(`${api}/dead-letters/:id/replay`, auth, replayDeadLetterRoute(r));

  // the request lifecycle ingest-api has too: request id, logger, error answer, metrics, access log
  // (admin answers, key secrets and lists of keys, must never sit in a cache)
  // Postgres unreachable: 503 unavailable, not 500
  app.use(
    koaLifecycle(
      new RequestLifecycle({ log: deps.log, counters: deps.metrics && new RequestCounters(deps.metrics), noStoreUnder: api, unavailable: isUnavailable }),
    ),
  );
  app.use(refuseNulInUrl);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}

function routeDeps(deps: AdminDeps): RouteDeps {
  const { config } = deps;
  const limiter = new LoginLimiter(deps.redis, config.QUEUE_PREFIX, {
    perIp: config.ADMIN_LOGIN_MAX_FAILURES_PER_IP,
    perUser: config.ADMIN_LOGIN_MAX_FAILURES_PER_USER,
    windowMs: config.ADMIN_LOGIN_WINDOW_MS,
  });
  const dummyHash = hashPassword('no user has this password', config.BCRYPT_COST);
  dummyHash.catch(() => {}); // awaited (and rethrown) by the first sign-in with an unknown name
  return { ...deps, limiter, dummyHash, sessionTtlMs: parseDuration(config.ADMIN_SESSION_TTL)! };
}
