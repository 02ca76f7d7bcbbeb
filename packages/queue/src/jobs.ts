import { z } from 'zod';
import { LEVELS } from '@central-logger/events';

/** Queue names. Redis keys are `${QUEUE_PREFIX}:${name}:…`. */
export const QUEUES = { logs: 'logs', logsBulk: 'logs-bulk' } as const;

/**
 * Fair persistence: the lanes of the logs queue. Each lane is a BullMQ queue
 * of its own, consumed by a worker of its own: fast-lane jobs in `logs`
 * (WORKER_CONCURRENCY at once), bulk-lane jobs in `logs-bulk` beside it
 * (BULK_WORKER_CONCURRENCY at once), so bulk jobs can never hold the worker
 * slots fast jobs need. Both share the prefix, so a hash-tagged prefix keeps
 * the pair in one Redis Cluster slot, and each queue shard (shardPrefix) has a pair.
 */
export type QueueLane = 'fast' | 'bulk';
export const QUEUE_LANES: readonly QueueLane[] = ['fast', 'bulk'];

/** The queue of `lane` beside the logs queue named `logsQueue` (default `logs`, `logs-bulk`). */
export function laneQueueName(lane: QueueLane, logsQueue: string = QUEUES.logs): string {
  return lane === 'bulk' ? `${logsQueue}-bulk` : logsQueue;
}

/**
 * The key prefix of queue shard `shard` (QUEUE_SHARDS): shard 0's is the
 * prefix itself, so one shard keeps the names of before; shard n's has the
 * prefix's hash tag suffixed `-n` (`{cl}` → `{cl-1}`), so on a Redis Cluster
 * each shard's queues (both lanes) share one slot and the shards spread over
 * the masters. A prefix without a tag is suffixed `-n`.
 */
export function shardPrefix(prefix: string, shard: number): string {
  if (shard === 0) return prefix;
  const open = prefix.indexOf('{');
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
  return close < 0 ? `${prefix}-${shard}` : `${prefix.slice(0, close)}-${shard}${prefix.slice(close)}`;
}

/** The prefixes of all `shards` queue shards, shard 0 first. */
export function shardPrefixes(prefix: string, shards: number): string[] {
  return Array.from({ length: shards }, (_, i) => shardPrefix(prefix, i));
}

/**
 * The queue shard of a tenant: a stable hash (FNV-1a, 32 bits) of its id
 * modulo the shard count. Every ingest-api computes the same, so one tenant's
 * jobs all go to one shard, in order.
 */
export function shardOf(clientId: string, shards: number): number {
  if (shards <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) {
    h ^= clientId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/**
 * Priority the bulk lane used before it had a queue of its own: such jobs,
 * queued before an upgrade, are still in the fast queue and still bulk.
 */
export const LEGACY_BULK_PRIORITY = 1;

/** The lane of a job: its queue's, or a legacy prioritized job's. */
export function laneOf(job: { queueName: string; opts: { priority?: number } }): QueueLane {
  return job.queueName.endsWith('-bulk') || (job.opts.priority ?? 0) >= LEGACY_BULK_PRIORITY ? 'bulk' : 'fast';
}

/** Job names and their payloads; a payload that fails its schema is never retried. */
export const JOBS = { persistLogs: 'persist-logs' } as const;

export const queuedEvent = z.object({
  event_id: z.string().min(1),
  executed_at: z.iso.datetime(),
  environment: z.string(),
  status: z.string(),
  workflow: z.string().nullable(),
  run_id: z.string().nullable(),
  level: z.enum(LEVELS).nullable(),
  message: z.string().nullable(),
  duration_ms: z.number().nullable(),
  metadata: z.record(z.string(), z.unknown()),
});

/** The events of one accepted request: one tenant, one key, one arrival time. */
export const eventGroup = z.object({
  client_id: z.string().min(1),
  key_id: z.string().min(1),
  received_at: z.iso.datetime(),
  events: z.array(queuedEvent).min(1),
});
export type EventGroup = z.infer<typeof eventGroup>;

/**
 * One job carries the groups of the requests gathered by group commit, of any
 * tenants of one lane (a light tenant's events never ride in a bulk job); every group names its own tenant, and the worker stores each group
 * under its own client_id only. The single-group shape without `groups` is the
 * skeleton's and is still read, so jobs queued before an upgrade are kept.
 */
export const persistLogsJob = z.union([z.object({ groups: z.array(eventGroup).min(1) }), eventGroup]);
export type PersistLogsJob = { groups: EventGroup[] };

/** The groups of a parsed job, whichever shape it came in. */
export function groupsOf(job: z.infer<typeof persistLogsJob>): EventGroup[] {
  return 'groups' in job ? job.groups : [job];
}
