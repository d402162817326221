/** kill -9 under write load, then restart: every acknowledged write is still there. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { TestCluster } from '../support/cluster.js';

/** Writes `key:<i>` = `<i>` from `workers` concurrent loops until stopped; records what was acknowledged. */
function writeLoad(client: Cluster, prefix: string, workers: number): { acked: Map<string, string>; stop: () => Promise<void> } {
  const acked = new Map<string, string>();
  let running = true;
  let next = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const i = next++;
      const key = `${prefix}:${i}`;
      try {
        await client.set(key, String(i));
        acked.set(key, String(i));
      } catch {
        // Unacknowledged: the node died mid-request. Nothing is promised for this key.
      }
    }
  });
  return {
    acked,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function assertAllPresent(cluster: TestCluster, acked: Map<string, string>): Promise<void> {
  const client = new Cluster(cluster.startupNodes);
  try {
    const keys = [...acked.keys()];
    const missing: string[] = [];
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const values = await Promise.all(batch.map((k) => client.get(k)));
      batch.forEach((k, j) => {
        if (values[j] !== acked.get(k)) missing.push(`${k}=${values[j]}`);
      });
    }
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${keys.length} acknowledged writes lost`);
  } finally {
    client.disconnect();
  }
}

describe('crash and restart', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('kill -9 of one node under load, then its restart, loses no acknowledged write', async () => {
    const client = new Cluster(cluster.startupNodes, { clusterRetryStrategy: () => 100, maxRedirections: 50, retryDelayOnClusterDown: 100 });
    client.on('error', () => undefined);
    const load = writeLoad(client, 'one', 16);
    await new Promise((r) => setTimeout(r, 2000));
    const victim = cluster.nodes[1]!;
    await victim.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();
    client.disconnect();
    assert.ok(load.acked.size > 200, `only ${load.acked.size} writes acknowledged`);
    victim.start();
    await cluster.waitForNode(victim);
    await assertAllPresent(cluster, load.acked);
  });

  it('kill -9 of every process under load, then a restart of all, loses no acknowledged write', async () => {
    const client = new Cluster(cluster.startupNodes, { clusterRetryStrategy: () => null });
    client.on('error', () => undefined);
    const load = writeLoad(client, 'all', 32);
    await new Promise((r) => setTimeout(r, 2000));
    await Promise.all([...cluster.nodes.map((n) => n.kill('SIGKILL')), cluster.pilot.kill('SIGKILL')]);
    await load.stop();
    client.disconnect();
    assert.ok(load.acked.size > 200, `only ${load.acked.size} writes acknowledged`);
    cluster.pilot.start();
    for (const node of cluster.nodes) node.start();
    for (const node of cluster.nodes) await cluster.waitForNode(node);
    await assertAllPresent(cluster, load.acked);
  });
});
