/**
 * The maintenance queue: one repeating job (a BullMQ job scheduler, so one
 * run per interval however many workers there are) that creates partitions
 * ahead and enforces retention.
 */
export const MAINTENANCE = { queue: 'maintenance', job: 'maintenance', scheduler: 'maintenance' } as const;
