import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, ingestSchema, loadConfig, requireProductionSecrets, workerSchema } from '@central-logger/config';

const exec = promisify(execFile);

/** A TCP port nothing listens on right now. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

describe('config', () => {
  it('has working defaults for local development', () => {
    const c = loadConfig(ingestSchema, {});
    expect(c.INGEST_PORT).toBe(8000);
    expect(c.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/central_logger');
    expect(c.TRUST_PROXY).toBe(false);
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig(workerSchema, { DATABASE_URL: 'not a url', BCRYPT_COST: '99', WORKER_CONCURRENCY: '-1', LOG_LEVEL: 'loud' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(problems.sort()).toEqual(['BCRYPT_COST', 'DATABASE_URL', 'LOG_LEVEL', 'WORKER_CONCURRENCY']);
  });

  it('treats empty variables as unset and parses booleans strictly', () => {
    expect(loadConfig(ingestSchema, { INGEST_PORT: '' }).INGEST_PORT).toBe(8000);
    expect(loadConfig(ingestSchema, { TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(() => loadConfig(ingestSchema, { TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
  });

  it('a process with bad config exits at once, listing the problems', async () => {
    const env = { ...process.env, ENV_FILE: 'none', INGEST_PORT: 'eighty', MAX_BODY_BYTES: '0' };
    const res = await exec(process.execPath, ['--conditions=central-logger-source', '--import', 'tsx', 'apps/ingest-api/src/main.ts'], {
      env,
      timeout: 20_000,
    }).catch((e) => e);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/INGEST_PORT/);
    expect(res.stderr).toMatch(/MAX_BODY_BYTES/);
  });
});

describe('preflight (npm start / npm test)', () => {
  it('says in one line per service how to start what is unreachable, without hanging', async () => {
    const env = { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:2' };
    const started = Date.now();
    const res = await exec(process.execPath, ['scripts/preflight.mjs'], { env, timeout: 20_000 }).catch((e) => e);
    expect(res.code).toBe(1);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/Postgres is not reachable at 127\.0\.0\.1:1\. Start it with `docker compose up -d postgres`/);
    expect(lines[1]).toMatch(/Redis is not reachable at 127\.0\.0\.1:2\. Start it with `docker compose up -d redis`/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('starts a local Redis that is installed but not running, on the port REDIS_URL names', async () => {
    const port = await freePort();
    const redis = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      const res = await exec(process.execPath, ['scripts/preflight.mjs'], { env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` }, timeout: 30_000 });
      expect(res.stdout).toContain(`Started a local Redis on port ${port}`);
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
      // BullMQ's keys must never be evicted
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      await redis.call('SHUTDOWN', 'NOSAVE').catch(() => {});
      redis.disconnect();
    }
  });

  it('passes when both answer', async () => {
    const res = await exec(process.execPath, ['scripts/preflight.mjs'], { timeout: 20_000 });
    expect(res.stderr).toBe('');
  });
});

describe('.env.example', () => {
  it('documents every setting of every process', async () => {
    const { readFile } = await import('node:fs/promises');
    const config = await import('@central-logger/config');
    const text = await readFile('.env.example', 'utf8');
    const documented = new Set([...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    // the schemas of settings (ingestSchema's checks across settings wrap ingestSettingsSchema)
    const schemas = Object.entries(config).filter(([name, s]) => name.endsWith('Schema') && 'shape' in (s as object)) as Array<
      [string, { shape: Record<string, unknown> }]
    >;
    expect(schemas.length).toBeGreaterThan(3);
    const missing = schemas.flatMap(([, s]) => Object.keys(s.shape)).filter((k) => !documented.has(k));
    expect([...new Set(missing)]).toEqual([]);
  });

  it('names every shared secret production lacks at once, and asks nothing elsewhere', () => {
    const names = ['CURSOR_SECRET', 'KEY_LOOKUP_SECRET', 'TENANT_TOKEN_SECRET'];
    let error: unknown;
    try {
      requireProductionSecrets({ NODE_ENV: 'production', KEY_LOOKUP_SECRET: 'x'.repeat(32) }, names);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(['CURSOR_SECRET', 'TENANT_TOKEN_SECRET']);
    expect(() => requireProductionSecrets({ NODE_ENV: 'development' }, names)).not.toThrow();
  });
});
