import type { EventGroup, PersistLogsJob } from './jobs.js';

export interface GroupCommitOptions {
  /** Longest a request's events wait for others before their job is stored; 0 stores each request's job at once. */
  windowMs: number;
  /** A job is stored as soon as it holds this many events. */
  maxEvents: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit at the queue, as databases do at their log: the events of
 * concurrent requests (of any tenants) are gathered for at most `windowMs`
 * into one job, so a stream of single-event requests does not pay for one
 * queue job each. Every request's promise settles with its job: resolved only
 * once Redis stored it, rejected (the same error for all) when it could not be.
 * A request's events are never split across jobs.
 */
export class GroupCommitter {
  private groups: EventGroup[] = [];
  private waiters: Waiter[] = [];
  private events = 0;
  private timer: NodeJS.Timeout | undefined;

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
      else this.timer ??= setTimeout(() => this.commit(), this.options.windowMs);
    });
  }

  /** Stores what is gathered now (also used at shutdown). */
  commit(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.groups.length === 0) return;
    const groups = this.groups;
    const waiters = this.waiters;
    this.onJob?.(groups.length, this.events);
    this.groups = [];
    this.waiters = [];
    this.events = 0;
    this.store({ groups }).then(
      () => { for (const w of waiters) w.resolve(); },
      (err: unknown) => { for (const w of waiters) w.reject(err); },
    );
  }
}
