import type { Limits } from './limits.js';

/**
 * Leased rate-limit tokens: how a process answers most requests of a busy key
 * without a Redis round trip. The script takes a lease from the key's buckets
 * (request tokens; event tokens from the key's, the client's and the day's
 * quota at once; fair-share tokens among those events) exactly as it takes a
 * request's, so the buckets never give out more than they hold: no key is
 * admitted beyond its limits, however many processes lease from it. The cost
 * runs the other way: tokens one process holds are not available to another
 * until spent or given back (after `ms`, or as soon as the holder needs more
 * than it has). A process leases at most `share` of each burst, and no more
 * than the key used in the last `ms`, so an idle key holds nothing.
 */
export interface LeaseOptions {
  /** How long a lease lasts before its unspent tokens go back; 0 turns leasing off. */
  ms: number;
  /** Most of each burst (requests, events) one process may hold, 0..1. */
  share: number;
}

/**
 * The fewest requests worth a lease: a key busy with fewer in a window saves
 * hardly a call by one, and its lease would mostly go back unspent (one more
 * call); with many keys each seldom used, that would cost more than it saves.
 */
const MIN_LEASE_REQUESTS = 4;

/** Numbers per request in the script's answer (see rate-limit.lua). */
export const N = 11;

/** A lease one process holds on one key, and what it has spent of it. */
interface Lease {
  day: string;
  limits: Limits;
  expiresAt: number;
  requests: number;
  events: number;
  fair: number;
  /** The script's answer to the request that took the lease: the state the RateLimit-* headers start from. */
  base: number[];
  spentRequests: number;
  spentEvents: number;
}

/** One key's demand (requests and events in this and the last window) and its lease. */
interface KeyState {
  clientId: string;
  windowStart: number;
  requests: number;
  events: number;
  lastRequests: number;
  lastEvents: number;
  /** A script call asking for a lease is out: ask for no other until it answers. */
  leasing: boolean;
  lease?: Lease;
}

/** Tokens going back to the buckets: requests, events, fair-share tokens among those events. */
export type GiveBack = [number, number, number];

/** An expired lease the sweep gives back. */
export interface Expired {
  keyId: string;
  clientId: string;
  day: string;
  limits: Limits;
  back: GiveBack;
}

export class Leases {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly options: LeaseOptions) {}

  get enabled(): boolean {
    return this.options.ms > 0 && this.options.share > 0;
  }

  /**
   * Counts a request of `keyId` in its demand, then spends it from the key's
   * lease when the lease covers it: the script's answer for it, or undefined
   * (ask Redis). `bulkClosed`: a request that would go to the bulk lane is
   * Redis's to refuse.
   */
  spend(keyId: string, clientId: string, events: number, limits: Limits, day: string, bulkClosed: boolean, now: number): number[] | undefined {
    let k = this.keys.get(keyId);
    if (!k) {
      k = { clientId, windowStart: now, requests: 0, events: 0, lastRequests: 0, lastEvents: 0, leasing: false };
      this.keys.set(keyId, k);
    }
    if (now - k.windowStart >= this.options.ms) {
      const idle = now - k.windowStart >= 2 * this.options.ms;
      k.lastRequests = idle ? 0 : k.requests;
      k.lastEvents = idle ? 0 : k.events;
      k.requests = k.events = 0;
      k.windowStart = now;
    }
    k.requests++;
    k.events += events;
    const l = k.lease;
    if (!l || l.expiresAt <= now || l.day !== day || !sameLimits(l.limits, limits)) return undefined;
    if (l.requests < 1 || l.events < events) return undefined;
    const fast = l.fair >= events;
    if (!fast && bulkClosed && events > 0) return undefined;
    l.requests--;
    l.events -= events;
    if (fast) l.fair -= events;
    l.spentRequests++;
    l.spentEvents += events;
    const b = l.base;
    return [0, b[1]! - l.spentRequests, b[2]! - l.spentEvents, b[3]! + l.spentEvents, 0, 0, b[6]!, b[7]!, b[8]! - l.spentEvents, b[9]!, fast ? 0 : 1];
  }

  /** The unspent rest of the key's lease of `day`, which goes back with the key's next script call; the lease ends. (A lease of another day goes back to that day's counter with the sweep.) */
  takeBack(keyId: string, day: string): GiveBack {
    const k = this.keys.get(keyId);
    const l = k?.lease;
    if (!k || !l || l.day !== day) return [0, 0, 0];
    k.lease = undefined;
    return [l.requests, l.events, l.fair];
  }

  /** The lease to ask for with the key's next script call ([requests, events], zeros for none): what it used in the last window, at most `share` of each burst. */
  want(keyId: string, limits: Limits): [number, number] {
    const k = this.keys.get(keyId);
    if (!this.enabled || !k || k.leasing) return [0, 0];
    const { share } = this.options;
    const requests = Math.min(Math.max(k.lastRequests, k.requests), Math.floor(share * limits.requestBurst));
    const events = Math.min(Math.max(k.lastEvents, k.events), Math.floor(share * Math.min(limits.eventBurst, limits.tenantEventBurst)));
    if (requests < MIN_LEASE_REQUESTS) return [0, 0];
    k.leasing = true;
    return [requests, events];
  }

  /** The script's answer to a call that asked for a lease: `granted` is [requests, events, fair], `base` the answer to the group's last request. */
  granted(keyId: string, day: string, limits: Limits, granted: number[], base: number[] | undefined, now: number): void {
    const k = this.keys.get(keyId);
    if (!k) return;
    k.leasing = false;
    const [requests = 0, events = 0, fair = 0] = granted;
    if (requests < 1 || !base) return;
    k.lease = { day, limits, expiresAt: now + this.options.ms, requests, events, fair, base, spentRequests: 0, spentEvents: 0 };
  }

  /** What this process holds of the key's tokens of `day`: [requests, events]. */
  held(keyId: string, day: string): [number, number] {
    const l = this.keys.get(keyId)?.lease;
    return l && l.day === day ? [l.requests, l.events] : [0, 0];
  }

  /** Events this process holds in leases of `day` of the client's keys. */
  heldByClient(clientId: string, day: string): number {
    let events = 0;
    for (const k of this.keys.values()) if (k.clientId === clientId && k.lease?.day === day) events += k.lease.events;
    return events;
  }

  /** A call that asked for a lease failed: the next may ask again. */
  failed(keyId: string): void {
    const k = this.keys.get(keyId);
    if (k) k.leasing = false;
  }

  /** Leases past their time, taken out to be given back; keys idle for two windows are forgotten. */
  sweep(now: number): Expired[] {
    const expired: Expired[] = [];
    for (const [keyId, k] of this.keys) {
      const l = k.lease;
      if (l && l.expiresAt <= now) {
        k.lease = undefined;
        if (l.requests > 0 || l.events > 0) expired.push({ keyId, clientId: k.clientId, day: l.day, limits: l.limits, back: [l.requests, l.events, l.fair] });
      }
      if (!k.lease && !k.leasing && now - k.windowStart >= 2 * this.options.ms) this.keys.delete(keyId);
    }
    return expired;
  }

  /** Every lease, taken out (on close). */
  all(): Expired[] {
    return this.sweep(Number.POSITIVE_INFINITY);
  }
}

function sameLimits(a: Limits, b: Limits): boolean {
  return (
    a === b ||
    (a.requestsPerSecond === b.requestsPerSecond &&
      a.requestBurst === b.requestBurst &&
      a.eventsPerSecond === b.eventsPerSecond &&
      a.eventBurst === b.eventBurst &&
      a.tenantEventsPerSecond === b.tenantEventsPerSecond &&
      a.tenantEventBurst === b.tenantEventBurst &&
      a.eventsPerDay === b.eventsPerDay)
  );
}
