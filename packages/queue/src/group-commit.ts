import { shardOf, type EventGroup, type PersistLogsJob } from './jobs.js';

export interface GroupCommitOptions {
  /** Longest a request's events wait for others while a job is being stored; 0 stores each request's job at once. */
  windowMs: number;
  /** A job is stored as soon as it holds this many events. */
  maxEvents: number;
}

/** What takes a request's events for the queue: a GroupCommitter, or one per queue shard (ShardedCommitter). */
export interface Committer {
  submit(group: EventGroup): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit at the queue, as databases do at their log: the events of
 * concurrent requests (of any tenants) go into one job, so a stream of
 * single-event requests does not pay for one queue job each. When no job is
 * being stored, what arrived in this turn of the event loop is stored at
 * once; while one is being stored, the next gathers until it is done (or
 * `windowMs` passed, or it holds `maxEvents`). So a request waits at most
 * one store for company, and the busier the service the fuller its jobs.
 * Every request's promise settles with its job: resolved only once Redis
 * stored it, rejected (the same error for all) when it could not be.
 * A request's events are never split across jobs.
 */
export class GroupCommitter implements Committer {
  private groups: EventGroup[] = [];
  private waiters: Waiter[] = [];
  private events = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private storing = 0;

  constructor(
    private readonly store: (job: PersistLogsJob) => Promise<void>,
    private readonly options: GroupCommitOptions,
    private readonly onJob?: (groups: number, events: number) => void,
  ) {}

  submit(group: EventGroup): Promise<void> {
    if (this.events > 0 && this.events + group.events.length > this.options.maxEvents) this.commit();
    return new Promise<void>((resolve, reject) => {
      this.groups.push(group);
      this.waiters.push({ resolve, reject });
      this.events += group.events.length;
      if (this.options.windowMs === 0 || this.events >= this.options.maxEvents) this.commit();
      else if (this.storing === 0) this.immediate ??= setImmediate(() => this.commit());
      else this.timer ??= setTimeout(() => this.commit(), this.options.windowMs);
    });
  }

  /** Stores what is gathered now (also used at shutdown). */
  commit(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.groups.length === 0) return;
    const groups = this.groups;
    const waiters = this.waiters;
    this.onJob?.(groups.length, this.events);
    this.groups = [];
    this.waiters = [];
    this.events = 0;
    this.storing++;
    this.store({ groups }).then(
      () => {
        this.stored();
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        this.stored();
        for (const w of waiters) w.reject(err);
      },
    );
  }

  /** One store is done: what gathered meanwhile goes next, at once. */
  private stored(): void {
    this.storing--;
    if (this.storing === 0 && this.groups.length > 0) this.commit();
  }
}

/**
 * A group committer per queue shard: each request's events go to its
 * tenant's shard (shardOf), so one tenant's jobs stay in one queue, in order,
 * and a job holds the tenants of one shard only.
 */
export class ShardedCommitter implements Committer {
  constructor(private readonly committers: readonly GroupCommitter[]) {}

  submit(group: EventGroup): Promise<void> {
    return this.committers[shardOf(group.client_id, this.committers.length)]!.submit(group);
  }

  /** Stores what every shard's committer gathered, now. */
  commit(): void {
    for (const c of this.committers) c.commit();
  }
}
