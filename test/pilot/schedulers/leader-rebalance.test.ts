/** Leader counts within ±1 and the hottest shards led from different nodes, by transfers to followers. */
import { describe } from 'node:test';
import { leaderRebalance } from '../../../src/pilot/schedulers/leader-rebalance.js';
import { TEMPERATURE_WINDOW_MS } from '../../../src/pilot/schedulers/types.js';
import { keyspace, node, nodes, runCases, shard, snapshot, steady } from './cluster-fixture.js';

const THREE = ['node1', 'node2', 'node3'];

describe('leader rebalance', () => {
  runCases(leaderRebalance, [
    {
      name: 'leaders move from the node leading the most to followers leading at least two fewer',
      snapshot: snapshot(nodes(3), keyspace(3, THREE)),
      expected: ['transfer-leader shard_01 on node2', 'transfer-leader shard_02 on node3'],
    },
    {
      name: 'a leader only moves to a node that holds a replica',
      snapshot: snapshot(nodes(3), keyspace(4, ['node1', 'node2'])),
      expected: ['transfer-leader shard_01 on node2', 'transfer-leader shard_02 on node2'],
    },
    {
      name: 'when no follower of the fullest node leads two fewer, a chain of transfers carries one leadership there',
      snapshot: snapshot(nodes(3), [
        shard('shard_01', { replicas: ['node1', 'node2'] }),
        shard('shard_02', { replicas: ['node1', 'node2'] }),
        shard('shard_03', { replicas: ['node2', 'node3'] }),
      ]),
      expected: ['transfer-leader shard_01 on node2', 'transfer-leader shard_03 on node3'],
    },
    {
      name: 'the two hottest shards led by one node are split up even when the counts are within one',
      snapshot: snapshot(nodes(3), [
        shard('shard_01', { replicas: THREE, opsSamples: steady(3000, TEMPERATURE_WINDOW_MS) }),
        shard('shard_02', { replicas: THREE, opsSamples: steady(5000, TEMPERATURE_WINDOW_MS) }),
        shard('shard_03', { replicas: ['node2', 'node1', 'node3'] }),
        shard('shard_04', { replicas: ['node3', 'node1', 'node2'] }),
      ]),
      expected: ['transfer-leader shard_01 on node2'],
    },
    {
      name: 'a hot shard whose followers lead hotter shards gets a node by moving one of those along',
      snapshot: snapshot(nodes(3), [
        shard('shard_01', { replicas: ['node1', 'node2'], opsSamples: steady(5000, TEMPERATURE_WINDOW_MS) }),
        shard('shard_02', { replicas: ['node2', 'node3'], opsSamples: steady(4000, TEMPERATURE_WINDOW_MS) }),
        shard('shard_03', { replicas: ['node1', 'node2'], opsSamples: steady(3000, TEMPERATURE_WINDOW_MS) }),
      ]),
      expected: ['transfer-leader shard_02 on node3', 'transfer-leader shard_03 on node2'],
    },
    {
      name: 'a count move does not put a hot leader beside another hot one',
      snapshot: snapshot(nodes(2), [
        shard('shard_01', { replicas: ['node1', 'node2'], opsSamples: steady(3000, TEMPERATURE_WINDOW_MS) }),
        shard('shard_02', { replicas: ['node2', 'node1'], opsSamples: steady(3000, TEMPERATURE_WINDOW_MS) }),
        shard('shard_03', { replicas: ['node1', 'node2'] }),
        shard('shard_04', { replicas: ['node1', 'node2'] }),
      ]),
      expected: ['transfer-leader shard_03 on node2'],
    },
    {
      name: 'balanced leaders give nothing, and a draining node gets no leader',
      snapshot: snapshot([...nodes(2), node('node3', 'draining')], [shard('shard_01', { replicas: ['node1', 'node3'] }), shard('shard_02', { replicas: ['node2', 'node3'] })]),
      expected: [],
    },
  ]);
});
