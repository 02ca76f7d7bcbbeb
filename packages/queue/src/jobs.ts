import { z } from 'zod';
import { LEVELS } from '@central-logger/events';

/** Queue names. Redis keys are `${QUEUE_PREFIX}:${name}:…`. */
export const QUEUES = { logs: 'logs' } as const;

/**
 * Fair persistence: the lanes of the logs queue. Fast-lane jobs wait in
 * BullMQ's wait list; bulk-lane jobs are added with priority BULK_PRIORITY,
 * and BullMQ takes a prioritized job only when the wait list is empty. One
 * queue (per future shard) holds both, so retries, stalled-job recovery and
 * the failed-job tools work as before.
 */
export type QueueLane = 'fast' | 'bulk';
export const BULK_PRIORITY = 1;

/** The lane a job was added to. */
export function laneOf(job: { opts: { priority?: number } }): QueueLane {
  return (job.opts.priority ?? 0) > 0 ? 'bulk' : 'fast';
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
