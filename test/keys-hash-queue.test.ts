// The bcrypt scheduler and the in-flight bounds of the key verifier, alone:
// a flooded owner never holds more than its share, and waiting owners are
// served round-robin, so a newcomer starts next rather than after the flood.
import { describe, expect, it } from 'vitest';
import { FairHashQueue, InFlightBounds } from '@central-logger/keys';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('FairHashQueue', () => {
  it('runs at most `concurrency` tasks, one per owner, and serves waiting owners round-robin', async () => {
    const q = new FairHashQueue(2, 1);
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const task = (name: string) => async () => {
      running++;
      most = Math.max(most, running);
      order.push(name);
      await tick();
      running--;
    };
    const flood = Array.from({ length: 6 }, (_, i) => q.run('flooded', task(`f${i}`)));
    const late = [q.run('a', task('a0')), q.run('b', task('b0'))];
    await Promise.all([...flood, ...late]);
    expect(most).toBe(2);
    // f0 and a0 start at once (one slot each); the flooded owner then takes turns with b, never runs ahead of it
    expect(order.slice(0, 2)).toEqual(['f0', 'a0']);
    expect(order.indexOf('b0')).toBeLessThan(order.indexOf('f2'));
    expect(q.queued).toBe(0);
  });
});

describe('InFlightBounds', () => {
  it('refuses beyond the bound per prefix and per address, and frees on release', () => {
    const b = new InFlightBounds(2, 3);
    const r1 = b.tryAcquire('p', 'x');
    const r2 = b.tryAcquire('p', 'y');
    expect(b.tryAcquire('p', 'z')).toBe('prefix');
    const r3 = b.tryAcquire('q', 'x');
    const r4 = b.tryAcquire('r', 'x');
    expect(b.tryAcquire('s', 'x')).toBe('address');
    for (const r of [r1, r2, r3, r4]) (r as () => void)();
    expect(b.size).toBe(0);
    expect(typeof b.tryAcquire('p', 'x')).toBe('function');
  });
});
