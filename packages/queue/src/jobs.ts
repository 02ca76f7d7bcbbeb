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
 * the pair in one Redis Cluster slot, and each future queue shard gets a pair.
 */
export type QueueLane = 'fast' | 'bulk';
export const QUEUE_LANES: readonly QueueLane[] = ['fast', 'bulk'];

/** The queue of `lane` beside the logs queue named `logsQueue` (default `logs`, `logs-bulk`). */
export function laneQueueName(lane: QueueLane, logsQueue: string = QUEUES.logs): string {
  return lane === 'bulk' ? `${logsQueue}-bulk` : logsQueue;
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
