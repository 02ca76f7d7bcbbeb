// A Redis Cluster of a test's own: 3 masters and 3 replicas, each a
// `redis-server --cluster-enabled yes` on free ports (client and bus) with its
// own data directory in a temporary directory, joined by `redis-cli --cluster
// create`. Each server runs in a process group of its own (spawnTracked), so
// a failed test leaves none behind (child-cleanup.ts).
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signalGroup, spawnTracked } from './child-processes.js';
import { freePort } from './private-services.js';

const run = promisify(execFile);

export interface ClusterNodeProcess {
  port: number;
  child: ChildProcess;
}

export interface LocalCluster {
  /** `127.0.0.1:port` of every node: REDIS_CLUSTER_NODES. */
  nodes: string[];
  /** REDIS_CLUSTER_NODES's value. */
  env: string;
  /** Ports of the nodes that are masters now (CLUSTER NODES, as a live node sees it). */
  masters(): Promise<number[]>;
  /** The port of the master serving `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** The slot of `key`, and the first slot of the range its master serves now. */
  slotOf(key: string): Promise<{ slot: number; rangeStart: number }>;
  /** The node id of the node on `port`. */
  nodeId(port: number): Promise<string>;
  /** The port of a replica of the master on `port`. */
  replicaOf(port: number): Promise<number>;
  /** Runs redis-cli against a live node; resolves with its output. */
  cli(args: string[], timeoutMs?: number): Promise<string>;
  /** Stops (SIGSTOP) or resumes (SIGCONT) one node's process: a node that hangs. */
  pause(port: number, paused: boolean): void;
  /** Kills one node at once (SIGKILL, as a crash). */
  kill(port: number): Promise<void>;
  /** Waits until every live node reports cluster_state:ok and every slot has a master. */
  waitOk(timeoutMs?: number): Promise<void>;
  destroy(): Promise<void>;
}

/** Ports where p and its bus port are both free. */
async function nodePorts(n: number): Promise<Array<{ port: number; bus: number }>> {
  const ports: Array<{ port: number; bus: number }> = [];
  const used = new Set<number>();
  while (ports.length < n) {
    const port = await freePort();
    const bus = await freePort();
    if (port === bus || used.has(port) || used.has(bus)) continue;
    used.add(port).add(bus);
    ports.push({ port, bus });
  }
  return ports;
}

export async function startLocalCluster(options: { appendfsync?: 'always' | 'everysec' | 'no'; nodeTimeoutMs?: number } = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'cl-cluster-'));
  const ports = await nodePorts(6);
  const nodes = new Map<number, ClusterNodeProcess>();
  const dead = new Set<number>();
  for (const { port, bus } of ports) {
    const data = join(dir, String(port));
    mkdirSync(data);
    const child = spawnTracked(
      'redis-server',
      [
        '--port',
        String(port),
        '--cluster-port',
        String(bus),
        '--bind',
        '127.0.0.1',
        '--dir',
        data,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(options.nodeTimeoutMs ?? 2_000),
        // a replica the fault tests cut off on purpose must still take over: by default one whose link was down
        // longer than 10 node timeouts (here a few seconds of a loaded machine) refuses to, and no master returns
        '--cluster-replica-validity-factor',
        '0',
        '--appendonly',
        'yes',
        '--appendfsync',
        options.appendfsync ?? 'everysec',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        // DEBUG SLEEP makes a replica lag on purpose (the fault tests)
        '--enable-debug-command',
        'local',
      ],
      { stdio: 'pipe' },
    );
    nodes.set(port, { port, child });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server on ${port} did not start`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`redis-server on ${port} exited with ${code}`)));
    });
    child.stdout!.resume();
  }
  const addresses = ports.map(({ port }) => `127.0.0.1:${port}`);
  // the first three become masters, each of the others a replica of one of them
  await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 });

  const live = () => [...nodes.keys()].filter((p) => !dead.has(p));
  const cliOn = async (port: number, args: string[], timeoutMs = 30_000) =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: timeoutMs })).stdout;
  const cli = (args: string[], timeoutMs?: number) => cliOn(live()[0]!, args, timeoutMs);

  const clusterNodes = async () => {
    const out = await cli(['cluster', 'nodes']);
    return out
      .trim()
      .split('\n')
      .map((line) => {
        const [, address, flags, , , , , state, ...slots] = line.split(' ');
        const [id, , , master] = line.split(' ');
        return { id: id!, master: master!, port: Number(address!.split('@')[0]!.split(':')[1]), flags: flags!.split(','), state, slots };
      });
  };
  const serving = async (key: string) => {
    const slot = Number((await cli(['cluster', 'keyslot', key])).trim());
    for (const n of await clusterNodes()) {
      if (!n.flags.includes('master') || n.flags.includes('fail')) continue;
      for (const range of n.slots) {
        if (range.startsWith('[')) continue;
        const [a, b] = range.split('-').map(Number);
        if (slot >= a! && slot <= (b ?? a!)) return { port: n.port, slot, rangeStart: a! };
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  };
  const masters = async () =>
    (await clusterNodes()).filter((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.length > 0).map((n) => n.port);

  const cluster: LocalCluster = {
    nodes: addresses,
    env: addresses.join(','),
    masters,
    async masterOf(key) {
      return (await serving(key)).port;
    },
    async slotOf(key) {
      const { slot, rangeStart } = await serving(key);
      return { slot, rangeStart };
    },
    async nodeId(port) {
      const n = (await clusterNodes()).find((x) => x.port === port);
      if (!n) throw new Error(`no node on ${port}`);
      return n.id;
    },
    async replicaOf(port) {
      const all = await clusterNodes();
      const master = all.find((x) => x.port === port);
      const replica = all.find((x) => x.master === master?.id && !x.flags.includes('fail'));
      if (!replica) throw new Error(`no replica of ${port}`);
      return replica.port;
    },
    cli,
    pause(port, paused) {
      const node = nodes.get(port);
      if (!node) throw new Error(`no node on ${port}`);
      signalGroup(node.child, paused ? 'SIGSTOP' : 'SIGCONT');
    },
    async kill(port) {
      const node = nodes.get(port);
      if (!node) throw new Error(`no node on ${port}`);
      dead.add(port);
      const c = node.child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      signalGroup(c, 'SIGKILL');
      await exited;
    },
    async waitOk(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const states = await Promise.all(live().map((p) => cliOn(p, ['cluster', 'info'], 5_000)));
          if (states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'))) {
            const ms = await masters();
            if (ms.every((p) => !dead.has(p))) return;
          }
        } catch {
          // a node still starting or just killed
        }
        if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async destroy() {
      for (const port of live()) cluster.pause(port, false);
      for (const port of live()) await cluster.kill(port).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.waitOk();
    // and every replica has synced with its master: until then WAIT (REDIS_WAIT_REPLICAS) acknowledges nothing,
    // and a test that loads the cluster at once saw only 503s on a busy machine
    const deadline = Date.now() + 30_000;
    for (;;) {
      const replicas = (await clusterNodes()).filter((n) => n.flags.includes('slave')).map((n) => n.port);
      const infos = await Promise.all(replicas.map((p) => cliOn(p, ['info', 'replication'], 5_000).catch(() => '')));
      if (replicas.length > 0 && infos.every((i) => i.includes('master_link_status:up'))) break;
      if (Date.now() > deadline) throw new Error('the replicas did not sync with their masters');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}
