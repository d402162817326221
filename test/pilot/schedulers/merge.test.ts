/** Merge adjacent small, cold, settled shards; never into a size that would split again. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { merge } from '../../../src/pilot/schedulers/merge.js';
import { SCHEDULER_CONFIG_DEFAULT, TEMPERATURE_WINDOW_MS } from '../../../src/pilot/schedulers/types.js';
import { keyspace, MIB, NOW_MS, nodes, runCases, shard, snapshot, steady } from './cluster-fixture.js';

const THREE = ['node1', 'node2', 'node3'];
const COLD = steady(0, TEMPERATURE_WINDOW_MS);
const WARM = steady(50, TEMPERATURE_WINDOW_MS);
const MINUTE_MS = 60_000;
const cold4 = (init: (i: number) => Parameters<typeof shard>[1] = () => ({})) =>
  snapshot(
    nodes(3),
    keyspace(4, THREE, (i) => ({ bytes: 10 * MIB, opsSamples: COLD, ...init(i) })),
  );

describe('merge', () => {
  runCases(merge, [
    {
      name: 'adjacent small cold shards merge in pairs, the left absorbing the right',
      snapshot: cold4(),
      expected: ['merge shard_01 with shard_02', 'merge shard_03 with shard_04'],
    },
    {
      name: 'a shard at a quarter of the split size after the merge does not merge',
      snapshot: cold4((i) => (i === 0 ? { bytes: 128 * MIB } : {})),
      expected: ['merge shard_02 with shard_03'],
    },
    {
      name: 'the smallest pair merges first, so one shard does not absorb its neighbours in turn',
      snapshot: cold4((i) => (i === 0 ? { bytes: 30 * MIB } : {})),
      expected: ['merge shard_02 with shard_03'],
    },
    {
      name: 'a warm shard does not merge, so its neighbours pair elsewhere',
      snapshot: cold4((i) => (i === 1 ? { opsSamples: WARM } : {})),
      expected: ['merge shard_03 with shard_04'],
    },
    {
      name: 'a shard a split created 9 minutes ago does not merge',
      snapshot: cold4((i) => (i === 0 ? { splitAtMs: NOW_MS - 9 * MINUTE_MS } : {})),
      expected: ['merge shard_02 with shard_03'],
    },
    {
      name: 'a shard a split created 10 minutes ago merges',
      snapshot: cold4((i) => (i === 0 ? { splitAtMs: NOW_MS - 10 * MINUTE_MS } : {})),
      expected: ['merge shard_01 with shard_02', 'merge shard_03 with shard_04'],
    },
    {
      name: 'frozen shards merge',
      snapshot: cold4(() => ({ opsSamples: [], lastAccessMs: 0 })),
      expected: ['merge shard_01 with shard_02', 'merge shard_03 with shard_04'],
    },
    {
      name: 'a shard in a task does not merge',
      snapshot: cold4((i) => (i === 1 ? { inTask: true } : {})),
      expected: ['merge shard_03 with shard_04'],
    },
    {
      name: 'shards of different keyspaces do not merge, nor do shards with a gap between them',
      snapshot: snapshot(nodes(3), [
        shard('a1', { keyspace: 'a', start: 0, end: 100, replicas: THREE, opsSamples: COLD }),
        shard('a2', { keyspace: 'a', start: 200, end: 16384, replicas: THREE, opsSamples: COLD }),
        shard('b1', { keyspace: 'b', start: 0, end: 8192, replicas: THREE, opsSamples: COLD }),
        shard('c1', { keyspace: 'c', start: 8192, end: 16384, replicas: THREE, opsSamples: COLD }),
      ]),
      expected: [],
    },
  ]);

  it('the reason gives both sizes, the limit, the phase after the merge and the temperatures', () => {
    assert.equal(
      merge(cold4(), SCHEDULER_CONFIG_DEFAULT)[0]?.reason,
      'bytes 10 MiB and 10 MiB < 128 MiB (0.25 of 512 MiB, phase 1: 1 shards per node < 8 after the merge), cold and cold over 10 min',
    );
  });
});
