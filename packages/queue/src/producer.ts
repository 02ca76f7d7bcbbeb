import { Queue } from 'bullmq';
import { AppError } from '@central-logger/errors';
import { type RedisClient, waitForReplicas } from '@central-logger/redis';
import { JOBS, laneQueueName, QUEUES, shardPrefixes, type PersistLogsJob, type QueueLane } from './jobs.js';

export interface JobPolicy {
  /** Attempts per job before it is set aside as failed. */
  attempts: number;
  /** First retry delay; doubles each attempt. */
  backoffMs: number;
  /**
   * Longest wait for Redis to store a job before answering 503. A job stored
   * after its request gave up is kept (the client's retry is deduplicated by event_id).
   */
  timeoutMs: number;
  /** Retry-After (seconds) of the 503 answered when a job cannot be stored. Default 5. */
  retryAfterS?: number;
  /** Queue shards (QUEUE_SHARDS): each has both lanes' queues under its own prefix. Default 1. */
  shards?: number;
  /** Replicas a job must reach (Redis WAIT) before `enqueue` resolves, within `timeoutMs`; 0 (default): none. */
  waitReplicas?: number;
}

function unavailable(cause: unknown, retryAfterS = 5): AppError {
  return new AppError('unavailable', 'The queue cannot take events right now; retry later', { headers: { 'Retry-After': String(retryAfterS) }, cause });
}

/** The ingest side of the logs queues: the fast lane's and the bulk lane's, of every queue shard. */
export class LogsProducer {
  /** Shard 0's fast lane (the logs queue); its 'error' listeners hear every other queue's errors too. */
  readonly queue: Queue<PersistLogsJob>;
  /** Shard 0's bulk lane's queue (`<logs>-bulk`, same prefix). */
  readonly bulkQueue: Queue<PersistLogsJob>;
  /** Each lane's queue of each shard, shard 0 first. */
  readonly lanes: Record<QueueLane, Queue<PersistLogsJob>[]>;

  constructor(
    private readonly connection: RedisClient,
    prefix: string,
    private readonly policy: JobPolicy,
    queueName: string = QUEUES.logs,
  ) {
    const prefixes = shardPrefixes(prefix, policy.shards ?? 1);
    const open = (lane: QueueLane) => prefixes.map((p) => new Queue<PersistLogsJob>(laneQueueName(lane, queueName), { connection, prefix: p }));
    this.lanes = { fast: open('fast'), bulk: open('bulk') };
    this.queue = this.lanes.fast[0]!;
    this.bulkQueue = this.lanes.bulk[0]!;
    for (const q of [...this.lanes.fast, ...this.lanes.bulk]) if (q !== this.queue) q.on('error', (err) => this.queue.emit('error', err));
  }

  /** Queue shards. */
  get shards(): number {
    return this.lanes.fast.length;
  }

  /**
   * Resolves only once Redis has stored the job (and, with `waitReplicas`,
   * once that many replicas have it). Any failure becomes a 503:
   * the caller must not answer 202 for events that may not be kept.
   * Job ids are left to BullMQ: an id derived from tenant input would let
   * one tenant's job silently replace another's. A `bulk` job goes to the
   * bulk lane's queue of `shard` (a tenant's: shardOf). (A Redis connection of the bulk lane's own, so fast
   * adds never wait behind big bulk ones on one socket, did not measurably
   * help under the tenant-flood bench; both share one.)
   */
  async enqueue(job: PersistLogsJob, lane: QueueLane = 'fast', shard = 0): Promise<void> {
    // BullMQ waits for a connection that never became ready; do not wait with it
    if (this.connection.status !== 'ready') throw unavailable(new Error(`redis is ${this.connection.status}`), this.policy.retryAfterS);
    const queue = this.lanes[lane][shard];
    if (!queue) throw new Error(`no queue shard ${shard}`);
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.store(queue, job, started),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('enqueue timed out')), this.policy.timeoutMs);
        }),
      ]);
    } catch (cause) {
      throw unavailable(cause, this.policy.retryAfterS);
    } finally {
      clearTimeout(timer);
    }
  }

  private async store(queue: Queue<PersistLogsJob>, data: PersistLogsJob, started: number): Promise<void> {
    const job = await queue.add(JOBS.persistLogs, data, {
      attempts: this.policy.attempts,
      backoff: { type: 'exponential', delay: this.policy.backoffMs },
      // a stored job is deleted at once: its events are in Postgres, and a copy kept in Redis would outlive the
      // tenant's retention and deletions there, and hold Redis memory (1,000 kept bulk jobs of 500 events: ~150 MB)
      removeOnComplete: true,
      // failed jobs are the dead letters: keep them
      removeOnFail: false,
    });
    const replicas = this.policy.waitReplicas ?? 0;
    if (replicas === 0) return;
    // on the connection (a cluster's: the master of the shard's slot) that stored it; what is left of the timeout
    const acked = await waitForReplicas(this.connection, queue.toKey(job.id!), replicas, Math.max(1, this.policy.timeoutMs - (Date.now() - started)));
    if (acked < replicas) throw new Error(`job reached ${acked} of ${replicas} replicas in time`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.lanes.fast, ...this.lanes.bulk].map((q) => q.close()));
  }
}
