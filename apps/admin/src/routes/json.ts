import type { ClientOverview } from '../store/client-overview.js';

/** The API speaks snake_case, as the ingest API does. */
export function clientJson(c: ClientOverview) {
  return {
    id: c.id,
    name: c.name,
    status: c.isActive ? 'active' : 'inactive',
    created_at: c.createdAt,
    deactivated_at: c.deactivatedAt,
    last_heartbeat_at: c.lastHeartbeatAt,
    keys: c.keys,
    /** By event time (executed_at): stored logs that say they ran in the last 24 h. */
    events_last_24h: c.eventsLast24h,
    /** By arrival time (received at ingest), as the usage charts count. */
    accepted_last_24h: c.acceptedLast24h,
  };
}
