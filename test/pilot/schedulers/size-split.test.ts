/** Split by size in seed 003's phases: the threshold grows with the keyspace's shards per up node. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sizeSplit } from '../../../src/pilot/schedulers/size-split.js';
import { SCHEDULER_CONFIG_DEFAULT } from '../../../src/pilot/schedulers/types.js';
import { GIB, keyspace, MIB, node, nodes, runCases, shard, snapshot } from './cluster-fixture.js';

const THREE = ['node1', 'node2', 'node3'];

describe('size split', () => {
  runCases(sizeSplit, [
    {
      name: 'with fewer than 8 shards per node a shard above 512 MiB splits at its middle slot',
      snapshot: snapshot(
        nodes(3),
        keyspace(9, THREE, (i) => ({ bytes: i === 1 ? 612 * MIB : 100 * MIB })),
      ),
      expected: ['split shard_02 at 2730'],
    },
    {
      name: 'with 8 to 23 shards per node 612 MiB is no reason to split, 11 GiB is',
      snapshot: snapshot(
        nodes(3),
        keyspace(24, THREE, (i) => ({ bytes: i === 3 ? 11 * GIB : 612 * MIB })),
      ),
      expected: ['split shard_04 at 2389'],
    },
    {
      name: 'with 24 shards per node or more only a shard above 100 GiB splits',
      snapshot: snapshot(
        nodes(3),
        keyspace(72, THREE, (i) => ({ bytes: i === 5 ? 101 * GIB : 50 * GIB })),
      ),
      expected: ['split shard_06 at 1251'],
    },
    {
      name: 'the largest shards split first, and a keyspace stops at 256 shards',
      snapshot: snapshot(
        nodes(3),
        keyspace(255, THREE, (i) => ({ bytes: i === 3 ? 101 * GIB : i === 7 ? 150 * GIB : 0 })),
      ),
      expected: ['split shard_08 at 482'],
    },
    {
      name: 'a one-slot shard is never cut',
      snapshot: snapshot(nodes(3), [shard('shard_01', { start: 0, end: 1, replicas: THREE, bytes: 2 * GIB })]),
      expected: [],
    },
    {
      name: 'a shard in a task is left alone',
      snapshot: snapshot(nodes(3), [shard('shard_01', { replicas: THREE, bytes: 2 * GIB, inTask: true })]),
      expected: [],
    },
    {
      name: 'each keyspace has its own phase: a young one splits at 512 MiB while a populous one waits for 10 GiB',
      snapshot: snapshot(nodes(3), [
        ...keyspace(30, THREE, () => ({ keyspace: 'busy', bytes: 600 * MIB })),
        shard('young', { keyspace: 'young', replicas: THREE, bytes: 600 * MIB }),
      ]),
      expected: ['split young at 8192'],
    },
    {
      name: 'shards per node count only the up nodes: with three of six down, a keyspace of 24 shards is in phase 2',
      snapshot: snapshot(
        [...nodes(3), node('node4', 'down', 0), node('node5', 'down', 0), node('node6', 'draining')],
        keyspace(24, THREE, () => ({ bytes: 600 * MIB })),
      ),
      expected: [],
    },
  ]);

  it('the reason gives the size, the threshold and the phase', () => {
    const [operator] = sizeSplit(
      snapshot(
        nodes(3),
        keyspace(9, THREE, (i) => ({ bytes: i === 0 ? 612 * MIB : 0 })),
      ),
      SCHEDULER_CONFIG_DEFAULT,
    );
    assert.equal(operator?.reason, 'bytes 612 MiB > 512 MiB (phase 1: 3 shards per node < 8)');
  });
});
