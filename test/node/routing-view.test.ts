import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingTable } from '../../src/common/routing.js';
import { SPLIT_PARAMS_DEFAULT } from '../../src/split/types.js';
import { RoutingView, withKnownLeaders } from '../../src/node/routing-view.js';

const node = (id: string, port: number) => ({ id, clusterId: id.padEnd(40, '0'), host: '127.0.0.1', port, busPort: port + 10000 });
const table: RoutingTable = {
  version: 7,
  nodes: [node('node1', 7001), node('node2', 7002)],
  shards: [
    { id: 'shard_0002', keyspace: 'default', start: 8192, end: 16384, epoch: 1, leader: 'node2', replicas: ['node2'] },
    { id: 'shard_0001', keyspace: 'default', start: 0, end: 8192, epoch: 1, leader: 'node1', replicas: ['node1', 'node2'] },
    { id: 'r1', keyspace: 'other', start: 0, end: 10, epoch: 1, leader: 'node1', replicas: ['node1'] },
  ],
};

describe('RoutingView', () => {
  it('finds the shard of every slot, and orders the default keyspace by start', () => {
    const view = new RoutingView(table, 'node1');
    assert.deepEqual(
      view.shards.map((s) => s.id),
      ['shard_0001', 'shard_0002'],
    );
    assert.equal(view.shardOfSlot(0)!.id, 'shard_0001');
    assert.equal(view.shardOfSlot(8191)!.id, 'shard_0001');
    assert.equal(view.shardOfSlot(8192)!.id, 'shard_0002');
    assert.equal(view.shardOfSlot(16383)!.id, 'shard_0002');
    assert.equal(view.allSlotsServed(), true);
  });

  it('knows what this node leads and hosts, and where to redirect', () => {
    const view = new RoutingView(table, 'node2');
    assert.deepEqual(
      view.ledShards().map((s) => s.id),
      ['shard_0002'],
    );
    assert.deepEqual(
      view
        .hostedShards()
        .map((s) => s.id)
        .sort(),
      ['shard_0001', 'shard_0002'],
    );
    assert.equal(view.address('node1'), '127.0.0.1:7001');
    assert.equal(view.address('node9'), undefined);
  });

  it("lists a split's target apart, serving no slot until the table gives it its range", () => {
    const split = { taskId: 't1', role: 'target' as const, peer: 'shard_0002', splitSlot: 12288, params: SPLIT_PARAMS_DEFAULT };
    const target = { id: 'shard_0003', keyspace: 'default', start: 12288, end: 12288, epoch: 1, leader: 'node1', replicas: ['node1'], split };
    const view = new RoutingView({ ...table, shards: [...table.shards, target] }, 'node1');
    assert.deepEqual(
      view.splitTargets.map((s) => s.id),
      ['shard_0003'],
    );
    assert.deepEqual(
      view.shards.map((s) => s.id),
      ['shard_0001', 'shard_0002'],
    );
    assert.equal(view.shardOfSlot(12288)!.id, 'shard_0002', 'the source serves the moving range');
    assert.deepEqual(
      view.ledShards().map((s) => s.id),
      ['shard_0001'],
      'leading the target is not leading slots',
    );
    assert.equal(view.allSlotsServed(), true);
  });

  it('reports unserved slots when a range has no shard or no leader', () => {
    const gap = new RoutingView({ ...table, shards: table.shards.filter((s) => s.id !== 'shard_0002') }, 'node1');
    assert.equal(gap.shardOfSlot(9000), undefined);
    assert.equal(gap.allSlotsServed(), false);
    const leaderless = new RoutingView({ ...table, shards: table.shards.map((s) => (s.id === 'shard_0001' ? { ...s, leader: null } : s)) }, 'node1');
    assert.equal(leaderless.allSlotsServed(), false);
  });
});

describe('withKnownLeaders', () => {
  const three: RoutingTable = {
    version: 50,
    nodes: [node('node1', 7001), node('node2', 7002), node('node3', 7003)],
    shards: [
      { id: 'shard_0001', keyspace: 'default', start: 0, end: 8192, epoch: 3, leader: 'node2', replicas: ['node1', 'node2'] },
      { id: 'shard_0002', keyspace: 'default', start: 8192, end: 16384, epoch: 1, leader: 'node2', replicas: ['node2', 'node3'] },
    ],
  };

  it("takes the leader this node's group knows over the table's, and null while it knows none", () => {
    const known = withKnownLeaders(three, 'node3', (id) => (id === 'shard_0002' ? null : undefined));
    assert.deepEqual(
      known.shards.map((s) => s.leader),
      ['node2', null],
    );
    const elected = withKnownLeaders(three, 'node3', (id) => (id === 'shard_0002' ? 'node3' : undefined));
    assert.deepEqual(
      elected.shards.map((s) => s.leader),
      ['node2', 'node3'],
    );
    assert.equal(
      withKnownLeaders(three, 'node3', () => undefined),
      three,
    );
  });

  it('keeps the table leader of a shard that no longer lists this node, whatever its leftover group knows', () => {
    // node3 was moved off shard_0001 while it was down: its group of the shard runs on, knowing no leader,
    // until it hears it was removed. The shard's slots must still be sent to the leader the table names.
    const known = withKnownLeaders(three, 'node3', (id) => (id === 'shard_0001' ? null : 'node2'));
    assert.deepEqual(
      known.shards.map((s) => s.leader),
      ['node2', 'node2'],
    );
    const view = new RoutingView(known, 'node3');
    assert.equal(view.allSlotsServed(), true);
    assert.equal(view.shardOfSlot(0)!.leader, 'node2');
    // A leftover group that hears from a leader is still a member: what it knows is newer than the table.
    const heard = withKnownLeaders(three, 'node3', (id) => (id === 'shard_0001' ? 'node1' : undefined));
    assert.deepEqual(
      heard.shards.map((s) => s.leader),
      ['node1', 'node2'],
    );
  });
});
