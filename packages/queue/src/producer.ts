import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { AppError } from '@central-logger/errors';
import { JOBS, laneQueueName, QUEUES, type PersistLogsJob, type QueueLane } from './jobs.js';

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
}

function unavailable(cause: unknown, retryAfterS = 5): AppError {
  return new AppError('unavailable', 'The queue cannot take events right now; retry later', { headers: { 'Retry-After': String(retryAfterS) }, cause });
}

/** The ingest side of the logs queues: the fast lane's and the bulk lane's. */
export class LogsProducer {
  /** The fast lane (the logs queue); its 'error' listeners hear the bulk queue's errors too. */
  readonly queue: Queue<PersistLogsJob>;
  /** The bulk lane's queue (`<logs>-bulk`, same prefix). */
  readonly bulkQueue: Queue<PersistLogsJob>;

  constructor(
    private readonly connection: Redis,
    prefix: string,
    private readonly policy: JobPolicy,
    queueName: string = QUEUES.logs,
  ) {
    this.queue = new Queue<PersistLogsJob>(laneQueueName('fast', queueName), { connection, prefix });
    this.bulkQueue = new Queue<PersistLogsJob>(laneQueueName('bulk', queueName), { connection, prefix });
    this.bulkQueue.on('error', (err) => this.queue.emit('error', err));
  }

  /**
   * Resolves only once Redis has stored the job. Any failure becomes a 503:
   * the caller must not answer 202 for events that may not be kept.
   * Job ids are left to BullMQ: an id derived from tenant input would let
   * one tenant's job silently replace another's. A `bulk` job goes to the
   * bulk lane's queue. (A Redis connection of the bulk lane's own, so fast
   * adds never wait behind big bulk ones on one socket, did not measurably
   * help under the tenant-flood bench; both share one.)
   */
  async enqueue(job: PersistLogsJob, lane: QueueLane = 'fast'): Promise<void> {
    // BullMQ waits for a connection that never became ready; do not wait with it
    if (this.connection.status !== 'ready') throw unavailable(new Error(`redis is ${this.connection.status}`), this.policy.retryAfterS);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (lane === 'bulk' ? this.bulkQueue : this.queue).add(JOBS.persistLogs, job, {
          attempts: this.policy.attempts,
          backoff: { type: 'exponential', delay: this.policy.backoffMs },
          removeOnComplete: { count: 1000 },
          // failed jobs are the dead letters: keep them
          removeOnFail: false,
        }),
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

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.bulkQueue.close()]);
  }
}
