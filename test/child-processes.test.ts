// Test support: a spawned process dies with everything it started, and no
// test binds a fixed port (it could not run beside `npm start`).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { killAllChildren, spawnService } from './support/child-processes.js';
import { FREE_PORTS, testEnv } from './support/stack.js';

/** Whether `pid` still runs: a zombie (dead, not yet reaped: in a container nothing may reap orphans) is not running. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('child processes', () => {
  it('killAllChildren kills each child by its process group: its own children too', async () => {
    const proc = spawnService('test/fixtures/spawn-grandchild.mjs', {}, [], []);
    const grandchild = Number(/grandchild (\d+)/.exec(await proc.waitForLine(/grandchild \d+/))![1]);
    expect(alive(grandchild)).toBe(true);
    await killAllChildren();
    expect(proc.child.signalCode).toBe('SIGKILL');
    // the grandchild was in the group: gone too
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
  });

  it('stop() ends the group with SIGTERM', async () => {
    const proc = spawnService('test/fixtures/spawn-grandchild.mjs', {}, [], []);
    const grandchild = Number(/grandchild (\d+)/.exec(await proc.waitForLine(/grandchild \d+/))![1]);
    await proc.stop();
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
  });
});

describe('ports', () => {
  it('every port setting of every app is 0 (a free port) in a test environment', () => {
    expect(Object.keys(FREE_PORTS).sort()).toEqual(['ADMIN_METRICS_PORT', 'ADMIN_PORT', 'INGEST_METRICS_PORT', 'INGEST_PORT', 'WORKER_METRICS_PORT']);
    const env = testEnv({ url: 'postgres://x@127.0.0.1/x', sql: undefined as never, drop: async () => {} });
    for (const name of Object.keys(FREE_PORTS)) expect(env[name]).toBe('0');
  });
});
