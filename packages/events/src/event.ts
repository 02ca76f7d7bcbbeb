import { z } from 'zod';

export const LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

/** An event as queued and stored; the tenant and received_at travel with the job. */
export interface QueuedEvent {
  event_id: string;
  executed_at: string;
  environment: string;
  status: string;
  workflow: string | null;
  run_id: string | null;
  level: Level | null;
  message: string | null;
  duration_ms: number | null;
  metadata: Record<string, unknown>;
}

const shortText = (max: number) => z.string().trim().min(1).max(max);

/** The documented event fields; anything else at the top level goes into metadata. */
export const eventSchema = z.looseObject({
  event_id: shortText(128)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  environment: shortText(100),
  executed_at: z.iso.datetime({ offset: true, local: true, message: 'must be an ISO 8601 date-time, e.g. 2026-01-06T12:00:00Z' }),
  status: shortText(64),
  workflow: shortText(256).nullish(),
  run_id: shortText(256).nullish(),
  level: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(LEVELS, { message: `must be one of ${LEVELS.join(', ')}` }))
    .nullish(),
  message: z.string().nullish(),
  duration_ms: z.number().finite().min(0).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

export type EventInput = z.infer<typeof eventSchema>;

// Server-assigned or tenant-defining fields a body may not set.
const DROPPED_FIELDS = new Set(['client_id', 'received_at', 'stored_at']);
const KNOWN_FIELDS = new Set(Object.keys(eventSchema.shape));

/** Turns a valid event into its queued form; `newId` names events sent without an id. */
export function toQueuedEvent(input: EventInput, newId: () => string): QueuedEvent {
  const extra: Record<string, unknown> = {};
  for (const k of Object.keys(input)) {
    if (!KNOWN_FIELDS.has(k) && !DROPPED_FIELDS.has(k)) extra[k] = (input as Record<string, unknown>)[k];
  }
  return {
    event_id: input.event_id ?? newId(),
    executed_at: canonicalTime(input.executed_at),
    environment: input.environment,
    status: input.status,
    workflow: input.workflow ?? null,
    run_id: input.run_id ?? null,
    level: input.level ?? null,
    message: input.message ?? null,
    duration_ms: input.duration_ms ?? null,
    metadata: { ...extra, ...(input.metadata ?? {}) },
  };
}

// already what toISOString() returns: the common case skips a Date
const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** executed_at as UTC ISO 8601 with milliseconds; a local date-time (no offset) is read as UTC. */
function canonicalTime(at: string): string {
  if (CANONICAL.test(at)) return at;
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(at) ? at : `${at}Z`).toISOString();
}
