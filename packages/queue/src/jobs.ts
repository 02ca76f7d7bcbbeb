import { z } from 'zod';
import { LEVELS } from '@central-logger/events';

/** Queue names. Redis keys are `${QUEUE_PREFIX}:${name}:…`. */
export const QUEUES = { logs: 'logs' } as const;

/** Job names and their payloads; a payload that fails its schema is never retried. */
export const JOBS = { persistLogs: 'persist-logs' } as const;

const queuedEvent = z.object({
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

/** One job carries the events of one or more accepted requests of one tenant. */
export const persistLogsJob = z.object({
  client_id: z.string().min(1),
  key_id: z.string().min(1),
  received_at: z.iso.datetime(),
  events: z.array(queuedEvent).min(1),
});
export type PersistLogsJob = z.infer<typeof persistLogsJob>;
