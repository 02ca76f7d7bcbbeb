import type { LogEvent } from './options.js';

/**
 * Why events were not delivered: `code` is the service's error code (e.g.
 * `invalid_api_key`, `validation_failed`), or one of the client's own:
 * `buffer_full` (dropped by the bound), `invalid_event` (could not be sent as
 * JSON or lacks a required field), `gave_up` (every attempt failed),
 * `closed` (logged after close or left when close timed out), `exit` (the
 * process exited with them unsent).
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    /** The events concerned (for `buffer_full`, the first one dropped in the episode). */
    readonly events: LogEvent[],
    readonly code: string,
    /** The HTTP status, when the service answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
