import type { Writable } from 'node:stream';
import { createRedis, type RedisClient as Redis, type RedisTarget } from '@central-logger/redis';
import {
  readTail,
  readTailOnStandby,
  tailStart,
  SNAPSHOT,
  type CursorCodec,
  type ReadRouter,
  type Sql,
  type TailPage,
  type TailPosition,
} from '@central-logger/db';
import { AppError, limitReached } from '@central-logger/errors';
import type { LogFilter } from '@central-logger/events';
import { TailLeases } from './leases.js';
import { tailNames } from './names.js';
import { TailStream, type EndReason } from './stream.js';

export interface TailHubOptions {
  /** Commands (leases, the tailed set): the app's connection, which fails fast when Redis is down. */
  redis: Redis;
  /**
   * Where the subscriber connects, once the first tail opens: REDIS_URL, or the cluster (classic pub/sub reaches
   * every node's subscribers).
   */
  redisTarget: RedisTarget;
  prefix: string;
  /** The read role's pool (row-level security) on the primary: new positions and live reads. */
  readSql: Sql;
  /** With a standby (READ_REPLICA_URL), a resumed stream's catch-up reads go to it while it has replayed far enough. */
  router?: ReadRouter;
  cursors: CursorCodec;
  /** MAX_TAILS_PER_KEY. */
  maxPerKey: number;
  /** MAX_TAILS_PER_CLIENT: the streams of all a client's keys and users together. */
  maxPerClient: number;
  /** TAIL_HEARTBEAT_MS. Default 15,000. */
  heartbeatMs?: number;
  /** TAIL_STALL_MS. Default 30,000. */
  stallMs?: number;
  /** TAIL_BUFFER_BYTES. Default 1 MiB. */
  bufferBytes?: number;
  /** Rows read from Postgres at once (and at most TAIL_BUFFER_BYTES of them). Default 1,000. */
  pageSize?: number;
  /** Reads of one stream start at least this far apart (announcements meanwhile share a read). Default 200. */
  minReadIntervalMs?: number;
  /** Leases and the tailed set outlive a dead process this long. Default 30,000. */
  leaseTtlMs?: number;
  /** The key invalidation channel (packages/keys), and what to forget before rechecking credentials. */
  invalidations?: { channel: string; forget: (what: Record<string, unknown>) => void };
  onError?: (err: Error) => void;
}

export interface TailRequest {
  clientId: string;
  /** The key's id, or the user's: what MAX_TAILS_PER_KEY counts (MAX_TAILS_PER_CLIENT counts by `clientId`). */
  keyId: string;
  userId?: string;
  filter: LogFilter;
  /** Last-Event-ID or ?cursor=, as sent. */
  cursor?: string;
  recheck: () => Promise<AppError | undefined>;
  out: Writable;
}

interface Open {
  stream: TailStream;
  req: TailRequest;
}

const CURSOR_KIND = 'tail';
const MAX_CURSOR_LENGTH = 8192;

/**
 * The live tails of one ingest process. On the first tail of a tenant it
 * subscribes to the tenant's channel and adds the tenant to the tailed set
 * (renewed while tailed, so a dead process's entries expire); the last one
 * leaving undoes both. Workers publish on that channel after committing
 * (TailNotifier), and every stream of the tenant then reads what is new.
 * A revocation, deactivation or role change announced on the key
 * invalidation channel rechecks the credentials of the streams it concerns,
 * which end within a round trip; the heartbeat rechecks all of them too.
 */
export class TailHub {
  private readonly names: ReturnType<typeof tailNames>;
  private readonly leases: TailLeases;
  private readonly byTenant = new Map<string, Set<Open>>();
  private readonly subscribing = new Map<string, Promise<unknown>>();
  private sub: Redis | undefined;
  private subReady: Promise<unknown> | undefined;
  private renewer: NodeJS.Timeout | undefined;
  private closing = false;
  /** Called after every read from Postgres with the rows it got, how long it took, and whether the standby served it (metrics, benches, tests). */
  onRead: ((rows: number, ms: number, standby: boolean) => void) | undefined;
  private readonly o: Required<Omit<TailHubOptions, 'invalidations' | 'router'>> & Pick<TailHubOptions, 'invalidations' | 'router'>;

  constructor(options: TailHubOptions) {
    this.o = {
      heartbeatMs: 15_000,
      stallMs: 30_000,
      bufferBytes: 1024 * 1024,
      pageSize: 1_000,
      minReadIntervalMs: 200,
      leaseTtlMs: 30_000,
      onError: () => {},
      ...options,
    };
    this.names = tailNames(options.prefix);
    this.leases = new TailLeases(options.redis, options.prefix, { perKey: options.maxPerKey, perClient: options.maxPerClient }, this.o.leaseTtlMs);
  }

  /** Open streams (all tenants). */
  get size(): number {
    let n = 0;
    for (const set of this.byTenant.values()) n += set.size;
    return n;
  }

  /** The open streams, for tests and metrics. */
  streams(): TailStream[] {
    return [...this.byTenant.values()].flatMap((set) => [...set].map((o) => o.stream));
  }

  /** The position a cursor names, for this tenant; a 400 when it is not one this API issued to it. */
  decodeCursor(clientId: string, cursor: string): TailPosition {
    const value = cursor.length <= MAX_CURSOR_LENGTH ? this.o.cursors.open(clientId, CURSOR_KIND, cursor) : undefined;
    const position = positionOf(value);
    if (!position) {
      throw new AppError('validation_failed', 'Invalid cursor', {
        details: [
          {
            field: 'cursor',
            message: "is not a live tail position this API issued to this key's tenant (modified, truncated, another tenant's, or a page cursor)",
          },
        ],
      });
    }
    return position;
  }

  encodeCursor(clientId: string, p: TailPosition): string {
    const a = p.after;
    return this.o.cursors.seal(clientId, CURSOR_KIND, a ? [p.seen, p.upTo, a.tx, a.receivedAt, a.executedAt, a.eventId] : p.upTo ? [p.seen, p.upTo] : [p.seen]);
  }

  /**
   * Opens a tail: the cursor is checked (400), the key's and the client's
   * leases taken together (429 past MAX_TAILS_PER_KEY or
   * MAX_TAILS_PER_CLIENT), the tenant subscribed and registered (503 when
   * Redis cannot), and only then the first position taken, so that every row
   * committed after it is announced. Resolves once the stream started.
   */
  async open(req: TailRequest): Promise<TailStream> {
    if (this.closing) throw new AppError('unavailable', 'This process is shutting down; reconnect');
    const from = req.cursor === undefined ? undefined : this.decodeCursor(req.clientId, req.cursor);
    const stream = new TailStream(this.streamOptions(req));
    const taken = await this.leases.take({ clientId: req.clientId, keyId: req.keyId, streamId: stream.id }).catch(unavailable);
    if (taken === 'key_full') throw limitReached(`At most ${this.o.maxPerKey} live tails per key at once; close one first`, this.o.maxPerKey, 5_000);
    // a tenant's keys and users together: each stream reads Postgres on every commit of its tenant, so this bounds what one tenant's tails cost everyone
    if (taken === 'client_full')
      throw limitReached(`At most ${this.o.maxPerClient} live tails per client at once; close one first`, this.o.maxPerClient, 5_000);
    const open: Open = { stream, req };
    let set = this.byTenant.get(req.clientId);
    if (!set) {
      set = new Set();
      this.byTenant.set(req.clientId, set);
    }
    set.add(open);
    void stream.done.then((reason) => this.forget(open, reason));
    let position: TailPosition;
    try {
      await this.watch(req.clientId);
      position = from ?? (await tailStart(this.o.readSql, req.clientId));
    } catch (err) {
      stream.end('unavailable');
      return unavailable(err);
    }
    stream.start(position);
    return stream;
  }

  /** Ends every stream (clients resume elsewhere by cursor) and disconnects. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.streams()) s.end('shutdown');
    clearInterval(this.renewer);
    this.sub?.disconnect();
  }

  private streamOptions(req: TailRequest) {
    // a resumed stream catches up on the standby; live reads (after an announcement) stay on the primary,
    // which has the commit that was announced
    let catchingUp = req.cursor !== undefined && this.o.router?.replica !== undefined;
    return {
      read: async (from: TailPosition, limit: number) => {
        const started = performance.now();
        const bounds = { rows: limit, bytes: this.o.bufferBytes };
        if (catchingUp) {
          const page = await this.catchUp(req, from, bounds);
          if (!page?.more) catchingUp = false;
          if (page) {
            this.onRead?.(page.entries.length, performance.now() - started, true);
            // read again at once, on the primary: what the standby had not replayed yet was announced before this stream
            return { ...page, more: true };
          }
        }
        const page = await readTail(this.o.readSql, req.clientId, req.filter, from, bounds);
        this.onRead?.(page.entries.length, performance.now() - started, false);
        return page;
      },
      idOf: (p: TailPosition) => this.encodeCursor(req.clientId, p),
      recheck: req.recheck,
      out: req.out,
      heartbeatMs: this.o.heartbeatMs,
      stallMs: this.o.stallMs,
      bufferBytes: this.o.bufferBytes,
      pageSize: this.o.pageSize,
      retryMs: 1_000,
      minReadIntervalMs: this.o.minReadIntervalMs,
      onError: this.o.onError,
    };
  }

  /** A catch-up read on the standby; undefined when it is down, failed, or has not replayed far enough. */
  private async catchUp(req: TailRequest, from: TailPosition, limit: { rows: number; bytes: number }): Promise<TailPage | undefined> {
    const server = this.o.router!.choose();
    if (server.sql === this.o.readSql) return undefined;
    try {
      return await readTailOnStandby(server.sql, req.clientId, req.filter, from, limit);
    } catch (err) {
      this.o.onError(err as Error);
      return undefined;
    }
  }

  /** Subscribes to the tenant's channel and registers it as tailed (both once per tenant). */
  private async watch(clientId: string): Promise<void> {
    await this.subscriber();
    let subscribed = this.subscribing.get(clientId);
    if (!subscribed) {
      subscribed = this.sub!.subscribe(this.names.channel(clientId));
      this.subscribing.set(clientId, subscribed);
      subscribed.catch(() => this.subscribing.delete(clientId));
    }
    await subscribed;
    await this.o.redis.zadd(this.names.tailed, Date.now() + this.o.leaseTtlMs, clientId);
  }

  private subscriber(): Promise<unknown> {
    if (this.subReady) return this.subReady;
    const sub = createRedis(this.o.redisTarget, { lazyConnect: true, maxRetriesPerRequest: null });
    this.sub = sub;
    sub.on('error', (err: Error) => this.o.onError(err));
    let connected = false;
    sub.on('ready', () => {
      // announcements sent while disconnected are lost: every stream reads what it may have missed
      if (connected) for (const s of this.streams()) s.notify();
      connected = true;
    });
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    const channels = this.o.invalidations ? [this.o.invalidations.channel] : [];
    this.subReady = sub.connect().then(() => (channels.length > 0 ? sub.subscribe(...channels) : undefined));
    this.subReady.catch(() => {
      this.subReady = undefined;
      this.sub = undefined;
      sub.disconnect();
    });
    this.renewer ??= setInterval(() => this.renew(), Math.max(1_000, Math.floor(this.o.leaseTtlMs / 3)));
    this.renewer.unref();
    return this.subReady;
  }

  private onMessage(channel: string, message: string): void {
    const tenant = this.names.tenantOf(channel);
    if (tenant !== undefined) {
      for (const o of this.byTenant.get(tenant) ?? []) o.stream.notify();
      return;
    }
    if (channel !== this.o.invalidations?.channel) return;
    let what: Record<string, unknown>;
    try {
      const parsed = JSON.parse(message) as unknown;
      what = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : { all: true };
    } catch {
      what = { all: true };
    }
    // the caches first (this connection may hear it before theirs), then the credentials it concerns
    this.o.invalidations!.forget(what);
    for (const set of this.byTenant.values()) {
      for (const { stream, req } of set) {
        if ('all' in what || what.keyId === req.keyId || what.clientId === req.clientId || (req.userId !== undefined && what.userId === req.userId))
          void stream.recheck();
      }
    }
  }

  private forget(open: Open, _reason: EndReason): void {
    const { clientId, keyId } = open.req;
    this.leases.release({ clientId, keyId, streamId: open.stream.id }).catch(() => {});
    const set = this.byTenant.get(clientId);
    if (!set) return;
    set.delete(open);
    if (set.size > 0) return;
    this.byTenant.delete(clientId);
    this.subscribing.delete(clientId);
    this.sub?.unsubscribe(this.names.channel(clientId)).catch(() => {});
    this.o.redis.zrem(this.names.tailed, clientId).catch(() => {});
  }

  private renew(): void {
    const tenants = [...this.byTenant.keys()];
    if (tenants.length === 0) return;
    const until = Date.now() + this.o.leaseTtlMs;
    this.o.redis.zadd(this.names.tailed, ...tenants.flatMap((t) => [until, t])).catch((err: Error) => this.o.onError(err));
    const held = [...this.byTenant.values()].flatMap((set) => [...set].map((o) => ({ clientId: o.req.clientId, keyId: o.req.keyId, streamId: o.stream.id })));
    this.leases.renew(held).catch((err: Error) => this.o.onError(err));
  }
}

function unavailable(err: unknown): never {
  throw new AppError('unavailable', 'The live tail is unavailable right now; retry shortly', { cause: err });
}

/** A decoded cursor's position, checked field by field (it was signed by us, but old versions may differ). */
function positionOf(v: unknown): TailPosition | undefined {
  if (!Array.isArray(v) || v.length < 1 || v.length > 6 || v.length === 3 || v.length === 4 || v.length === 5) return undefined;
  const [seen, upTo, tx, receivedAt, executedAt, eventId] = v as unknown[];
  if (typeof seen !== 'string' || !SNAPSHOT.test(seen)) return undefined;
  if (v.length === 1) return { seen };
  if (typeof upTo !== 'string' || !SNAPSHOT.test(upTo)) return undefined;
  if (v.length === 2) return { seen, upTo };
  const date = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
  if (
    typeof tx !== 'string' ||
    !/^\d{1,20}$/.test(tx) ||
    typeof receivedAt !== 'string' ||
    !date.test(receivedAt) ||
    typeof executedAt !== 'string' ||
    !date.test(executedAt) ||
    typeof eventId !== 'string' ||
    eventId.length > 256
  )
    return undefined;
  return { seen, upTo, after: { tx, receivedAt, executedAt, eventId } };
}
