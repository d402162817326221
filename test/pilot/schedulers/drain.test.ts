/** Drain: a draining node's leaders leave first, then its replicas. */
import { describe } from 'node:test';
import { drain } from '../../../src/pilot/schedulers/drain.js';
import { node, nodes, runCases, shard, snapshot } from './cluster-fixture.js';

const DRAINING_NODE1 = [node('node1', 'draining'), ...nodes(4).slice(1)];

describe('drain', () => {
  runCases(drain, [
    {
      name: 'a draining node hands its leaders to the up followers leading fewest, and keeps its replicas for now',
      snapshot: snapshot(DRAINING_NODE1, [
        shard('shard_01', { replicas: ['node1', 'node2', 'node3'] }),
        shard('shard_02', { replicas: ['node1', 'node2', 'node3'] }),
        shard('shard_03', { replicas: ['node2', 'node1', 'node3'] }),
      ]),
      expected: ['transfer-leader shard_01 on node3', 'transfer-leader shard_02 on node2'],
    },
    {
      name: 'once it leads nothing its replicas go: an add on the emptiest up node, a remove once the shard has enough without it',
      snapshot: snapshot(DRAINING_NODE1, [shard('shard_01', { replicas: ['node2', 'node1', 'node3'] }), shard('shard_02', { replicas: ['node2', 'node1', 'node3', 'node4'] })]),
      expected: ['add-replica shard_01 on node4', 'remove-replica shard_02 on node1'],
    },
    {
      name: 'a shard led by the draining node with no up follower gets a replica first',
      snapshot: snapshot(DRAINING_NODE1, [shard('shard_01', { replicas: ['node1'] })]),
      expected: ['add-replica shard_01 on node2'],
    },
    {
      name: 'a shard in a task is left alone, and still holds the replicas back',
      snapshot: snapshot(DRAINING_NODE1, [
        shard('shard_01', { replicas: ['node1', 'node2', 'node3'], inTask: true }),
        shard('shard_02', { replicas: ['node2', 'node1', 'node3', 'node4'] }),
      ]),
      expected: [],
    },
  ]);
});
