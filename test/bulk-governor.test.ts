import { afterEach, describe, expect, it } from 'vitest';
import { BulkGovernor } from '../apps/worker/src/bulk-governor.js';

let governor: BulkGovernor | undefined;
afterEach(() => governor?.close());

describe('BulkGovernor (work-conserving fair persistence)', () => {
  it('lets a tenant alone on the service use the whole worker for its bulk lane, and holds it to a few jobs once another tenant is in the fast lane', () => {
    let now = 0;
    const bulkWorker = { concurrency: 4 };
    governor = new BulkGovernor(bulkWorker, { shared: 4, alone: 64, windowMs: 2_000, intervalMs: 60_000, now: () => now });
    expect(bulkWorker.concurrency).toBe(64); // no one seen: nothing to protect

    // the busy tenant's own fair share rides the fast lane: still no one else
    governor.seen('bulk', 'busy');
    governor.seen('fast', 'busy');
    governor.adjust();
    expect(bulkWorker.concurrency).toBe(64);

    // another tenant's events in the fast lane: the bulk lane yields
    now = 500;
    governor.seen('fast', 'quiet');
    governor.adjust();
    expect(bulkWorker.concurrency).toBe(4);

    // the quiet tenant gone for longer than the window: the whole worker again
    now = 2_600;
    governor.seen('bulk', 'busy');
    governor.adjust();
    expect(bulkWorker.concurrency).toBe(64);
  });

  it('counts a tenant that is itself in the bulk lane as the busy one, not as someone to protect', () => {
    let now = 0;
    const bulkWorker = { concurrency: 4 };
    governor = new BulkGovernor(bulkWorker, { shared: 4, alone: 64, intervalMs: 60_000, now: () => now });
    governor.seen('fast', 'a');
    governor.seen('bulk', 'a');
    governor.seen('fast', 'b');
    governor.seen('bulk', 'b');
    governor.adjust();
    expect(bulkWorker.concurrency).toBe(64);
    now = 100;
    governor.seen('fast', 'c');
    governor.adjust();
    expect(bulkWorker.concurrency).toBe(4);
  });
});
