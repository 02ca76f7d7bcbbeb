/**
 * Configuration: one zod schema per process, parsed once at start-up.
 * Nothing else in the code base reads `process.env`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** Settings every process shares. */
export const baseSchema = z.object({
  /**
   * The file of variables every entry point reads (loadEnvConfig), relative to
   * the working directory; the process's own environment wins over it. `none`
   * reads no file. Default `.env`.
   */
  ENV_FILE: z.string().min(1).default('.env'),
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /**
   * Postgres connection string of the owner role: only `migrate` connects with
   * it. Each process connects as its own role (INGEST_/WORKER_/ADMIN_/READ_DATABASE_URL),
   * by default this URL with that role's user and no password.
   */
  DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/central_logger'),
  /** Postgres pool size per process. */
  DATABASE_POOL_SIZE: positiveInt.default(10),
  /**
   * Password `central-logger migrate` gives the read role central_logger_reader,
   * for servers that do not trust local connections (put it in READ_DATABASE_URL
   * too). Unset: the role keeps whatever it has.
   */
  READER_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  /** Passwords `migrate` gives central_logger_ingest, _worker and _admin, as READER_PASSWORD (put them in the apps' URLs too). */
  INGEST_DB_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  WORKER_DB_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  ADMIN_DB_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
  /**
   * Redis Cluster: some of its nodes, comma-separated `host:port` (or
   * `redis://[user:password@]host:port`); the others are discovered. Set, every
   * Redis connection is a cluster connection and REDIS_URL is not used. Default: unset (one Redis).
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.split(',').map((s) => s.trim()) : undefined))
    .pipe(z.array(z.string().regex(/^(redis:\/\/([^@/]*@)?)?[^:/,@]+:\d{1,5}$/, 'must be host:port, comma-separated')).optional()),
  /** BullMQ key prefix; a hash tag keeps one queue in one Redis Cluster slot. */
  QUEUE_PREFIX: z.string().min(1).default('{cl}'),
  /**
   * Log queues (each a fast and a bulk lane) ingest spreads tenants over, each
   * under a hash tag of its own (`{cl}`, `{cl-1}`, …), so on a Redis Cluster
   * the queues land on different masters. A tenant always goes to the same
   * shard (a hash of its id), so its events keep their order; workers consume
   * every shard. Every ingest-api and worker must have the same value. Default 1.
   */
  QUEUE_SHARDS: z.coerce.number().int().min(1).max(64).default(1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** bcrypt cost for new key hashes (10 ≈ 50 ms a check on this hardware). */
  BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(10),
  /** Longest a process spends shutting down gracefully after SIGTERM before it exits anyway. */
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(25_000),
  /**
   * HMAC secret of the lookup ids of legacy keys (`lgh_…`: keys without a
   * `clk_` public id, imported from a development `.env`). Every process that
   * verifies or imports keys (ingest-api, admin, the CLI) must share it;
   * changing it strands the legacy keys until they are imported again. At
   * least 32 characters; required in production. Default elsewhere: a fixed
   * development value, with a warning (so a development setup needs no secret).
   */
  KEY_LOOKUP_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
});

/**
 * Who issues keys (ingest-api's tenant self-service, the admin app, the CLI)
 * applies the same cap: give all three the same value.
 */
const keysPerClientShape = {
  /**
   * Usable API keys (neither revoked nor expired; a rotated key until its
   * grace ends) one client may hold; a create past it is 409 conflict. What a
   * tenant's keys multiply is bounded per key (live tails, shares of the fair
   * hash queue, rate limits, key cache entries), so their number is bounded
   * too. Admin keys are not counted. Default 100.
   */
  MAX_KEYS_PER_CLIENT: positiveInt.max(100_000).default(100),
};

export const httpSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Trust `X-Forwarded-For`; only behind a proxy that appends to it. */
  TRUST_PROXY: bool.default(false),
  /**
   * With TRUST_PROXY, how many proxies in front append to `X-Forwarded-For`:
   * the client is the entry that many from the right (what the outermost
   * trusted proxy saw); entries left of it are the client's own to choose. Default 1.
   */
  TRUST_PROXY_HOPS: positiveInt.default(1),
  /** Node's `server.requestTimeout`: a whole request must arrive within this. */
  REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  /**
   * How long a verified key's state (revoked, expiry, client active, retention)
   * is trusted when no invalidation arrives; then it is read again with one
   * batched query. The secret itself stays verified (no bcrypt). Default 60,000.
   */
  KEY_CACHE_TTL_MS: positiveInt.default(60_000),
  /** Verified keys each process remembers (LRU); an evicted key is verified again with bcrypt at its next use. Default 100,000. */
  KEY_CACHE_MAX_ENTRIES: positiveInt.default(100_000),
  /**
   * While Postgres cannot answer, a verified key keeps the state last read for
   * it this long after the database last confirmed it (unless an invalidation
   * named it since), so ingest goes on; past it, and for keys not verified by
   * the process, 503 unavailable. 0: no stale state. Default 900,000 (15 min).
   */
  KEY_STATE_STALE_MAX_MS: z.coerce.number().int().min(0).default(900_000),
  // --- API keys ---
  ...keysPerClientShape,
  /** Failed authentications one address may make per window; past it, 429 with Retry-After. Shared by all processes via Redis. */
  AUTH_FAILURE_LIMIT: positiveInt.default(20),
  /**
   * Failed secret checks one key prefix may take per window, from any number
   * of addresses and processes, counted in Redis before bcrypt runs; past it,
   * uses of that prefix not yet verified by a process get 429 without hashing.
   * Default 50.
   */
  AUTH_PREFIX_FAILURE_LIMIT: positiveInt.default(50),
  /** Length of those windows in seconds; a blocked address or prefix waits out the rest of it. */
  AUTH_FAILURE_WINDOW_SECONDS: positiveInt.default(60),
  /** Verifications (lookup + bcrypt) of one key prefix in flight at once per process; beyond, 429 at once, no hashing. Default 2. */
  AUTH_INFLIGHT_PER_PREFIX: positiveInt.default(2),
  /** Verifications from one address in flight at once per process; beyond, 429 at once, no hashing. Default 4. */
  AUTH_INFLIGHT_PER_ADDRESS: positiveInt.default(4),
  /** bcrypt compares at once per process (libuv has 4 threads), at most one per prefix, served round-robin. Default 2. */
  AUTH_HASH_CONCURRENCY: positiveInt.max(4).default(2),
  /** Longest a failed authentication waits in memory before it is written to auth_failures. */
  AUTH_FAILURE_FLUSH_MS: positiveInt.default(1_000),
  /** How often per-key request counts, last_used_at/IP and heartbeats are written; at most 60 s. */
  KEY_USAGE_FLUSH_MS: positiveInt.max(60_000).default(10_000),
  // --- exposure ---
  /** Address the process's own /metrics listener binds, off the public port. Another than loopback needs METRICS_TOKEN. Default 127.0.0.1. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** When set, /metrics wants `Authorization: Bearer <METRICS_TOKEN>`. Unset (default): no token, for a loopback METRICS_HOST. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
});

/**
 * The ingest limits' defaults (per-client overrides: table client_limits). ingest-api
 * applies them; the admin app and the CLI read them too, to show each client's limits and quota.
 */
const limitDefaultsShape = {
  /** Per key: sustained requests per second. Default 200. Per-client overrides: table client_limits. */
  RATE_KEY_REQUESTS_PER_SECOND: z.coerce.number().positive().default(200),
  /** Per key: requests allowed at once above the sustained rate (bucket size). Default 400. */
  RATE_KEY_REQUEST_BURST: positiveInt.default(400),
  /** Per key: sustained events per second. Default 10,000. */
  RATE_KEY_EVENTS_PER_SECOND: z.coerce.number().positive().default(10_000),
  /** Per key: events allowed at once above the sustained rate; should be ≥ MAX_EVENTS_PER_REQUEST. Default 20,000. */
  RATE_KEY_EVENT_BURST: positiveInt.default(20_000),
  /**
   * Per tenant, across all its keys: sustained events per second, so that more keys do not mean more capacity.
   * Above one key's rate, so that one key at its limit is not cut. Default 15,000. Per-client overrides: table client_limits.
   */
  RATE_TENANT_EVENTS_PER_SECOND: z.coerce.number().positive().default(15_000),
  /** Per tenant, across all its keys: events allowed at once above the sustained rate; ≥ RATE_KEY_EVENT_BURST. Default 30,000. */
  RATE_TENANT_EVENT_BURST: positiveInt.default(30_000),
  /** Per tenant: events per UTC day; warnings are recorded at 80% and 100%. Default 50,000,000. */
  RATE_TENANT_EVENTS_PER_DAY: positiveInt.default(50_000_000),
};

/** ingest-api's settings, each with its default; `ingestSchema` adds the checks across settings. */
export const ingestSettingsSchema = baseSchema.extend(httpSchema.shape).extend({
  INGEST_PORT: port.default(8000),
  /** Postgres connection string of ingest-api (role central_logger_ingest). Default: DATABASE_URL with that user and no password. */
  INGEST_DATABASE_URL: z.url().optional(),
  /** Port of ingest-api's /metrics listener on METRICS_HOST (never the public port); 0 picks a free port. Default 8003. */
  INGEST_METRICS_PORT: port.default(8003),
  /** Bytes on the wire (compressed, if gzip) per request. */
  MAX_BODY_BYTES: positiveInt.default(1024 * 1024),
  /** Bytes after decompression per request; a gzip bomb stops here. */
  MAX_DECOMPRESSED_BYTES: positiveInt.default(8 * 1024 * 1024),
  /** Body bytes (after gunzip) the ingest requests of one process may hold at once; past it, 503 unavailable. Default 64 MiB. */
  MAX_INFLIGHT_BODY_BYTES: positiveInt.default(64 * 1024 * 1024),
  /** Body bytes (after gunzip) one client's ingest requests may hold at once in one process; past it, 429 for that client only. Default 16 MiB. */
  MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: positiveInt.default(16 * 1024 * 1024),
  MAX_EVENTS_PER_REQUEST: positiveInt.default(1000),
  /** Serialized size of one event. */
  MAX_EVENT_BYTES: positiveInt.default(64 * 1024),
  MAX_METADATA_DEPTH: positiveInt.default(16),
  /** Events may be dated at most this far in the future. */
  MAX_EVENT_FUTURE_MS: positiveInt.default(24 * 3600 * 1000),
  /** Attempts per queued job; the delay doubles from JOB_BACKOFF_MS (15 from 500 ms ≈ 2.3 h of retrying). */
  JOB_ATTEMPTS: positiveInt.default(15),
  JOB_BACKOFF_MS: positiveInt.default(500),
  /** Longest wait for Redis to store a job before the request is answered 503. */
  ENQUEUE_TIMEOUT_MS: positiveInt.default(2_000),
  /**
   * Answer 202 only once each job reached this many Redis replicas (Redis
   * `WAIT`, on the connection that stored it, bounded by ENQUEUE_TIMEOUT_MS);
   * fewer in time is a 503 (the job may still be stored: the client's retry is
   * deduplicated by event_id). 0: answer once the master stored it. Default 0.
   */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),

  // --- tenant reads ---
  /**
   * Postgres connection string tenant reads run as: the row-level-security
   * role central_logger_reader (migration 020). Default: DATABASE_URL with that
   * user and no password.
   */
  READ_DATABASE_URL: z.url().optional(),
  /** Pool size of the read connection per process. */
  READ_DATABASE_POOL_SIZE: positiveInt.default(10),
  /**
   * A streaming standby of the primary, as central_logger_reader: tenant reads
   * that may lag (list, export, stats, histogram, live-tail catch-up) go there,
   * with its lag in X-Data-Lag-Ms; a lookup by id, keys and writes stay on the
   * primary. While it is down those reads fall back to the primary. Unset: no standby.
   */
  READ_REPLICA_URL: z.url().optional(),
  /** Pool size of the standby's connection per process (READ_REPLICA_URL). */
  READ_REPLICA_POOL_SIZE: positiveInt.default(10),
  /**
   * While the standby's sampled replay lag is above this many ms, the reads
   * READ_REPLICA_URL would serve go to the primary instead; they return once
   * it is back at or under it. 0: no cutoff. Default 30,000.
   */
  READ_REPLICA_MAX_LAG_MS: z.coerce.number().int().min(0).default(30_000),
  /**
   * HMAC secret of the page cursors of GET /api/v1/logs; every ingest-api
   * process must share it. Required in production; elsewhere a random one
   * per process is used when unset.
   */
  CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  // --- live tail (GET /api/v1/logs/tail) ---
  /** Live tails one key (or tenant user) may hold open at once, across every ingest-api process; beyond, 429. Default 5. */
  MAX_TAILS_PER_KEY: positiveInt.max(1000).default(5),
  /**
   * Live tails one client may hold open at once, all its keys and tenant users together, across every ingest-api
   * process; beyond, 429. Each stream reads Postgres on every commit of its tenant (at most every 200 ms), so this
   * bounds what one tenant's tails cost the others. At least MAX_TAILS_PER_KEY. Default 20.
   */
  MAX_TAILS_PER_CLIENT: positiveInt.max(10_000).default(20),
  /** A live tail sends a comment heartbeat this often (and rechecks its credential then). Default 15,000. */
  TAIL_HEARTBEAT_MS: positiveInt.default(15_000),
  /** A live tail whose reader takes nothing for this long while its buffer is full is cut (it resumes by cursor). Default 30,000. */
  TAIL_STALL_MS: positiveInt.default(30_000),
  /** Bytes one live tail may hold for a slow reader before it stops reading new rows. Default 1 MiB. */
  TAIL_BUFFER_BYTES: positiveInt.min(64 * 1024).default(1024 * 1024),
  // --- tenant users and sign-in ---
  /**
   * HS256 secret of the 15-minute access tokens POST /api/v1/auth/login gives
   * tenant users; every ingest-api process must share it. At least 32
   * characters; required in production. Default elsewhere: a fixed development
   * value, with a warning.
   */
  TENANT_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Tenant sign-ins from one address within TENANT_LOGIN_WINDOW_MS before 429 (a right password hands its token back). Default 20, as the admin app's. */
  TENANT_LOGIN_MAX_FAILURES_PER_IP: positiveInt.default(20),
  /** Failed tenant sign-ins for one username within TENANT_LOGIN_WINDOW_MS before 429. Default 5. */
  TENANT_LOGIN_MAX_FAILURES_PER_USER: positiveInt.default(5),
  TENANT_LOGIN_WINDOW_MS: positiveInt.default(15 * 60_000),
  /**
   * How long a console session (the cookie set by POST /api/v1/auth/session) lasts from sign-in; the session
   * lives in Redis and ends sooner on sign-out, or when its user, key or client is deactivated or revoked. Default 8 h.
   */
  CONSOLE_SESSION_TTL_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .max(30 * 24 * 3_600_000)
    .default(8 * 3_600_000),
  // --- throughput, limits and backpressure ---
  /** Group commit: while a job is being stored, the events of the next requests gather for it to be done, but at most this long, into one queue job (0 = a job per request). Default 2. */
  GROUP_COMMIT_MS: z.coerce.number().int().min(0).max(1_000).default(2),
  /** Group commit: a gathered job is stored as soon as it holds this many events; bounds the worker's memory (WORKER_CONCURRENCY jobs in hand). Default 500. */
  GROUP_COMMIT_MAX_EVENTS: positiveInt.default(500),
  ...limitDefaultsShape,
  /**
   * Fair persistence: a tenant's events up to this rate go to the queue's fast lane; the rest of them go to the
   * bulk lane, which workers take only when the fast lane is empty, and which is refused first (429) when it backs up
   * (MAX_BULK_BACKLOG_JOBS). Not a limit: under it nobody is refused. Default 2,000.
   */
  FAIR_SHARE_EVENTS_PER_SECOND: z.coerce.number().positive().default(2_000),
  /** Fair persistence: events a tenant may send at once into the fast lane above FAIR_SHARE_EVENTS_PER_SECOND. Default 10,000. */
  FAIR_SHARE_BURST: positiveInt.default(10_000),
  /** How long a process trusts a client's limit overrides before reading them again. Default 5000. */
  LIMITS_CACHE_TTL_MS: positiveInt.default(5_000),
  /**
   * Leased rate-limit tokens: a busy key's tokens are taken from Redis ahead, for at most this long, and its next
   * requests spend them with no Redis round trip; unspent ones go back when the lease ends. 0 turns leasing off
   * (one script call per event-loop turn). Default 250.
   */
  RATE_LEASE_MS: z.coerce.number().int().min(0).max(10_000).default(250),
  /**
   * Leased rate-limit tokens: the most of each burst (a key's requests and events) one process may hold, and so
   * what a key can be refused early while another process holds it (docs/operations.md). Default 0.1.
   */
  RATE_LEASE_SHARE: z.coerce.number().min(0).max(1).default(0.1),
  /**
   * Usage counts (requests, events, bytes, refusals per key) gather in the process this long before one script call
   * adds them to Redis; 0: every event-loop turn. A process that dies loses at most this long of counts. Default 100.
   */
  USAGE_FLUSH_MS: z.coerce.number().int().min(0).max(60_000).default(100),
  /**
   * Backpressure: ingest answers 503 while more queue jobs than this wait (waiting or delayed for retry, both lanes' queues).
   * A job holds at most GROUP_COMMIT_MAX_EVENTS events (~300 B each in Redis), so 2000 × 500 × 300 B ≈ 300 MB is
   * the worst case this lets Redis hold; keep it well under Redis maxmemory. Default 2000.
   */
  MAX_QUEUE_BACKLOG_JOBS: positiveInt.default(2_000),
  /**
   * Fair persistence: while more jobs than this wait in the bulk lane's queue, a request that would go there (its
   * tenant is over FAIR_SHARE_EVENTS_PER_SECOND) is refused with 429, while tenants within their fair share still get
   * 202 until MAX_QUEUE_BACKLOG_JOBS (both lanes together). Must be below MAX_QUEUE_BACKLOG_JOBS, or the bulk lane
   * would fill the whole backlog and everyone would get 503 first. Default: three quarters of MAX_QUEUE_BACKLOG_JOBS (1,500).
   */
  MAX_BULK_BACKLOG_JOBS: positiveInt.optional(),
  /**
   * Backpressure: 503 once Redis uses this share of its maxmemory (when it has
   * one): with noeviction a full Redis refuses every write. Default 0.9.
   */
  MAX_REDIS_MEMORY_RATIO: z.coerce.number().gt(0).max(1).default(0.9),
  /** Backpressure: the backlog is sampled at most this often. Default 100. */
  BACKLOG_SAMPLE_MS: positiveInt.default(100),
  /** Retry-After (seconds) sent with 503 unavailable. Default 5. */
  UNAVAILABLE_RETRY_AFTER_S: positiveInt.default(5),
});

export const ingestSchema = ingestSettingsSchema
  .superRefine((c, ctx) => {
    if (c.MAX_INFLIGHT_BODY_BYTES_PER_CLIENT > c.MAX_INFLIGHT_BODY_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_INFLIGHT_BODY_BYTES_PER_CLIENT'],
        message: `must be at most MAX_INFLIGHT_BODY_BYTES (${c.MAX_INFLIGHT_BODY_BYTES}): one client could fill the process's budget, and everyone would get 503 before it gets 429`,
      });
    }
    if (c.MAX_INFLIGHT_BODY_BYTES_PER_CLIENT < Math.min(c.MAX_BODY_BYTES, c.MAX_DECOMPRESSED_BYTES)) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_INFLIGHT_BODY_BYTES_PER_CLIENT'],
        message: `must be at least the largest body a request may have (MAX_BODY_BYTES ${c.MAX_BODY_BYTES}, MAX_DECOMPRESSED_BYTES ${c.MAX_DECOMPRESSED_BYTES}), or a body within the limits is refused even alone`,
      });
    }
    if (c.MAX_TAILS_PER_CLIENT < c.MAX_TAILS_PER_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_TAILS_PER_CLIENT'],
        message: `must be at least MAX_TAILS_PER_KEY (${c.MAX_TAILS_PER_KEY}), or a key could never open as many tails as MAX_TAILS_PER_KEY allows it`,
      });
    }
    if (c.MAX_BULK_BACKLOG_JOBS !== undefined && c.MAX_BULK_BACKLOG_JOBS >= c.MAX_QUEUE_BACKLOG_JOBS) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_BULK_BACKLOG_JOBS'],
        message: `must be below MAX_QUEUE_BACKLOG_JOBS (${c.MAX_QUEUE_BACKLOG_JOBS}), or the bulk lane fills the whole backlog and every tenant gets 503 before the one over its fair share gets 429`,
      });
    }
  })
  .transform((c) => ({ ...c, MAX_BULK_BACKLOG_JOBS: c.MAX_BULK_BACKLOG_JOBS ?? Math.floor((c.MAX_QUEUE_BACKLOG_JOBS * 3) / 4) }));

export const workerSchema = baseSchema.extend({
  /** Postgres connection string of the worker (role central_logger_worker). Default: DATABASE_URL with that user and no password. */
  WORKER_DATABASE_URL: z.url().optional(),
  /** Fast-lane jobs (the logs queue) processed at once; their events are written together. Default 64. */
  WORKER_CONCURRENCY: positiveInt.default(64),
  /**
   * Fair persistence: bulk-lane jobs (the logs-bulk queue, events of tenants over their fair share) processed at once,
   * by a worker of their own, so they never hold the slots fast-lane jobs need. More store a heavy tenant faster;
   * fewer leave more of the worker's CPU and of Postgres to the fast lane (under the tenant-flood bench, 4 rather than
   * 8 took another tenant's p99 from 1.5–5.3 s to 0.5–1.1 s). Default 4.
   */
  BULK_WORKER_CONCURRENCY: positiveInt.default(4),
  /** Most events in one INSERT. */
  BATCH_MAX_EVENTS: positiveInt.default(2000),
  /** Longest wait to fill a batch before it is written anyway: a longer wait makes fuller INSERTs, cheaper per row for Postgres, and adds to the lag from 202 to stored. Default 25. */
  BATCH_FLUSH_MS: positiveInt.default(25),
  /** Lock of an in-flight job; a dead worker's jobs come back after about lock + 2 × stalled interval. */
  LOCK_DURATION_MS: positiveInt.default(5_000),
  STALLED_INTERVAL_MS: positiveInt.default(5_000),

  // --- retention ---
  /** How often the maintenance job (partitions ahead, retention) runs; one worker runs each. */
  MAINTENANCE_INTERVAL_MS: positiveInt.default(3_600_000),
  /** Most rows one retention DELETE statement removes, so no transaction grows long. */
  RETENTION_DELETE_BATCH: positiveInt.default(5_000),
  /** Failed-auth and sign-in records, ended admin sessions and acknowledged alerts are kept this many days (the audit log always). */
  SECURITY_RECORDS_RETENTION_DAYS: positiveInt.default(90),
  /** Hourly usage and key address history are kept this many days. */
  USAGE_RETENTION_DAYS: positiveInt.default(400),
  // --- throughput and metrics ---
  /** INSERTs the worker keeps in flight at once (each of up to BATCH_MAX_EVENTS rows); 2 keeps both cores of Postgres busy. Default 2. */
  BATCH_CONCURRENCY: positiveInt.default(2),
  /** Port of the worker's tiny HTTP server (/metrics, /health); 0 picks a free port. Default 8002. */
  WORKER_METRICS_PORT: port.default(8002),
  /** Address the worker's metrics server binds; another than loopback needs METRICS_TOKEN. Default 127.0.0.1. */
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** As for the HTTP apps: when set, the worker's /metrics wants `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: httpSchema.shape.METRICS_TOKEN,

  // --- usage roll-up and alerts ---
  /** How often the usage counters in Redis are rolled up into usage_hourly / key_addresses; one worker runs each. Default 60000. */
  USAGE_ROLLUP_INTERVAL_MS: positiveInt.default(60_000),
  /** Hours back the roll-up reads (the counters live 48 h in Redis); covers a worker outage this long. Default 48. */
  USAGE_ROLLUP_LOOKBACK_HOURS: z.coerce.number().int().min(0).max(48).default(48),
  /** How often the alert rules run. Default 60000. */
  ALERT_EVAL_INTERVAL_MS: positiveInt.default(60_000),
  /** Rules 1–3 (failed auth per address / per key prefix, revoked or expired key in use): sliding window, and one alert per subject per window. Default 600000 (10 min). */
  ALERT_AUTH_WINDOW_MS: positiveInt.default(600_000),
  /** Rule 1: failed authentications (API keys and admin sign-ins) from one address within the window. Default 20. */
  ALERT_ADDRESS_FAILURES: positiveInt.default(20),
  /** Rule 2: failed authentications against one key prefix within the window. Default 10. */
  ALERT_PREFIX_FAILURES: positiveInt.default(10),
  /** Rule 3: attempts with one revoked or expired key within the window. Default 1. */
  ALERT_DEAD_KEY_USES: positiveInt.default(1),
  /** Rule 4: an address counts as new to a key when the key has not used it for this many days. Default 30. */
  ALERT_NEW_ADDRESS_DAYS: positiveInt.default(30),
  /** Rule 5: an hour's requests above this multiple of the key's average hour. Default 10. */
  ALERT_SPIKE_FACTOR: z.coerce.number().positive().default(10),
  /** Rule 5: and at least this many requests in that hour. Default 1000. */
  ALERT_SPIKE_MIN_REQUESTS: positiveInt.default(1000),
  /** Rule 5: the average hour is taken over this many days before. Default 7. */
  ALERT_SPIKE_BASELINE_DAYS: positiveInt.default(7),
  /** Rule 6: a key with no successful request for this many days that is used again. Default 30. */
  ALERT_DORMANT_DAYS: positiveInt.default(30),
  /** Rule 10: a key with no expiry this many days old is due for rotation (info); 0 turns it off. Default 90. */
  ALERT_KEY_ROTATION_DAYS: z.coerce.number().int().min(0).default(90),
  /** New alerts are POSTed here as JSON (`{"type": "alert.raised", "alert": {...}}`); unset = no webhook. */
  ALERT_WEBHOOK_URL: z.url().optional(),
  /** Attempts per webhook delivery; the delay doubles from ALERT_WEBHOOK_BACKOFF_MS (10 from 2 s ≈ 17 min). Default 10. */
  ALERT_WEBHOOK_ATTEMPTS: positiveInt.default(10),
  ALERT_WEBHOOK_BACKOFF_MS: positiveInt.default(2_000),
  /** Longest wait for the webhook to answer one delivery. Default 5000. */
  ALERT_WEBHOOK_TIMEOUT_MS: positiveInt.default(5_000),
});

/** The admin app and the CLI (but `migrate`) connect as central_logger_admin. */
const adminDatabaseShape = {
  /** Postgres connection string of the admin app and the CLI (role central_logger_admin). Default: DATABASE_URL with that user and no password. */
  ADMIN_DATABASE_URL: z.url().optional(),
};

/**
 * `central-logger logs`, `tail` and `ship`: the commands that talk to the
 * ingest API with a key (or a user's access token) and need no database,
 * as the SDK (packages/client) reads them, so that they may sit in .env too.
 * Flags (--url, --api-key, --environment) win over these.
 */
export const apiCliSchema = z.object({
  /** The ingest API, its base URL or its /api/v1/logs URL. */
  LOGGER_API_URL: z.url().optional(),
  /** A key: reader or owner for logs and tail, agent or owner for ship; or a tenant user's access token. */
  LOGGER_API_KEY: z.string().min(1).optional(),
  /** `ship`: environment of the lines that carry none. */
  LOGGER_ENVIRONMENT: z.string().min(1).optional(),
});
export type ApiCliConfig = z.infer<typeof apiCliSchema>;

/** The `central-logger` CLI. */
export const cliSchema = baseSchema.extend(adminDatabaseShape).extend(limitDefaultsShape).extend(keysPerClientShape);

export const adminSchema = baseSchema
  .extend(httpSchema.shape)
  .extend(adminDatabaseShape)
  .extend(limitDefaultsShape)
  .extend({
    ADMIN_PORT: port.default(8001),
    /** Port of the admin app's /metrics listener on METRICS_HOST; 0 picks a free port. Default 8004. */
    ADMIN_METRICS_PORT: port.default(8004),

    // --- admin sign-in and sessions ---
    /** How long an admin session lasts after sign-in, as a duration: `12h`, `30m`, `7d`. Default 12h. */
    ADMIN_SESSION_TTL: z
      .string()
      .regex(/^[1-9]\d{0,5}\s*[smhdw]$/i, 'use a positive number and a unit, e.g. 12h, 30m, 7d')
      .default('12h'),
    /** Failed sign-ins from one address within ADMIN_LOGIN_WINDOW_MS before it gets 429. Default 20. */
    ADMIN_LOGIN_MAX_FAILURES_PER_IP: positiveInt.default(20),
    /** Failed sign-ins for one username within ADMIN_LOGIN_WINDOW_MS before it gets 429. Default 5. */
    ADMIN_LOGIN_MAX_FAILURES_PER_USER: positiveInt.default(5),
    /** Window of the failed sign-in limits. Default 15 minutes. */
    ADMIN_LOGIN_WINDOW_MS: positiveInt.default(15 * 60_000),
  });

export type BaseConfig = z.infer<typeof baseSchema>;
export type HttpConfig = z.infer<typeof httpSchema>;
export type IngestConfig = z.infer<typeof ingestSchema>;
export type WorkerConfig = z.infer<typeof workerSchema>;
export type AdminConfig = z.infer<typeof adminSchema>;
export type CliConfig = z.infer<typeof cliSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment with `schema`; throws a ConfigError listing every problem. */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  // An empty variable means "not set", as in most .env loaders.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return result.data;
}

type Env = Record<string, string | undefined>;

/**
 * How every entry point (the three apps, the CLI, `npm start`) reads its
 * configuration: the variables of the `.env` file in the working directory
 * (ENV_FILE), under the process's environment, parsed with `schema`. So the
 * CLI and the services it manages see the same database as `npm start`.
 */
export function loadEnvConfig<S extends z.ZodType>(schema: S, options: { env?: Env; cwd?: string } = {}): z.infer<S> {
  return loadConfig(schema, withEnvFile(options.env ?? process.env, options.cwd ?? process.cwd()));
}

/**
 * `env` over the variables of its ENV_FILE (`.env`), as Node's own loader
 * (`node --env-file`) reads them. A missing `.env` is no error; a missing
 * file named in ENV_FILE is.
 */
export function withEnvFile(env: Env, cwd: string): Env {
  const named = env.ENV_FILE || undefined;
  if (named === 'none') return env;
  const path = resolve(cwd, named ?? '.env');
  if (!existsSync(path)) {
    if (named) throw new ConfigError([`ENV_FILE: ${path} does not exist`]);
    return env;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`ENV_FILE: ${path} cannot be read (${(err as Error).message})`]);
  }
  return { ...parseEnv(text), ...env };
}

// --- API keys ---
/** `central-logger api-key import --from-env`: the development key map of the first `.env` format. */
export const keyImportSchema = z.object({
  /** JSON object `{"<key>": "<client_id>", ...}`; read from the environment or a .env file. */
  API_KEYS: z.string().optional(),
});

// --- the apps' Node processes ---
/**
 * The V8 flag every app process runs with: the old generation capped at
 * 1 GB. Node sizes the heap from the machine's memory (a 4.3 GB limit on
 * 24 GB), and with a limit that large V8 lets the heap grow under a high
 * allocation rate long before it collects: 242 MB peak RSS for ingest-api
 * under batched load, against 154 MB with this cap (512 MB does no better),
 * for about 5% more CPU per event (bench/ingest, README). The live data is
 * far smaller (a worker holds WORKER_CONCURRENCY jobs of at most
 * GROUP_COMMIT_MAX_EVENTS events). The Dockerfile sets it as NODE_OPTIONS;
 * `npm start` and the benches add it through `appNodeOptions`.
 */
export const APP_HEAP_OPTION = '--max-old-space-size=1024';

/** NODE_OPTIONS for an app process: the operator's, with APP_HEAP_OPTION added unless they set a heap size themselves. */
export function appNodeOptions(nodeOptions: string | undefined): string {
  const own = nodeOptions?.trim() ?? '';
  if (own.includes('--max-old-space-size')) return own;
  return own ? `${own} ${APP_HEAP_OPTION}` : APP_HEAP_OPTION;
}

// --- production ---
/**
 * The shared secrets each process refuses to start without in production
 * (requireProductionSecrets at its start). docker-compose.yml passes each app
 * its own (test/docker-compose.test.ts checks it); the worker needs none, the
 * CLI (run in the admin container) KEY_LOOKUP_SECRET for `api-key import`.
 */
export const PRODUCTION_SECRETS = {
  'ingest-api': ['CURSOR_SECRET', 'KEY_LOOKUP_SECRET', 'TENANT_TOKEN_SECRET'],
  admin: ['KEY_LOOKUP_SECRET'],
  worker: [],
} as const satisfies Record<string, readonly string[]>;

/**
 * The secrets every process of a deployment must share: required in
 * production, where a development default would be public or per-process.
 * Throws one ConfigError listing every one that is missing, so a first
 * production start names them all at once (each service's own loader still
 * picks the development default elsewhere).
 */
export function requireProductionSecrets(config: { NODE_ENV: string } & Record<string, unknown>, names: readonly string[]): void {
  if (config.NODE_ENV !== 'production') return;
  const missing = names.filter((name) => !config[name]);
  if (missing.length > 0) throw new ConfigError(missing.map((name) => `${name}: required in production (a random value, the same on every process)`));
}

/**
 * A secret every process of a deployment shares (`name` in `config`). In
 * production it is required, and `devValue` is refused there: it is public.
 * Elsewhere, when unset, `devValue`, stable across processes and restarts,
 * with a warning saying what it protects (`protects`).
 */
export function sharedSecret(
  config: { NODE_ENV: string } & Record<string, unknown>,
  name: string,
  devValue: string,
  protects: string,
  warn: (message: string) => void = () => {},
): string {
  const secret = config[name];
  if (config.NODE_ENV === 'production') {
    if (typeof secret !== 'string' || !secret)
      throw new ConfigError([`${name}: required in production (a random value of at least 32 characters, the same on every process)`]);
    if (secret === devValue) throw new ConfigError([`${name}: the development value is public; set a random one in production`]);
    return secret;
  }
  if (typeof secret === 'string' && secret) return secret;
  warn(`${name} is not set: ${protects} use the public development secret (required in production)`);
  return devValue;
}
