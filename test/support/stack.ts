import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { adminSchema, ingestSchema, ingestSettingsSchema, loadConfig, workerSchema, type IngestConfig, type WorkerConfig } from '@central-logger/config';
import { createClient, type Sql } from '@central-logger/db';
import { portOf } from '@central-logger/http';
import { createKey, type KeyRecord, type Role } from '@central-logger/keys';
import { deleteKeysUnder, QUEUES } from '@central-logger/queue';
import { startIngestApi, type IngestOptions, type IngestService } from '../../apps/ingest-api/src/service.js';
import { startWorker, type WorkerService } from '../../apps/worker/src/service.js';
import type { TestDatabase } from './db.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Every port the apps' configuration has (HTTP and metrics listeners), at 0:
 * a free port each, so no test collides with a running `npm start` or with
 * another test. Read from the config schemas, so a new port setting is
 * covered without a change here.
 */
export const FREE_PORTS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(
    [ingestSettingsSchema, workerSchema, adminSchema]
      .flatMap((schema) => Object.keys(schema.shape))
      .filter((name) => name.endsWith('_PORT'))
      .map((name) => [name, '0']),
  ),
);

/**
 * Environment for one test file: its own database and queue prefix, quiet logs, cheap bcrypt.
 * DATABASE_URL is the owner's; each app derives its own role's URL from it (migration 090),
 * as it does by default in production, so every test runs the apps under their grants.
 */
export function testEnv(db: TestDatabase, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: `{t${randomBytes(5).toString('hex')}}`,
    LOG_LEVEL: 'silent',
    BCRYPT_COST: '4',
    ...FREE_PORTS,
    DATABASE_POOL_SIZE: '4',
    ...extra,
  };
}

export interface Stack {
  env: Record<string, string>;
  ingestConfig: IngestConfig;
  workerConfig: WorkerConfig;
  ingest: IngestService;
  worker: WorkerService | undefined;
  baseUrl: string;
  /** The logs queue (the fast lane), for inspection. */
  queue: Queue;
  /** The bulk lane's queue (logs-bulk), for inspection. */
  bulkQueue: Queue;
  /** True when no job of either lane is waiting, delayed or running. */
  drained(): Promise<boolean>;
  close(): Promise<void>;
}

export interface StackOptions extends Pick<IngestOptions, 'log' | 'now'> {
  /** Start a worker too (default true). */
  worker?: boolean;
}

/** Starts ingest-api (on a free port) and, unless told not to, a worker, in this process. */
export async function startStack(db: TestDatabase, extra: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const env = testEnv(db, extra);
  const ingestConfig = loadConfig(ingestSchema, env);
  const workerConfig = loadConfig(workerSchema, env);
  const ingest = await startIngestApi(ingestConfig, { ...(options.log ? { log: options.log } : {}), ...(options.now ? { now: options.now } : {}) });
  const worker = options.worker === false ? undefined : await startWorker(workerConfig);
  const queueConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.logs, { connection: queueConnection, prefix: env.QUEUE_PREFIX });
  const bulkQueue = new Queue(QUEUES.logsBulk, { connection: queueConnection, prefix: env.QUEUE_PREFIX });
  return {
    env,
    ingestConfig,
    workerConfig,
    ingest,
    worker,
    baseUrl: `http://127.0.0.1:${portOf(ingest.server)}`,
    queue,
    bulkQueue,
    async drained() {
      const counts = await Promise.all([queue, bulkQueue].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')));
      return counts.every((c) => Object.values(c).every((n) => n === 0));
    },
    async close() {
      await ingest.close();
      await worker?.close();
      await queue.close();
      await bulkQueue.close();
      queueConnection.disconnect();
      await deleteRedisKeys(env.QUEUE_PREFIX!);
    },
  };
}

/** Removes every Redis key under a test's queue prefix. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await deleteKeysUnder(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export interface Tenant {
  clientId: string;
  key: string;
  record: KeyRecord;
}

/** A new client with one key of `role`. */
export async function createTenant(sql: Sql, role: Exclude<Role, 'admin'> = 'agent', name = 'test'): Promise<Tenant> {
  const clientId = `${name}_${randomBytes(4).toString('hex')}`;
  await createClient(sql, clientId, name);
  const { key, record } = await createKey(sql, { name: `${name} key`, role, clientId, bcryptCost: 4 });
  return { clientId, key, record };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { environment: 'test', executed_at: new Date().toISOString(), status: 'SUCCESS', workflow: 'wf', message: 'hello', ...overrides };
}

export async function postLogs(
  baseUrl: string,
  key: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${baseUrl}/api/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}), ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
