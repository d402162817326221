/**
 * Online splits with real processes: a split under ioredis and node-redis load completes with no client
 * error and no lost write; seed 000's failure scenarios (cancel, a partitioned or crashed target, a buffer
 * timeout, catch-up too slow) each roll back and leave the source whole and serving; repeated splits take
 * the default keyspace to 16 shards with every slot's key still readable.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCluster } from 'redis';
import { keyHashSlot } from '../../src/common/slots.js';
import { respRequest } from '../../src/client/resp-request.js';
import { TestCluster, waitUntil } from '../support/cluster.js';
import { SPLIT_PHASES, startSplit, waitForStatus, type SplitTask } from '../support/splits.js';
import { assertAllReadable, clusterSlots, failoverClient, keysInSlots, keysPerRange, setAll, Writers } from '../support/writers.js';

async function nodeIdOf(port: number): Promise<string> {
  const [info] = await respRequest('127.0.0.1', port, [['INFO', 'server']], 2000);
  return /cleave_node_id:(\S+)/.exec(String(info))![1]!;
}

describe('online split under load (3 nodes, 3 replicas)', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 3, replicas: 3 });
  });
  after(() => cluster?.stop());

  it('completes while ioredis and node-redis write and read the shard: no client error, no lost write', async () => {
    const ranges = await clusterSlots(cluster.nodes[0]!.port);
    const source = ranges.find((r) => r.start === 0)!;
    const client = failoverClient(cluster);
    const preload = keysInSlots('pre', 3000, source.start, source.end);
    await setAll(client, preload, (k) => `v-${k}`);
    const writers = new Writers(client, keysPerRange([source], 64), 8);
    const nodeRedis = createCluster({ rootNodes: cluster.startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
    let nodeRedisOps = 0;
    const nodeRedisErrors: string[] = [];
    let running = true;
    const nodeRedisKeys = keysInSlots('nr', 32, source.start, source.end);
    await nodeRedis.connect();
    const nodeRedisLoop = (async () => {
      for (let n = 0; running; n++) {
        const key = nodeRedisKeys[n % nodeRedisKeys.length]!;
        try {
          await nodeRedis.set(key, String(n));
          await nodeRedis.get(key);
          nodeRedisOps += 2;
        } catch (err) {
          nodeRedisErrors.push((err as Error).message);
        }
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 500));
      const taskId = await startSplit(cluster, 'shard_0001');
      const task = await waitForStatus(cluster, taskId, ['completed', 'failed', 'cancelled']);
      assert.equal(task.status, 'completed', JSON.stringify(task));
      assert.deepEqual(Object.keys(task.phases), SPLIT_PHASES);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      running = false;
      await writers.stop();
      await nodeRedisLoop;
      await nodeRedis.quit();
    }
    assert.equal(writers.errors, 0, 'no error reached ioredis');
    assert.deepEqual(nodeRedisErrors, [], 'no error reached node-redis');
    assert.ok(nodeRedisOps > 0 && writers.acked.size > 0);
    assert.ok((await writers.verify((key) => client.get(key))) > 0);
    await assertAllReadable(client, preload, (k) => `v-${k}`);
    await waitUntil('every node lists 7 slot ranges', async () => (await Promise.all(cluster.nodes.map((n) => clusterSlots(n.port)))).every((r) => r.length === 7));
    client.disconnect();
  });
});

describe('a split resumes after its source leader is killed (3 nodes, 3 replicas)', () => {
  it('the next leader picks it up from the logs: completed, no client error, no lost write', async () => {
    const cluster = await TestCluster.start({ nodes: 3, replicas: 3, extraPilotArgs: ['--split-snapshot-chunk-bytes', '1024'] });
    const client = failoverClient(cluster);
    try {
      const ranges = await clusterSlots(cluster.nodes[0]!.port);
      const source = ranges.find((r) => r.start === 0)!;
      const value = (k: string): string => `v-${k}-${'x'.repeat(1000)}`;
      const preload = keysInSlots('pre', 3000, source.start, source.end);
      await setAll(client, preload, value);
      const writers = new Writers(client, keysPerRange([source], 64), 4);
      let task: SplitTask;
      const victim = cluster.nodes.find((n) => n.port === source.master)!;
      try {
        const taskId = await startSplit(cluster, 'shard_0001');
        await waitForStatus(cluster, taskId, ['snapshot_transfer']);
        await victim.kill('SIGKILL');
        task = await waitForStatus(cluster, taskId, ['completed', 'failed', 'cancelled'], 90_000);
      } finally {
        await writers.stop();
      }
      assert.equal(task.status, 'completed', JSON.stringify(task));
      assert.equal(writers.errors, 0, 'no error reached ioredis');
      await writers.verify((key) => client.get(key));
      await assertAllReadable(client, preload, value);
      victim.start();
      await cluster.waitForNode(victim);
      await waitUntil('every node lists 7 slot ranges', async () => (await Promise.all(cluster.nodes.map((n) => clusterSlots(n.port)))).every((r) => r.length === 7));
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  });
});

describe('split failure scenarios roll back (2 nodes, 1 replica)', () => {
  let cluster: TestCluster;
  let client: ReturnType<typeof failoverClient>;
  let keys: string[];
  // 4000 keys of 1 kB sent in 1 kB chunks: a transfer of seconds, long enough to interfere with.
  const value = (k: string): string => `v-${k}-${'x'.repeat(1000)}`;
  before(async () => {
    // A 1 ms buffer timeout makes every split that reaches buffering roll back.
    cluster = await TestCluster.start({
      nodes: 2,
      replicas: 1,
      extraNodeArgs: ['--enable-debug-command'],
      extraPilotArgs: ['--split-snapshot-chunk-bytes', '1024', '--split-target-timeout-ms', '1500', '--split-buffer-timeout-ms', '1'],
    });
    client = failoverClient(cluster);
    keys = keysInSlots('k', 4000, 0, 4095);
    await setAll(client, keys, value);
  });
  after(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  /** Shard_0001 on node1 splits to node2; the source keeps every key whatever happened. */
  async function assertSourceWhole(): Promise<void> {
    const routing = (await cluster.api('GET', '/api/v1/routing')).json as { shards: { id: string; start: number; end: number; split?: unknown }[] };
    const source = routing.shards.find((s) => s.id === 'shard_0001')!;
    assert.deepEqual([source.start, source.end, source.split], [0, 4096, undefined]);
    assert.equal(routing.shards.length, 4, 'the target left the routing table');
    await assertAllReadable(client, keys, value);
  }

  it('cancel during the snapshot transfer', async () => {
    const taskId = await startSplit(cluster, 'shard_0001', { target_nodes: ['node2'] });
    await waitForStatus(cluster, taskId, ['snapshot_transfer']);
    const cancelled = await cluster.api('DELETE', `/api/v1/splits/${taskId}`);
    assert.equal(cancelled.status, 202);
    const task = await waitForStatus(cluster, taskId, ['cancelled', 'failed', 'completed']);
    assert.equal(task.status, 'cancelled');
    await assertSourceWhole();
    assert.equal((await cluster.api('DELETE', `/api/v1/splits/${taskId}`)).status, 409);
  });

  it('a network partition between source and target past the deadline', async () => {
    const taskId = await startSplit(cluster, 'shard_0001', { target_nodes: ['node2'] });
    await waitForStatus(cluster, taskId, ['snapshot_transfer']);
    const node2 = await nodeIdOf(cluster.nodes[1]!.port);
    const [partitioned] = await respRequest('127.0.0.1', cluster.nodes[0]!.port, [['DEBUG', 'PARTITION', node2]], 2000);
    assert.equal(partitioned, 'OK');
    try {
      const task = await waitForStatus(cluster, taskId, ['failed', 'completed', 'cancelled']);
      assert.equal(task.status, 'failed');
      assert.match(task.reason ?? '', /did not answer/);
    } finally {
      await respRequest('127.0.0.1', cluster.nodes[0]!.port, [['DEBUG', 'HEAL']], 2000);
    }
    await assertSourceWhole();
  });

  it('the target crashes (kill -9) during the transfer', async () => {
    const taskId = await startSplit(cluster, 'shard_0001', { target_nodes: ['node2'] });
    await waitForStatus(cluster, taskId, ['snapshot_transfer']);
    const node2 = cluster.nodes[1]!;
    await node2.kill('SIGKILL');
    const task = await waitForStatus(cluster, taskId, ['failed', 'completed', 'cancelled']);
    assert.equal(task.status, 'failed');
    assert.match(task.reason ?? '', /did not answer/);
    node2.start();
    await cluster.waitForNode(node2);
    await assertSourceWhole();
  });

  it('the buffer times out before the target has caught up', async () => {
    const taskId = await startSplit(cluster, 'shard_0001', { target_nodes: ['node2'] });
    const writers = new Writers(client, [keysInSlots('w', 64, 0, 4095)], 4);
    try {
      const task = await waitForStatus(cluster, taskId, ['failed', 'completed', 'cancelled']);
      assert.equal(task.status, 'failed');
      assert.match(task.reason ?? '', /buffer timeout/);
      assert.ok(task.phases['buffering'] !== undefined, 'it reached buffering');
    } finally {
      await writers.stop();
    }
    assert.equal(writers.errors, 0, 'held writes were answered TRYAGAIN and retried by the client');
    await writers.verify((key) => client.get(key));
    await assertSourceWhole();
  });
});

describe('split failure: catch-up too slow (1 node)', () => {
  it('rolls back when the target still lags past the deadline', async () => {
    const cluster = await TestCluster.start({
      nodes: 1,
      replicas: 1,
      extraPilotArgs: ['--split-catch-up-threshold', '1', '--split-catch-up-deadline-ms', '1', '--split-catch-up-slow-delay', '0'],
    });
    const client = failoverClient(cluster);
    try {
      const writers = new Writers(client, [keysInSlots('w', 256, 0, 8191)], 16);
      let task: SplitTask;
      try {
        await new Promise((r) => setTimeout(r, 300));
        task = await waitForStatus(cluster, await startSplit(cluster, 'shard_0001'), ['failed', 'completed', 'cancelled']);
      } finally {
        await writers.stop();
      }
      assert.equal(task.status, 'failed', JSON.stringify(task));
      assert.match(task.reason ?? '', /catch-up too slow/);
      assert.equal(writers.errors, 0);
      await writers.verify((key) => client.get(key));
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  });
});

describe('repeated splits', () => {
  it('take the default keyspace from 3 to 16 shards; the key of every slot stays readable', async () => {
    const cluster = await TestCluster.start({ nodes: 3, replicas: 1, shardsPerNode: 1 });
    const client = failoverClient(cluster);
    try {
      const perSlot: string[] = [];
      for (let i = 0; perSlot.filter(Boolean).length < 16384; i++) {
        const key = `s${i}`;
        const slot = keyHashSlot(Buffer.from(key));
        perSlot[slot] ??= key;
      }
      await setAll(client, perSlot, (k) => k);
      for (let shards = 3; shards < 16; shards++) {
        const routing = (await cluster.api('GET', '/api/v1/routing')).json as { shards: { id: string; start: number; end: number }[] };
        // The widest shard splits next.
        const widest = [...routing.shards].sort((a, b) => b.end - b.start - (a.end - a.start))[0]!;
        const task = await waitForStatus(cluster, await startSplit(cluster, widest.id), ['completed', 'failed', 'cancelled']);
        assert.equal(task.status, 'completed', JSON.stringify(task));
      }
      await waitUntil('every node lists 16 slot ranges', async () => (await Promise.all(cluster.nodes.map((n) => clusterSlots(n.port)))).every((r) => r.length === 16));
      await assertAllReadable(client, perSlot, (k) => k);
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  });
});
