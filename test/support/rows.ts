import { randomUUID } from 'node:crypto';
import type { LogRow } from '@central-logger/db';
import type { QueuedEvent } from '@central-logger/events';

/** A valid event as the ingest API queues it; `overrides` replace any field. */
export function queuedEvent(overrides: Partial<QueuedEvent> = {}): QueuedEvent {
  return {
    event_id: `e_${randomUUID()}`,
    executed_at: new Date().toISOString(),
    environment: 'test',
    status: 'SUCCESS',
    workflow: null,
    run_id: null,
    level: null,
    message: null,
    duration_ms: null,
    metadata: {},
    ...overrides,
  };
}

/** A row as the worker inserts it: an event with its tenant and arrival time. */
export function logRow(clientId: string, overrides: Partial<LogRow> = {}): LogRow {
  return { ...queuedEvent(), client_id: clientId, received_at: new Date().toISOString(), ...overrides };
}
