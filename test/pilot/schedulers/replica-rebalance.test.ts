/** Replica counts of the up nodes within ±1: add on the emptiest first, remove from the fullest after. */
import { describe } from 'node:test';
import { replicaRebalance } from '../../../src/pilot/schedulers/replica-rebalance.js';
import { keyspace, MIB, node, nodes, runCases, shard, snapshot } from './cluster-fixture.js';

const THREE = ['node1', 'node2', 'node3'];

describe('replica rebalance', () => {
  runCases(replicaRebalance, [
    {
      name: 'a new empty node gets replicas of the smallest shards of the fullest nodes until counts are within one',
      snapshot: snapshot(
        nodes(4),
        keyspace(3, THREE, (i) => ({ bytes: (3 - i) * MIB })),
      ),
      expected: ['add-replica shard_03 on node4', 'add-replica shard_02 on node4'],
    },
    {
      name: 'a shard with more replicas than the replication factor loses the one on the fullest node, a follower on ties',
      snapshot: snapshot(nodes(4), [shard('shard_01', { replicas: ['node1', 'node2', 'node3', 'node4'] }), shard('shard_02', { replicas: ['node1', 'node2', 'node4'] })]),
      expected: ['remove-replica shard_01 on node2'],
    },
    {
      name: 'counts within one give nothing, and no shard goes below the replication factor',
      snapshot: snapshot(nodes(4), [
        shard('shard_01', { replicas: ['node1', 'node2', 'node3'] }),
        shard('shard_02', { replicas: ['node2', 'node3', 'node4'] }),
        shard('shard_03', { replicas: ['node1', 'node3', 'node4'] }),
      ]),
      expected: [],
    },
    {
      name: 'draining and down nodes get no replica, and shards with a replica on them do not move',
      snapshot: snapshot([...nodes(3), node('node4', 'draining'), node('node5', 'down', 0)], [...keyspace(3, THREE), shard('shard_04', { replicas: ['node1', 'node2', 'node5'] })]),
      expected: [],
    },
    {
      name: 'a shard in a task does not move; the next smallest does',
      snapshot: snapshot(
        nodes(4),
        keyspace(3, THREE, (i) => ({ bytes: (3 - i) * MIB, inTask: i === 2 })),
      ),
      expected: ['add-replica shard_02 on node4', 'add-replica shard_01 on node4'],
    },
  ]);
});
