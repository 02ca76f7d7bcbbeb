import type { Sql } from '@central-logger/db';
import { PeriodicWriter } from './buffered.js';

interface KeyUse {
  requests: number;
  lastUsedAt: Date;
  lastIp: string;
}

export interface UsageTrackerOptions {
  /** How often usage is written. Default 10 s; the promise is "current within 60 s". */
  flushMs?: number;
  onError?: (err: Error) => void;
}

/**
 * Per-key request counts, `last_used_at` and last IP, and each client's last
 * heartbeat, added up in memory and written in one UPDATE … FROM unnest per
 * table every `flushMs`: no database write per request. A failed write is
 * merged back and retried with the next one.
 */
export class UsageTracker {
  private keys = new Map<string, KeyUse>();
  private heartbeats = new Map<string, Date>();
  private readonly writer: PeriodicWriter;

  constructor(
    private readonly sql: Sql,
    options: UsageTrackerOptions = {},
  ) {
    this.writer = new PeriodicWriter(options.flushMs ?? 10_000, () => this.write(), options.onError ?? (() => {}));
  }

  recordUse(keyId: string, address: string, at = new Date()): void {
    const use = this.keys.get(keyId);
    if (use) {
      use.requests++;
      use.lastUsedAt = at;
      use.lastIp = address;
    } else {
      this.keys.set(keyId, { requests: 1, lastUsedAt: at, lastIp: address });
    }
  }

  recordHeartbeat(clientId: string, at = new Date()): void {
    this.heartbeats.set(clientId, at);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  private async write(): Promise<void> {
    const keys = this.keys;
    const heartbeats = this.heartbeats;
    this.keys = new Map();
    this.heartbeats = new Map();
    try {
      await this.writeKeys(keys);
    } catch (err) {
      this.mergeBack(keys, heartbeats);
      throw err;
    }
    try {
      await this.writeHeartbeats(heartbeats);
    } catch (err) {
      this.mergeBack(new Map(), heartbeats);
      throw err;
    }
  }

  private async writeKeys(keys: Map<string, KeyUse>): Promise<void> {
    if (keys.size === 0) return;
    const uses = [...keys];
    await this.sql`
      update api_keys k set
        request_count = k.request_count + u.requests,
        last_used_at = greatest(k.last_used_at, u.at),
        last_used_ip = case when k.last_used_at is null or u.at >= k.last_used_at then u.ip else k.last_used_ip end
      from unnest(
        ${uses.map(([id]) => id)}::text[], ${uses.map(([, u]) => u.requests)}::bigint[],
        ${uses.map(([, u]) => u.lastUsedAt.toISOString())}::timestamptz[], ${uses.map(([, u]) => u.lastIp)}::text[]
      ) as u(id, requests, at, ip)
      where k.id = u.id`;
  }

  private async writeHeartbeats(heartbeats: Map<string, Date>): Promise<void> {
    if (heartbeats.size === 0) return;
    const beats = [...heartbeats];
    await this.sql`
      update clients c set last_heartbeat_at = greatest(c.last_heartbeat_at, u.at)
      from unnest(${beats.map(([id]) => id)}::text[], ${beats.map(([, at]) => at.toISOString())}::timestamptz[]) as u(id, at)
      where c.id = u.id`;
  }

  private mergeBack(keys: Map<string, KeyUse>, heartbeats: Map<string, Date>): void {
    for (const [id, use] of keys) {
      const now = this.keys.get(id);
      if (now) now.requests += use.requests;
      else this.keys.set(id, use);
    }
    for (const [id, at] of heartbeats) if (!this.heartbeats.has(id)) this.heartbeats.set(id, at);
  }
}
