/** Repair: replicas of a node down longer than down_after rebuilt elsewhere, then the dead replica removed. */
import { describe } from 'node:test';
import { repair } from '../../../src/pilot/schedulers/repair.js';
import { NOW_MS, node, nodes, runCases, shard, snapshot } from './cluster-fixture.js';

const MINUTE_MS = 60_000;
const FIVE_WITH_NODE3_DOWN = (minutes: number) => [...nodes(2), node('node3', 'down', NOW_MS - minutes * MINUTE_MS), ...nodes(5).slice(3)];

describe('repair', () => {
  runCases(repair, [
    {
      name: 'a node down 6 minutes has its replicas rebuilt on the up nodes holding fewest, shards with fewest live replicas first',
      snapshot: snapshot(FIVE_WITH_NODE3_DOWN(6), [
        shard('shard_01', { replicas: ['node1', 'node2', 'node3'] }),
        shard('shard_02', { replicas: ['node3', 'node4', 'node5'] }),
        shard('shard_03', { replicas: ['node3', 'node5'] }),
      ]),
      expected: ['add-replica shard_03 on node1', 'add-replica shard_01 on node4', 'add-replica shard_02 on node2'],
    },
    {
      name: 'a node down 4 minutes is waited out',
      snapshot: snapshot(FIVE_WITH_NODE3_DOWN(4), [shard('shard_01', { replicas: ['node1', 'node2', 'node3'] })]),
      expected: [],
    },
    {
      name: 'once the shard has its replication factor elsewhere the dead replica is removed',
      snapshot: snapshot(FIVE_WITH_NODE3_DOWN(6), [shard('shard_01', { replicas: ['node1', 'node2', 'node3', 'node4'] })]),
      expected: ['remove-replica shard_01 on node3'],
    },
    {
      name: 'a shard short of replicas with every node up gets one',
      snapshot: snapshot(nodes(3), [shard('shard_01', { replicas: ['node1', 'node2'] })]),
      expected: ['add-replica shard_01 on node3'],
    },
    {
      name: 'with no up node left to hold another replica nothing is proposed',
      snapshot: snapshot([...nodes(2), node('node3', 'down', 0)], [shard('shard_01', { replicas: ['node1', 'node2', 'node3'] })]),
      expected: [],
    },
    {
      name: 'a draining node is no repair target',
      snapshot: snapshot([...nodes(2), node('node3', 'down', 0), node('node4', 'draining')], [shard('shard_01', { replicas: ['node1', 'node2', 'node3'] })]),
      expected: [],
    },
  ]);
});
