/**
 * Three pilot processes as one Raft group, nodes that list all three: the cluster forms through whichever
 * replica a node asks first; kill -9 of the leading pilot elects another within seconds with the routing
 * table intact, a node started afterwards joins, and the killed pilot catches up when restarted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { respRequest } from '../../src/client/resp-request.js';
import { freePort } from '../../src/common/free-ports.js';
import { PilotReplicas } from '../../src/common/pilot-replicas.js';
import type { RoutingTable } from '../../src/common/routing.js';
import { leadingPilot, newClusterSecretEnv, pilotView, startPilots, testProcess, waitUntil, type TestPilot, type TestProcess } from '../support/cluster.js';

type TestNode = TestProcess & { port: number };

describe('three pilot replicas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-pilots-'));
  const env = newClusterSecretEnv();
  let pilots: TestPilot[] = [];
  const nodes: TestNode[] = [];
  let replicas: PilotReplicas;

  /** GET through whichever replica leads. */
  const get = async <T>(path: string): Promise<T> => {
    const answer = await replicas.request(path, { method: 'GET', headers: {}, timeoutMs: 5000 });
    assert.equal(answer.status, 200, answer.text);
    return JSON.parse(answer.text) as T;
  };
  const leaderIndex = (): Promise<number> => leadingPilot(pilots);
  const startNode = async (i: number, pilotUrls: string): Promise<TestNode> => {
    const [port, busPort] = [await freePort(), await freePort()];
    const node = Object.assign(
      testProcess(
        `node${i}`,
        ['node', '--port', String(port), '--bus-port', String(busPort), '--metrics-port', '0', '--data-dir', join(dir, `node${i}`), '--pilot', pilotUrls],
        env,
      ),
      { port },
    );
    nodes.push(node);
    node.start();
    await waitUntil(
      `node${i} registered`,
      async () => (await get<{ nodes: { address: string }[] }>('/api/v1/nodes')).nodes.some((n) => n.address === `127.0.0.1:${port}`),
      () => node.log,
    );
    return node;
  };
  const clusterOk = (node: TestNode): Promise<void> =>
    waitUntil(
      `${node.name} cluster_state:ok`,
      async () => String((await respRequest('127.0.0.1', node.port, [['CLUSTER', 'INFO']], 1000))[0]).includes('cluster_state:ok'),
      () => node.log,
    );

  before(async () => {
    pilots = await startPilots(dir, 3, ['--expect-nodes', '3', '--shards-per-node', '2'], env);
    replicas = new PilotReplicas(pilots.map((p) => p.url));
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await Promise.all(pilots.map((p) => p.kill('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('nodes join through any replica; kill -9 of the leader: a new one within seconds, the table intact, a new node joins, the old leader catches up', async (t) => {
    const urls = pilots.map((p) => p.url);
    // Each node lists the replicas starting from another one, so most ask a follower first.
    for (let i = 1; i <= 3; i++) await startNode(i, [...urls.slice(i - 1), ...urls.slice(0, i - 1)].join(','));
    for (const node of nodes) await clusterOk(node);
    // Settled: every shard's leader has been reported by its node.
    await waitUntil('leader reports', async () => (await get<RoutingTable>('/api/v1/routing')).shards.every((s) => s.leaderTerm !== undefined));
    const before = await get<RoutingTable>('/api/v1/routing');
    assert.equal(before.shards.length, 6);

    const killed = await leaderIndex();
    assert.ok(killed >= 0);
    const killedAt = Date.now();
    await pilots[killed]!.kill('SIGKILL');
    await waitUntil(
      'a new pilot leader',
      async () => (await leaderIndex()) >= 0,
      () => pilots.map((p) => p.log).join('\n'),
      10_000,
    );
    const electedMs = Date.now() - killedAt;
    assert.ok(electedMs < 5000, `a new pilot leader took ${electedMs} ms`);
    t.diagnostic(`a new pilot leader serves ${electedMs} ms after kill -9 of the old one`);
    const failedOver = await get<RoutingTable>('/api/v1/routing');
    assert.ok(failedOver.version >= before.version);
    const shape = (t: RoutingTable) => t.shards.map((s) => [s.id, s.start, s.end, s.epoch, s.replicas.join(',')]);
    assert.deepEqual(shape(failedOver), shape(before));
    assert.deepEqual(failedOver.nodes, before.nodes);

    // The dead replica first in its list: the node moves on to the others.
    const late = await startNode(4, [urls[killed]!, ...urls.filter((_, i) => i !== killed)].join(','));
    await clusterOk(late);
    const after = await get<RoutingTable>('/api/v1/routing');
    assert.equal(after.nodes.length, 4);
    assert.deepEqual(shape(after), shape(before));

    const client = new Cluster([{ host: '127.0.0.1', port: late.port }]);
    try {
      assert.equal(await client.set('pilot-failover', 'still-here'), 'OK');
      assert.equal(await client.get('pilot-failover'), 'still-here');
    } finally {
      client.disconnect();
    }

    const leader = pilots[await leaderIndex()]!;
    pilots[killed]!.start();
    await waitUntil(
      'the restarted pilot caught up',
      async () => {
        const [mine, theirs] = await Promise.all([pilotView(pilots[killed]!), pilotView(leader)]);
        return mine.leader === theirs.id && mine.applied_index >= theirs.commit_index && !mine.serving;
      },
      () => pilots[killed]!.log,
      15_000,
    );
    const answered = await fetch(`${pilots[killed]!.url}/api/v1/routing`);
    assert.equal(answered.status, 421);
    assert.equal(((await answered.json()) as { leader: string }).leader, leader.url);
  });
});
