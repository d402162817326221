/**
 * The pilot's internal API against a real cluster: without the cluster secret nothing gets in, and a
 * holder of the secret can neither move a node to its own address nor pin a shard's leader with a forged
 * term.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { respRequest } from '../../src/client/resp-request.js';
import { TestCluster } from '../support/cluster.js';

/** Every port CLUSTER SLOTS on `port` names, in its answer's order. */
async function slotPorts(port: number): Promise<number[]> {
  const [slots] = await respRequest('127.0.0.1', port, [['CLUSTER', 'SLOTS']]);
  return (slots as unknown[][]).flatMap((entry) => entry.slice(2).map((node) => (node as unknown[])[1] as number));
}

describe('cluster secret and node identity', () => {
  let cluster: TestCluster;
  let internal: (path: string, body: unknown, secret?: string) => Promise<{ status: number; json: any }>;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 3, shardsPerNode: 1 });
    internal = async (path, body, secret) => {
      const response = await fetch(`${cluster.pilotUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(secret === undefined ? {} : { 'x-cleave-secret': secret }) },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: await response.json() };
    };
  });
  after(async () => {
    await cluster?.stop();
  });

  it('refuses an unauthenticated join and a re-join of node1 from another port; CLUSTER SLOTS keeps the true addresses', async () => {
    const truePorts = new Set(cluster.nodes.map((n) => n.port));
    const before = await slotPorts(cluster.nodes[1]!.port);
    assert.ok(before.length > 0 && before.every((p) => truePorts.has(p)), String(before));

    const fakePort = 1;
    const join = { host: '127.0.0.1', port: fakePort, bus_port: 2, metrics_port: 0, pid: 1 };
    const anonymous = await internal('/api/v1/internal/join', join);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error.code, 'unauthorized');
    const takeover = await internal('/api/v1/internal/join', { ...join, node_id: 'node1' }, cluster.env.CLEAVE_CLUSTER_SECRET);
    assert.equal(takeover.status, 409, JSON.stringify(takeover.json));
    assert.match(takeover.json.error.message, /node1 is registered at 127\.0\.0\.1:\d+/);

    const nodes = (await cluster.api('GET', '/api/v1/nodes')).json.nodes as { id: string; address: string }[];
    assert.deepEqual(
      nodes.map((n) => n.address),
      cluster.nodes.map((n) => `127.0.0.1:${n.port}`),
    );
    // Give a wrongly accepted routing change the time to reach the nodes before looking.
    await new Promise((r) => setTimeout(r, 1500));
    for (const node of cluster.nodes) {
      const ports = await slotPorts(node.port);
      assert.ok(ports.every((p) => truePorts.has(p)) && !ports.includes(fakePort), `${node.name}: ${ports}`);
      const [text] = await respRequest('127.0.0.1', node.port, [['CLUSTER', 'NODES']]);
      assert.ok(!String(text).includes(`:${fakePort}@`), String(text));
    }
  });

  it('a forged heartbeat with a huge term does not change the leader view', async () => {
    const shardsBefore = (await cluster.api('GET', '/api/v1/shards')).json.shards as { id: string; leader: string; leader_term: number; replicas: string[] }[];
    const shard = shardsBefore[0]!;
    const forger = shard.replicas.find((n) => n !== shard.leader)!;
    const heartbeat = { node_id: forger, pid: 1, routing_version: 0, shards: [], leaders: [{ shard_id: shard.id, term: 1e12 }] };
    assert.equal((await internal('/api/v1/internal/heartbeat', heartbeat)).status, 401);
    assert.equal((await internal('/api/v1/internal/heartbeat', heartbeat, cluster.env.CLEAVE_CLUSTER_SECRET)).status, 200);
    const after = (await cluster.api('GET', `/api/v1/shards/${shard.id}`)).json as { leader: string; leader_term: number };
    assert.equal(after.leader, shard.leader);
    assert.ok(after.leader_term < 1e6, `leader term ${after.leader_term}`);
  });
});
