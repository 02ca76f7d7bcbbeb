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
    events_last_24h: c.eventsLast24h,
  };
}

