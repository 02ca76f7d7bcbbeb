import type { KeyRecord } from '@central-logger/keys';
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

/** A key as listed: prefix, never the secret or its hash. */
export function keyJson(k: KeyRecord) {
  return {
    id: k.id,
    prefix: k.prefix,
    name: k.name,
    role: k.role,
    client_id: k.clientId,
    status: k.status,
    created_at: k.createdAt,
    last_used_at: k.lastUsedAt,
    last_used_ip: k.lastUsedIp,
    expires_at: k.expiresAt,
    revoked_at: k.revokedAt,
  };
}
