/**
 * CLUSTER SLOTS, SHARDS, NODES and REPLICAS answered from a routing view of replicated shards: leaders as
 * masters listed first, followers as replicas, leaderless shards left out of the slot map.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingTable } from '../../src/common/routing.js';
import { CLUSTER_COMMANDS } from '../../src/node/cluster-commands.js';
import type { ClientConnection } from '../../src/node/client-connection.js';
import type { NodeContext } from '../../src/node/node-context.js';
import { RoutingView } from '../../src/node/routing-view.js';
import type { Reply } from '../../src/resp/reply.js';

const clusterIdOf = (id: string): string => id.replace('node', '').padStart(40, 'a');
const node = (id: string, port: number) => ({ id, clusterId: clusterIdOf(id), host: '127.0.0.1', port, busPort: port + 10000 });

/** Three nodes, three shards on all of them; shard_0002's leader moved to node3; shard_0003 has no leader. */
const table: RoutingTable = {
  version: 12,
  nodes: [node('node1', 17101), node('node2', 17102), node('node3', 17103), node('node4', 17104)],
  shards: [
    { id: 'shard_0003', keyspace: 'default', start: 10000, end: 16384, epoch: 1, leader: null, replicas: ['node3', 'node1', 'node2'] },
    { id: 'shard_0001', keyspace: 'default', start: 0, end: 5000, epoch: 1, leader: 'node1', replicas: ['node1', 'node2', 'node3'] },
    { id: 'shard_0002', keyspace: 'default', start: 5000, end: 10000, epoch: 2, leader: 'node3', leaderTerm: 4, replicas: ['node2', 'node3', 'node1'] },
    { id: 'other_0001', keyspace: 'other', start: 0, end: 10, epoch: 1, leader: 'node4', replicas: ['node4'] },
  ],
};

function context(view: RoutingView): NodeContext {
  return {
    selfId: view.selfId,
    host: '127.0.0.1',
    port: 17102,
    requirepass: undefined,
    startedAtMs: 0,
    stats: { commandsProcessed: 0, connectionsReceived: 0, opsPerSec: 0 },
    connections: new Map(),
    routing: () => view,
    ledReplicas: () => [],
    settled: async () => {},
    flushLed: async () => 'flushed' as const,
    debugFaults: () => undefined,
    clusterId: () => clusterIdOf(view.selfId ?? 'node0'),
  };
}

/** A reply as plain values: strings, numbers, arrays, objects for maps, `Error` for errors. */
function plain(reply: Reply): unknown {
  switch (reply.kind) {
    case 'simple':
      return reply.value;
    case 'bulk':
      return reply.value.toString();
    case 'int':
      return Number(reply.value);
    case 'error':
      return new Error(reply.message);
    case 'array':
    case 'set':
      return reply.items.map(plain);
    case 'map':
      return Object.fromEntries(reply.entries.map(([k, v]) => [String(plain(k)), plain(v)]));
    case 'verbatim':
      return reply.text;
    default:
      return reply.kind;
  }
}

async function cluster(view: RoutingView, ...args: string[]): Promise<unknown> {
  const handler = CLUSTER_COMMANDS.get('cluster')!;
  return plain(
    await handler(
      context(view),
      undefined as unknown as ClientConnection,
      ['CLUSTER', ...args].map((a) => Buffer.from(a)),
    ),
  );
}

const entry = (id: string, port: number): unknown[] => ['127.0.0.1', port, clusterIdOf(id), {}];

describe('CLUSTER on replicated shards', () => {
  const view = new RoutingView(table, 'node2');

  it('SLOTS: each range with its leader first, then the other replicas; a range without a leader under its first replica, so the map is whole', async () => {
    assert.deepEqual(await cluster(view, 'SLOTS'), [
      [0, 4999, entry('node1', 17101), entry('node2', 17102), entry('node3', 17103)],
      [5000, 9999, entry('node3', 17103), entry('node2', 17102), entry('node1', 17101)],
      [10000, 16383, entry('node3', 17103), entry('node1', 17101), entry('node2', 17102)],
    ]);
  });

  it('SLOTS lists a leader outside the desired replicas first (it leads until the group removes it)', async () => {
    const leaving = new RoutingView({ ...table, shards: [{ ...table.shards[1]!, leader: 'node4', replicas: ['node1', 'node2'] }] }, 'node1');
    assert.deepEqual(await cluster(leaving, 'SLOTS'), [[0, 4999, entry('node4', 17104), entry('node1', 17101), entry('node2', 17102)]]);
  });

  it('SHARDS: one entry per shard, the leader as master and the followers as replicas, all online', async () => {
    const shards = (await cluster(view, 'SHARDS')) as { slots: number[]; nodes: { id: string; port: number; role: string; health: string }[] }[];
    assert.deepEqual(
      shards.map((s) => [s.slots, s.nodes.map((n) => `${n.port}:${n.role}:${n.health}`)]),
      [
        [
          [0, 4999],
          ['17101:master:online', '17102:replica:online', '17103:replica:online'],
        ],
        [
          [5000, 9999],
          ['17103:master:online', '17102:replica:online', '17101:replica:online'],
        ],
        [
          [10000, 16383],
          ['17103:master:online', '17101:replica:online', '17102:replica:online'],
        ],
      ],
    );
    assert.equal(shards[0]!.nodes[0]!.id, clusterIdOf('node1'));
  });

  it("a split's target, owning no slot yet, is left out of SLOTS and listed by SHARDS without slots", async () => {
    const target = { id: 'shard_0004', keyspace: 'default', start: 2500, end: 2500, epoch: 1, leader: 'node4', replicas: ['node4'] };
    const splitting = new RoutingView({ ...table, shards: [table.shards[1]!, target] }, 'node1');
    assert.equal(splitting.shardOfSlot(2500)!.id, 'shard_0001');
    assert.deepEqual(await cluster(splitting, 'SLOTS'), [[0, 4999, entry('node1', 17101), entry('node2', 17102), entry('node3', 17103)]]);
    const shards = (await cluster(splitting, 'SHARDS')) as { slots: number[]; nodes: { port: number; role: string }[] }[];
    assert.deepEqual(
      shards.map((s) => [s.slots, s.nodes.map((n) => `${n.port}:${n.role}`)]),
      [
        [
          [0, 4999],
          ['17101:master', '17102:replica', '17103:replica'],
        ],
        [[], ['17104:master']],
      ],
    );
  });

  it('NODES: every node a master, listing the ranges it leads; this node marked myself', async () => {
    const text = (await cluster(view, 'NODES')) as string;
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => l.split(' '));
    assert.deepEqual(
      lines.map((f) => [f[0], f[1], f[2], f[3], f[6], f[7], ...f.slice(8)]),
      [
        [clusterIdOf('node1'), '127.0.0.1:17101@27101', 'master', '-', '12', 'connected', '0-4999'],
        [clusterIdOf('node2'), '127.0.0.1:17102@27102', 'myself,master', '-', '12', 'connected'],
        [clusterIdOf('node3'), '127.0.0.1:17103@27103', 'master', '-', '12', 'connected', '5000-16383'],
        [clusterIdOf('node4'), '127.0.0.1:17104@27104', 'master', '-', '12', 'connected'],
      ],
    );
  });

  it('NODES joins adjacent ranges a node leads', async () => {
    const both = new RoutingView({ ...table, shards: table.shards.map((s) => (s.id === 'shard_0002' ? { ...s, leader: 'node1' } : s)) }, 'node1');
    const line = ((await cluster(both, 'NODES')) as string).split('\n')[0]!;
    assert.match(line, / 0-9999$/);
  });

  it('REPLICAS and SLAVES: the nodes following shards the node leads, as slave lines naming it master', async () => {
    for (const sub of ['REPLICAS', 'SLAVES']) {
      const lines = (await cluster(view, sub, clusterIdOf('node3'))) as string[];
      assert.deepEqual(
        lines.map((l) => l.split(' ').slice(0, 4)),
        [
          [clusterIdOf('node1'), '127.0.0.1:17101@27101', 'slave', clusterIdOf('node3')],
          [clusterIdOf('node2'), '127.0.0.1:17102@27102', 'myself,slave', clusterIdOf('node3')],
        ],
      );
    }
    assert.deepEqual(await cluster(view, 'REPLICAS', clusterIdOf('node2')), [], 'node2 leads nothing');
    assert.deepEqual(await cluster(view, 'REPLICAS', 'f'.repeat(40)), new Error(`ERR Unknown node ${'f'.repeat(40)}`));
    assert.ok((await cluster(view, 'REPLICAS')) instanceof Error, 'the node id is required');
  });

  it('INFO: the cluster is not ok while a range has no leader; cluster_size counts the leading nodes', async () => {
    const info = (await cluster(view, 'INFO')) as string;
    assert.match(info, /cluster_state:fail\r\n/);
    assert.match(info, /cluster_size:2\r\n/);
    const led = new RoutingView({ ...table, shards: table.shards.map((s) => (s.leader === null ? { ...s, leader: 'node2' } : s)) }, 'node2');
    assert.match((await cluster(led, 'INFO')) as string, /cluster_state:ok\r\n/);
  });
});
