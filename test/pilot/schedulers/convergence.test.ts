/**
 * Convergence over seeded random clusters: carrying out every round's operators reaches replica and leader
 * counts within one on the up nodes, every shard at the replication factor on up nodes only, within a
 * bounded number of rounds; then rounds return nothing (no flapping). A failure names its seed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSchedulers } from '../../../src/pilot/schedulers/run-schedulers.js';
import { shardLoad, shardTemperature } from '../../../src/pilot/schedulers/temperature.js';
import { type ClusterSnapshot, REPLICATION_FACTOR, SCHEDULER_CONFIG_DEFAULT, TEMPERATURE_WINDOW_MS } from '../../../src/pilot/schedulers/types.js';
import { seededRandom } from '../../support/seeded-random.js';
import { applyOperator, countsOf, GIB, keyspace, MIB, NOW_MS, node, nodes, snapshot, spread, steady } from './cluster-fixture.js';

type Scenario = 'new nodes' | 'a node down for good' | 'a draining node' | 'hot shards';
const SCENARIOS: readonly Scenario[] = ['new nodes', 'a node down for good', 'a draining node', 'hot shards'];
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/** Rounds a cluster may take: every shard may need a few moves, two at a time. */
const roundsMax = (shardCount: number): number => 4 * shardCount + 10;
const QUIET_ROUNDS = 3;

/**
 * 4 to 8 nodes; 6 to 40 shards of three replicas placed at random on the nodes that were there first (the
 * others are new and empty), each led by a random replica; then one node down 10 minutes or draining, or
 * a quarter of the shards hot (below the load split threshold).
 */
function randomCluster(seed: number, scenario: Scenario): ClusterSnapshot {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const nodeCount = 4 + pick(5);
  const oldNodes = nodes(nodeCount)
    .slice(0, Math.max(REPLICATION_FACTOR + 1, nodeCount - 1 - pick(2)))
    .map((n) => n.id);
  const shards = keyspace(6 + pick(35), [], () => {
    const replicas = [...oldNodes].sort(() => random() - 0.5).slice(0, REPLICATION_FACTOR);
    const opsSamples = scenario === 'hot shards' && pick(4) === 0 ? steady(1000 + pick(1400), TEMPERATURE_WINDOW_MS) : [];
    return { replicas, leader: replicas[pick(REPLICATION_FACTOR)], opsSamples };
  });
  const victim = oldNodes[pick(oldNodes.length)]!;
  const clusterNodes = nodes(nodeCount).map((n) =>
    n.id !== victim || scenario === 'new nodes' || scenario === 'hot shards'
      ? n
      : scenario === 'a draining node'
        ? node(n.id, 'draining')
        : node(n.id, 'down', NOW_MS - 10 * 60_000),
  );
  return snapshot(clusterNodes, shards);
}

describe('convergence on seeded random clusters', () => {
  for (const scenario of SCENARIOS) {
    for (const seed of SEEDS) {
      it(`with ${scenario}, seed ${seed}: counts within one on the up nodes, then no more operators`, () => {
        let cluster = randomCluster(seed, scenario);
        const limit = roundsMax(cluster.shards.length);
        let rounds = 0;
        for (; rounds < limit; rounds++) {
          const { operators } = runSchedulers(cluster, SCHEDULER_CONFIG_DEFAULT);
          if (operators.length === 0) break;
          cluster = operators.reduce(applyOperator, cluster);
        }
        assert.ok(rounds < limit, `seed ${seed}: still changing after ${limit} rounds`);
        const up = cluster.nodes.filter((n) => n.state === 'up').map((n) => n.id);
        const counts = countsOf(cluster, up);
        assert.ok(spread(counts.replicas) <= 1, `seed ${seed}: replicas per up node ${counts.replicas}`);
        assert.ok(spread(counts.leaders) <= 1, `seed ${seed}: leaders per up node ${counts.leaders}`);
        for (const shard of cluster.shards) {
          assert.equal(shard.replicas.length, REPLICATION_FACTOR, `seed ${seed}: ${shard.id} has ${shard.replicas}`);
          assert.ok(
            shard.replicas.every((n) => up.includes(n)),
            `seed ${seed}: ${shard.id} on ${shard.replicas}`,
          );
        }
        const hottest = cluster.shards
          .filter((s) => shardTemperature(s, cluster.nowMs, SCHEDULER_CONFIG_DEFAULT) === 'hot')
          .sort((a, b) => shardLoad(b, cluster.nowMs, SCHEDULER_CONFIG_DEFAULT) - shardLoad(a, cluster.nowMs, SCHEDULER_CONFIG_DEFAULT))
          .slice(0, up.length);
        assert.equal(new Set(hottest.map((s) => s.leader)).size, hottest.length, `seed ${seed}: the hottest shards share a leader`);
        for (let quiet = 0; quiet < QUIET_ROUNDS; quiet++) {
          cluster = { ...cluster, nowMs: cluster.nowMs + 10_000 };
          assert.deepEqual(runSchedulers(cluster, SCHEDULER_CONFIG_DEFAULT).operators, [], `seed ${seed}: flapping`);
        }
      });
    }
  }
});

/** Rounds with the clock moving `stepMs` each and every shard idle over the temperature window, until quiet. */
function settleIdle(start: ClusterSnapshot, stepMs: number, limit: number): { cluster: ClusterSnapshot; rounds: number } {
  let cluster = start;
  for (let rounds = 0; rounds < limit; rounds++) {
    const nowMs = cluster.nowMs + stepMs;
    cluster = { ...cluster, nowMs, shards: cluster.shards.map((s) => ({ ...s, opsSamples: steady(0, TEMPERATURE_WINDOW_MS, nowMs) })) };
    const { operators } = runSchedulers(cluster, SCHEDULER_CONFIG_DEFAULT);
    if (operators.length === 0) return { cluster, rounds };
    cluster = operators.reduce(applyOperator, cluster);
  }
  assert.fail(`still changing after ${limit} rounds`);
}

describe('splits and merges settle', () => {
  it('a 4 GiB shard splits, one split at a time, into eight of 512 MiB, and no merge undoes them', () => {
    const { cluster, rounds } = settleIdle(
      snapshot(
        nodes(3),
        keyspace(1, ['node1', 'node2', 'node3'], () => ({ bytes: 4 * GIB })),
      ),
      11 * 60_000,
      20,
    );
    assert.deepEqual(
      cluster.shards.map((s) => s.bytes / MIB),
      [512, 512, 512, 512, 512, 512, 512, 512],
    );
    assert.ok(rounds <= 8, `${rounds} rounds`);
  });

  it('sixteen idle shards of 10 MiB merge, smallest pairs first, into one of 160 MiB, which does not split', () => {
    const { cluster, rounds } = settleIdle(
      snapshot(
        nodes(3),
        keyspace(16, ['node1', 'node2', 'node3'], () => ({ bytes: 10 * MIB })),
      ),
      60_000,
      40,
    );
    assert.deepEqual(
      cluster.shards.map((s) => [s.slots.start, s.slots.end, s.bytes / MIB]),
      [[0, 16384, 160]],
    );
    assert.ok(rounds <= 16, `${rounds} rounds`);
  });
});
