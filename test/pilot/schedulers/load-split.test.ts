/** Split by load: sustained ops/s above the threshold, cut at the slot boundary that best halves the sampled load. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSplit, unsplittableHotSlots } from '../../../src/pilot/schedulers/load-split.js';
import { SCHEDULER_CONFIG_DEFAULT, type SlotLoad } from '../../../src/pilot/schedulers/types.js';
import { NOW_MS, nodes, runCases, shard, snapshot, steady } from './cluster-fixture.js';

const THREE = ['node1', 'node2', 'node3'];
const EVEN: SlotLoad[] = [10, 20, 30, 40].map((slot) => ({ slot, ops: 100 }));
const hot = (init: Parameters<typeof shard>[1]) => snapshot(nodes(3), [shard('shard_01', { replicas: THREE, opsSamples: steady(3000, 10_000), slotLoad: EVEN, ...init })]);

describe('load split', () => {
  runCases(loadSplit, [
    {
      name: 'a shard above 2500 ops/s for the whole window splits where the sampled load halves',
      snapshot: hot({}),
      expected: ['split shard_01 at 30'],
    },
    {
      name: 'one sample at 2500 ops/s in the window is no split',
      snapshot: hot({ opsSamples: steady(3000, 10_000).map((s, i) => (i === 1 ? { ...s, opsPerSec: 2500 } : s)) }),
      expected: [],
    },
    {
      name: 'a shard watched for less than the window is no split yet',
      snapshot: hot({ opsSamples: steady(3000, 5_000) }),
      expected: [],
    },
    {
      name: 'samples from before the shard was last split do not count',
      snapshot: hot({ splitAtMs: NOW_MS - 5_000 }),
      expected: [],
    },
    {
      name: 'the cut goes before the slot that balances best, never inside a slot',
      snapshot: hot({
        slotLoad: [
          { slot: 100, ops: 500 },
          { slot: 200, ops: 300 },
          { slot: 300, ops: 300 },
        ],
      }),
      expected: ['split shard_01 at 200'],
    },
    {
      name: 'samples of one slot add up, and samples outside the shard are ignored',
      snapshot: hot({
        start: 0,
        end: 1000,
        slotLoad: [
          { slot: 100, ops: 200 },
          { slot: 200, ops: 300 },
          { slot: 100, ops: 200 },
          { slot: 5000, ops: 9000 },
        ],
      }),
      expected: ['split shard_01 at 200'],
    },
    {
      name: 'without per-slot samples there is no split',
      snapshot: hot({ slotLoad: [] }),
      expected: [],
    },
    {
      name: 'a shard whose load is one hot slot is not split',
      snapshot: hot({
        slotLoad: [
          { slot: 5, ops: 950 },
          { slot: 6, ops: 50 },
        ],
      }),
      expected: [],
    },
  ]);

  it('a shard whose load is one hot slot yields an unsplittable-hot-slot finding with the share', () => {
    const findings = unsplittableHotSlots(
      hot({
        slotLoad: [
          { slot: 5, ops: 950 },
          { slot: 6, ops: 50 },
        ],
      }),
      SCHEDULER_CONFIG_DEFAULT,
    );
    assert.deepEqual(findings, [
      {
        kind: 'unsplittable-hot-slot',
        shardId: 'shard_01',
        slot: 5,
        scheduler: 'load-split',
        reason: 'ops/s above 2500 for 10 s (lowest 3000), but slot 5 carries 95% of the sampled load',
      },
    ]);
  });

  it('a shard that can be split yields no finding, and the reason gives the load on each side', () => {
    assert.deepEqual(unsplittableHotSlots(hot({}), SCHEDULER_CONFIG_DEFAULT), []);
    assert.equal(loadSplit(hot({}), SCHEDULER_CONFIG_DEFAULT)[0]?.reason, 'ops/s above 2500 for 10 s (lowest 3000); sampled load 200 | 200 at slot 30');
  });
});
