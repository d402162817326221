/**
 * Moving a shard's replicas with real processes: the pilot's API changes the desired replicas, the shard's
 * Raft leader carries the change out (a new replica starts empty and receives a snapshot), and leadership
 * moves on request. Keys written before every step stay readable, and the replica that leaves drops its copy;
 * added back, it is a new Raft member under a new replica id.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { keyHashSlot } from '../../src/common/slots.js';
import { respRequest } from '../../src/client/resp-request.js';
import { TestCluster, waitUntil } from '../support/cluster.js';

interface ShardView {
  readonly id: string;
  readonly slot_range: { readonly start: number; readonly end: number };
  readonly leader: string | null;
  readonly replicas: string[];
}

describe('replica membership', () => {
  let cluster: TestCluster;
  let client: Cluster;
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(cluster.pilotUrl + path, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const shard = async (id: string): Promise<ShardView> => (await api('GET', `/api/v1/shards/${id}`)).json as unknown as ShardView;
  /** Port of each node id, from the pilot. */
  const ports = new Map<string, number>();
  /** The replica the first step moved off its node, and the keys it held. */
  let moved: { readonly leaving: string; readonly keys: readonly string[] } | undefined;

  before(async () => {
    cluster = await TestCluster.start({ nodes: 4, shardsPerNode: 1, replicas: 3 });
    const nodes = (await api('GET', '/api/v1/nodes')).json.nodes as { id: string; address: string }[];
    for (const node of nodes) ports.set(node.id, Number(node.address.split(':')[1]));
    client = new Cluster(cluster.startupNodes, { scaleReads: 'master', maxRedirections: 100, retryDelayOnTryAgain: 50, retryDelayOnClusterDown: 50 });
  });
  after(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('adds a replica (snapshot to an empty node), transfers leadership to it, removes an old one', async () => {
    const before_ = await shard('shard_0001');
    const outsider = [...ports.keys()].find((id) => !before_.replicas.includes(id))!;
    const keys: string[] = [];
    for (let i = 0; keys.length < 300; i++) {
      const key = `m:${i}`;
      const slot = keyHashSlot(Buffer.from(key));
      if (slot >= before_.slot_range.start && slot < before_.slot_range.end) keys.push(key);
    }
    await Promise.all(keys.map((k) => client.set(k, `v-${k}`)));

    const added = await api('POST', '/api/v1/shards/shard_0001/replicas', { action: 'add', node_id: outsider });
    assert.equal(added.status, 202, JSON.stringify(added.json));
    assert.ok((added.json.replicas as string[]).includes(outsider));
    // The new member starts with nothing; it can only serve these keys after the leader's snapshot.
    await waitUntil(
      `${outsider} holds the shard's keys`,
      async () => {
        const replies = await respRequest('127.0.0.1', ports.get(outsider)!, [['READONLY'], ...keys.map((k) => ['GET', k])], 5000);
        return keys.every((k, i) => replies[i + 1] === `v-${k}`);
      },
      () => cluster.nodes.map((n) => n.log).join('\n'),
      30_000,
    );

    const transfer = await api('POST', '/api/v1/shards/shard_0001/replicas', { action: 'transfer_leader', node_id: outsider });
    assert.equal(transfer.status, 202, JSON.stringify(transfer.json));
    await waitUntil(`${outsider} leads shard_0001`, async () => (await shard('shard_0001')).leader === outsider, undefined, 30_000);
    const [slots] = (await respRequest('127.0.0.1', ports.get(outsider)!, [['CLUSTER', 'SLOTS']])) as unknown[][][];
    const range = slots!.find((r) => Number(r[0]) === before_.slot_range.start)!;
    assert.equal(Number((range[2] as unknown[])[1]), ports.get(outsider), 'CLUSTER SLOTS names the new leader first');

    const leaving = before_.replicas.find((id) => id !== outsider)!;
    const removed = await api('POST', '/api/v1/shards/shard_0001/replicas', { action: 'remove', node_id: leaving });
    assert.equal(removed.status, 202, JSON.stringify(removed.json));
    await waitUntil(
      `${leaving} drops its copy of shard_0001`,
      async () => {
        const [reply] = await respRequest('127.0.0.1', ports.get(leaving)!, [['CLUSTER', 'COUNTKEYSINSLOT', String(keyHashSlot(Buffer.from(keys[0]!)))]]);
        const [slotsNow] = (await respRequest('127.0.0.1', ports.get(leaving)!, [['CLUSTER', 'SLOTS']])) as unknown[][][];
        const rangeNow = slotsNow!.find((r) => Number(r[0]) === before_.slot_range.start);
        const listed = (rangeNow ?? []).slice(2).some((n) => Number((n as unknown[])[1]) === ports.get(leaving));
        return reply === 0 && !listed;
      },
      undefined,
      30_000,
    );

    // Every key still reads back, and writes go on, through the new leader.
    const values = await Promise.all(keys.map((k) => client.get(k)));
    assert.deepEqual(
      values,
      keys.map((k) => `v-${k}`),
    );
    assert.equal(await client.set(keys[0]!, 'after'), 'OK');
    assert.equal(await client.get(keys[0]!), 'after');
    moved = { leaving, keys };
  });

  it('adds the removed replica back under a new replica id: a learner first, promoted once it holds every key', async () => {
    assert.ok(moved !== undefined, 'the previous step moved a replica off a node');
    const { leaving, keys } = moved;
    const founding = Number(leaving.slice('node'.length));
    const added = await api('POST', '/api/v1/shards/shard_0001/replicas', { action: 'add', node_id: leaving });
    assert.equal(added.status, 202, JSON.stringify(added.json));
    const replicaId = (added.json.replica_ids as Record<string, number>)[leaving]!;
    assert.notEqual(replicaId, founding, 'not the Raft id it had before');
    assert.equal(replicaId % 1_000_000, founding, 'an id of the same node');
    await waitUntil(
      `${leaving} holds the shard's keys again`,
      async () => {
        const replies = await respRequest('127.0.0.1', ports.get(leaving)!, [['READONLY'], ...keys.map((k) => ['GET', k])], 5000);
        return keys.every((k, i) => replies[i + 1] === (i === 0 ? 'after' : `v-${k}`));
      },
      () => cluster.nodes.map((n) => n.log).join('\n'),
      30_000,
    );
    // Only a caught-up voter is handed leadership: the learner under the new id was promoted.
    const transfer = await api('POST', '/api/v1/shards/shard_0001/replicas', { action: 'transfer_leader', node_id: leaving });
    assert.equal(transfer.status, 202, JSON.stringify(transfer.json));
    await waitUntil(`${leaving} leads shard_0001 as replica ${replicaId}`, async () => (await shard('shard_0001')).leader === leaving, undefined, 30_000);
    assert.equal(await client.set(keys[1]!, 'again'), 'OK');
    const values = await Promise.all(keys.map((k) => client.get(k)));
    assert.deepEqual(
      values,
      keys.map((k, i) => (i === 0 ? 'after' : i === 1 ? 'again' : `v-${k}`)),
    );
  });
});
