// The lanes' queues (fair persistence): the failed-job tools and the backlog read both.
import { randomBytes } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BacklogMonitor,
  deleteKeysUnder,
  listFailedJobs,
  LogsProducer,
  openLogsQueues,
  retryFailedJobs,
  shardPrefix,
  type EventGroup,
} from '@central-logger/queue';
import { REDIS_URL } from './support/stack.js';

const prefix = `{t${randomBytes(5).toString('hex')}}`;
let redis: Redis;
let producer: LogsProducer;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  await redis.ping();
  producer = new LogsProducer(redis, prefix, { attempts: 1, backoffMs: 10, timeoutMs: 2_000 });
});
afterAll(async () => {
  await producer?.close();
  await deleteKeysUnder(redis, prefix);
  redis?.disconnect();
});

const group = (clientId: string, n: number): EventGroup => ({
  client_id: clientId,
  key_id: 'key_1',
  received_at: new Date().toISOString(),
  events: Array.from({ length: n }, (_, i) => ({
    event_id: `e${i}`,
    executed_at: new Date().toISOString(),
    environment: 'test',
    status: 'SUCCESS',
    workflow: null,
    run_id: null,
    level: null,
    message: null,
    duration_ms: null,
    metadata: {},
  })),
});

describe('queue lanes', () => {
  it("each lane's jobs go to its own queue; the backlog counts both and the bulk one alone", async () => {
    await producer.enqueue({ groups: [group('light', 1)] }, 'fast');
    for (let i = 0; i < 3; i++) await producer.enqueue({ groups: [group('heavy', 5)] }, 'bulk');
    expect(producer.queue.name).toBe('logs');
    expect(producer.bulkQueue.name).toBe('logs-bulk');
    expect(await producer.queue.getWaitingCount()).toBe(1);
    expect(await producer.bulkQueue.getWaitingCount()).toBe(3);

    const backlog = new BacklogMonitor({ fast: producer.queue, bulk: producer.bulkQueue }, redis, {
      sampleMs: 1,
      maxJobs: 3,
      maxBulkJobs: 2,
      maxMemoryRatio: 1,
    });
    expect(await backlog.sample()).toBe(4);
    expect(backlog.byLane()).toEqual({ fast: 1, bulk: 3 });
    expect(backlog.bulkClosed()).toBe(true);
    expect(backlog.overload()).toBe('backlog');
  });

  it('the failed-job tools (`jobs failed|retry`, alert rule 9) read both queues; retry puts each job back in its own', async () => {
    const queues = openLogsQueues(redis, prefix);
    // every attempt fails (attempts: 1), as with Postgres away longer than the retry schedule
    const connections = queues.map(() => redis.duplicate());
    const workers = queues.map(
      (q, i) =>
        new Worker(
          q.name,
          async () => {
            throw new Error(`${q.name} down`);
          },
          { connection: connections[i]!, prefix, concurrency: 1 },
        ),
    );
    const deadline = Date.now() + 10_000;
    while ((await queues[0]!.getFailedCount()) < 1 || (await queues[1]!.getFailedCount()) < 3) {
      if (Date.now() > deadline) throw new Error('the jobs did not fail');
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(workers.map((w) => w.close()));
    for (const c of connections) c.disconnect();
    const failed = await listFailedJobs(queues, 10);
    expect(failed.count).toBe(4);
    expect(new Set(failed.jobs.map((j) => j.lane))).toEqual(new Set(['fast', 'bulk']));
    expect(failed.jobs.filter((j) => j.lane === 'bulk').every((j) => j.id.startsWith('bulk:') && j.clients[0] === 'heavy')).toBe(true);
    expect(failed.jobs.filter((j) => j.lane === 'fast').every((j) => !j.id.includes(':') && j.clients[0] === 'light')).toBe(true);

    const retried = await retryFailedJobs(queues);
    expect(retried).toBe(failed.count);
    expect(await queues[0]!.getFailedCount()).toBe(0);
    expect(await queues[1]!.getFailedCount()).toBe(0);
    expect((await queues[1]!.getWaiting()).every((j) => j.queueName === 'logs-bulk')).toBe(true);
    await Promise.all(queues.map((q) => q.close()));
  });

  it('names the queue shard of a failed job: each shard numbers its own jobs, so ids alone would collide', async () => {
    const shardedPrefix = `${prefix}-sharded`;
    const queues = openLogsQueues(redis, shardedPrefix, undefined, 2);
    // shard 0's fast lane and shard 1's: one job each, both numbered 1 by their own queue
    const [shard0, , shard1] = queues;
    for (const [q, client] of [
      [shard0!, 'on-shard-0'],
      [shard1!, 'on-shard-1'],
    ] as const) {
      await q.add(
        'persist-logs',
        { groups: [{ client_id: client, key_id: 'k', received_at: new Date().toISOString(), events: [{ event_id: 'e' }] }] },
        { attempts: 1 },
      );
    }
    const connections = [shard0!, shard1!].map(() => redis.duplicate());
    const workers = [shard0!, shard1!].map(
      (q, i) =>
        new Worker(
          q.name,
          async () => {
            throw new Error('down');
          },
          { connection: connections[i]!, prefix: String(q.opts.prefix), concurrency: 1 },
        ),
    );
    const deadline = Date.now() + 10_000;
    while ((await shard0!.getFailedCount()) < 1 || (await shard1!.getFailedCount()) < 1) {
      if (Date.now() > deadline) throw new Error('the jobs did not fail');
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(workers.map((w) => w.close()));
    for (const c of connections) c.disconnect();
    const failed = await listFailedJobs(queues, 10);
    const byClient = Object.fromEntries(failed.jobs.map((j) => [j.clients[0], j]));
    expect(byClient['on-shard-0']).toMatchObject({ id: '1', shard: 0, lane: 'fast' });
    expect(byClient['on-shard-1']).toMatchObject({ id: 's1:1', shard: 1, lane: 'fast' });
    await deleteKeysUnder(redis, shardPrefix(shardedPrefix, 1));
    await Promise.all(queues.map((q) => q.close()));
  });
});
