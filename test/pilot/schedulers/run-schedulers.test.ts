/** One scheduling round: priority order and the limits over what the schedulers propose. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSchedulers } from '../../../src/pilot/schedulers/run-schedulers.js';
import { type ClusterSnapshot, SCHEDULER_CONFIG_DEFAULT, type SchedulerConfig, TEMPERATURE_WINDOW_MS } from '../../../src/pilot/schedulers/types.js';
import { brief, keyspace, MIB, NOW_MS, node, nodes, shard, snapshot, steady } from './cluster-fixture.js';

const THREE = ['node1', 'node2', 'node3'];
const DEAD_NODE4 = [...nodes(3), node('node4', 'down', NOW_MS - 6 * 60_000), ...nodes(6).slice(4)];

interface RoundCase {
  readonly name: string;
  readonly snapshot: ClusterSnapshot;
  readonly config?: Partial<SchedulerConfig>;
  readonly operators: readonly string[];
  /** `brief: limit` of each held operator, in order. */
  readonly held: readonly string[];
}

const CASES: readonly RoundCase[] = [
  {
    name: 'repair goes before a split, and a shard gets one operator per round',
    snapshot: snapshot(DEAD_NODE4.slice(0, 4), [shard('shard_01', { replicas: ['node1', 'node2', 'node4'], bytes: 600 * MIB })]),
    operators: ['add-replica shard_01 on node3'],
    held: ['split shard_01 at 8192: shard_01 already has an operator this round'],
  },
  {
    name: 'two moves at most in flight: with one move running, one more repair starts',
    snapshot: snapshot(DEAD_NODE4, keyspace(3, ['node1', 'node2', 'node4']), [{ kind: 'move', shardIds: ['other'], nodeIds: ['node5'] }]),
    operators: ['add-replica shard_01 on node3'],
    held: [
      'add-replica shard_02 on node5: 2 moves in flight, max 2',
      'add-replica shard_03 on node6: 2 moves in flight, max 2',
      'transfer-leader shard_01 on node2: shard_01 already has an operator this round',
    ],
  },
  {
    name: 'one split in the cluster: of two oversized shards the larger starts',
    snapshot: snapshot(
      nodes(3),
      keyspace(2, THREE, (i) => ({ bytes: (600 + i) * MIB })),
    ),
    operators: ['split shard_02 at 12288', 'transfer-leader shard_01 on node2'],
    held: ['split shard_01 at 4096: 1 splits in flight, max 1'],
  },
  {
    name: 'a split waits while a node of its shard takes part in another split',
    snapshot: snapshot(nodes(4), [shard('shard_01', { replicas: THREE, bytes: 600 * MIB })], [{ kind: 'split', shardIds: ['other'], nodeIds: ['node3', 'node4'] }]),
    config: { maxSplits: 2 },
    operators: [],
    held: ['split shard_01 at 8192: node3 takes part in 1 splits or merges, max 1'],
  },
  {
    name: 'a merge waits for a split on the same nodes proposed before it',
    snapshot: snapshot(
      nodes(3),
      keyspace(3, THREE, (i) => (i === 0 ? { bytes: 600 * MIB } : { bytes: MIB, opsSamples: steady(0, TEMPERATURE_WINDOW_MS) })),
    ),
    operators: ['split shard_01 at 2730', 'transfer-leader shard_02 on node3'],
    held: ['merge shard_02 with shard_03: node1 takes part in 1 splits or merges, max 1', 'transfer-leader shard_01 on node2: shard_01 already has an operator this round'],
  },
  {
    name: 'the keyspace shard limit holds across schedulers: a size split fills it and the load split waits',
    snapshot: snapshot(nodes(3), [
      shard('shard_01', { start: 0, end: 8192, replicas: THREE, bytes: 600 * MIB }),
      shard('shard_02', {
        start: 8192,
        end: 16384,
        replicas: ['node2', 'node3', 'node1'],
        opsSamples: steady(3000, 10_000),
        slotLoad: [
          { slot: 9000, ops: 5 },
          { slot: 9100, ops: 5 },
        ],
      }),
    ]),
    config: { shardsPerKeyspaceMax: 3, maxSplits: 5, maxSplitsPerNode: 5 },
    operators: ['split shard_01 at 4096'],
    held: ['split shard_02 at 9100: keyspace default holds 3 shards, max 3'],
  },
  {
    name: 'drain goes before rebalance, and leader rebalance plans after it',
    snapshot: snapshot([node('node1', 'draining'), ...nodes(3).slice(1)], keyspace(2, THREE)),
    operators: ['transfer-leader shard_01 on node2', 'transfer-leader shard_02 on node3'],
    held: [],
  },
];

describe('a scheduling round', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const round = runSchedulers(c.snapshot, { ...SCHEDULER_CONFIG_DEFAULT, ...c.config });
      assert.deepEqual(round.operators.map(brief), c.operators);
      assert.deepEqual(
        round.held.map((h) => `${brief(h.operator)}: ${h.limit}`),
        c.held,
      );
    });
  }

  it('findings come back with their reasons, and nothing is started for them', () => {
    const hot = shard('shard_01', { replicas: THREE, opsSamples: steady(3000, 10_000), slotLoad: [{ slot: 7, ops: 1000 }] });
    const round = runSchedulers(snapshot(nodes(3), [hot]), SCHEDULER_CONFIG_DEFAULT);
    assert.deepEqual(round.operators, []);
    assert.deepEqual(
      round.findings.map((f) => `${f.kind} ${f.shardId} slot ${f.slot}: ${f.reason}`),
      ['unsplittable-hot-slot shard_01 slot 7: ops/s above 2500 for 10 s (lowest 3000), but slot 7 carries 100% of the sampled load'],
    );
  });
});
