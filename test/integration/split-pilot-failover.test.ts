/**
 * A split survives a change of the pilot's leader in the middle of it: three pilot replicas, kill -9 of
 * the leading one while the split transfers its snapshot or catches up. Another replica takes over, the
 * split completes, the routing table gives source and target adjacent ranges with every slot owned once,
 * the writers saw no error and lost no acknowledged write, and the killed replica catches up when restarted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingTable } from '../../src/common/routing.js';
import { SLOT_COUNT } from '../../src/common/slots.js';
import { leadingPilot, pilotView, TestCluster, waitUntil } from '../support/cluster.js';
import { SPLIT_PHASES, startSplit, waitForStatus, type SplitTask } from '../support/splits.js';
import { assertAllReadable, clusterSlots, failoverClient, keysInSlots, keysPerRange, setAll, Writers, type SlotRange } from '../support/writers.js';

/** Fails unless `ranges` cover every slot exactly once. */
function assertEverySlotOnce(ranges: readonly { start: number; end: number }[], what: string): void {
  const owners = new Array<number>(SLOT_COUNT).fill(0);
  for (const { start, end } of ranges) for (let slot = start; slot < end; slot++) owners[slot]!++;
  const wrong = owners.flatMap((n, slot) => (n === 1 ? [] : [`slot ${slot}: ${n} owners`]));
  assert.deepEqual(wrong.slice(0, 5), [], `${what}: ${wrong.length} slots not owned exactly once`);
}

/** A pilot's metric, from its own /metrics (every replica answers it). */
async function metric(url: string, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('a split across a pilot leader change (3 pilots, 3 nodes, 3 replicas)', () => {
  it('kill -9 of the leading pilot mid-split: a new leader, the split completes, slots owned once, no client error, no lost write', async (t) => {
    // 1 kB chunks of 1 kB values make the transfer last seconds; frequent reports keep the pilot involved.
    const cluster = await TestCluster.start({ nodes: 3, pilots: 3, replicas: 3, extraPilotArgs: ['--split-snapshot-chunk-bytes', '1024', '--split-progress-interval-ms', '100'] });
    const client = failoverClient(cluster);
    try {
      const before = (await cluster.api('GET', '/api/v1/routing')).json as RoutingTable;
      const source = before.shards.find((s) => s.start === 0)!;
      const value = (k: string): string => `v-${k}-${'x'.repeat(1000)}`;
      const preload = keysInSlots('pre', 1000, source.start, source.end - 1);
      await setAll(client, preload, value);
      const range: SlotRange = (await clusterSlots(cluster.nodes[0]!.port)).find((r) => r.start === source.start)!;
      const writers = new Writers(client, keysPerRange([range], 64), 4);

      let killed: number;
      let task: SplitTask;
      try {
        const taskId = await startSplit(cluster, source.id);
        const midway = await waitForStatus(cluster, taskId, SPLIT_PHASES.slice(1));
        assert.ok(['snapshot_transfer', 'catching_up'].includes(midway.status), `the split was already ${midway.status} when the pilot was to be killed`);
        killed = await leadingPilot(cluster.pilots);
        assert.ok(killed >= 0, 'a pilot leads');
        const oldTerm = (await pilotView(cluster.pilots[killed]!)).term;
        const killedAt = Date.now();
        await cluster.pilots[killed]!.kill('SIGKILL');
        t.diagnostic(`killed the leading ${cluster.pilots[killed]!.name} during ${midway.status}`);

        await waitUntil(
          'a new pilot leader',
          async () => (await leadingPilot(cluster.pilots)) >= 0,
          () => cluster.pilots.map((p) => p.log).join('\n'),
          10_000,
        );
        const leader = cluster.pilots[await leadingPilot(cluster.pilots)]!;
        assert.notEqual(leader, cluster.pilots[killed]);
        assert.ok((await pilotView(leader)).term > oldTerm, 'the new leader was elected in a later term');
        t.diagnostic(`${leader.name} serves ${Date.now() - killedAt} ms after the kill`);

        task = await waitForStatus(cluster, taskId, ['completed', 'failed', 'cancelled']);
      } finally {
        await writers.stop();
      }
      assert.equal(task.status, 'completed', JSON.stringify(task));
      assert.deepEqual(Object.keys(task.phases), SPLIT_PHASES);
      t.diagnostic(
        `phases (ms): ${SPLIT_PHASES.slice(1)
          .map((p, i) => `${SPLIT_PHASES[i]} ${task.phases[p]! - task.phases[SPLIT_PHASES[i]!]!}`)
          .join(', ')}`,
      );
      const splitSlot = task.split_slot!;
      assert.ok(splitSlot > source.start && splitSlot < source.end, `split slot ${splitSlot} within [${source.start}, ${source.end})`);

      assert.equal(writers.errors, 0, 'no error reached ioredis');
      assert.ok(writers.acked.size > 0, 'writes were acknowledged');
      await writers.verify((key) => client.get(key));
      await assertAllReadable(client, preload, value);

      // The pilot's table: source and target adjacent at the split slot, no split marker left.
      const after = (await cluster.api('GET', '/api/v1/routing')).json as RoutingTable;
      const shard = (id: string) => after.shards.find((s) => s.id === id)!;
      assert.deepEqual([shard(source.id).start, shard(source.id).end, shard(source.id).split], [source.start, splitSlot, undefined]);
      assert.deepEqual([shard(task.target_shard).start, shard(task.target_shard).end, shard(task.target_shard).split], [splitSlot, source.end, undefined]);
      assert.equal(after.shards.length, before.shards.length + 1);
      assertEverySlotOnce(after.shards, 'the routing table');

      // What clients see: every node's CLUSTER SLOTS has the two halves, every slot once.
      const halves = [`${source.start}-${splitSlot - 1}`, `${splitSlot}-${source.end - 1}`];
      await waitUntil('every node lists both halves', async () =>
        (await Promise.all(cluster.nodes.map((n) => clusterSlots(n.port)))).every((ranges) => halves.every((h) => ranges.some((r) => `${r.start}-${r.end}` === h))),
      );
      for (const node of cluster.nodes) {
        const ranges = await clusterSlots(node.port);
        assert.equal(ranges.length, before.shards.length + 1, `${node.name}: ${JSON.stringify(ranges)}`);
        assertEverySlotOnce(
          ranges.map((r) => ({ start: r.start, end: r.end + 1 })),
          `${node.name}'s CLUSTER SLOTS`,
        );
      }

      // The killed replica, restarted, applies the same history: the completed split and the same table.
      const restarted = cluster.pilots[killed]!;
      restarted.start();
      await waitUntil(
        `${restarted.name} caught up`,
        async () => {
          const leaderView = await pilotView(cluster.pilots[await leadingPilot(cluster.pilots)]!);
          const mine = await pilotView(restarted);
          const version = ((await cluster.api('GET', '/api/v1/routing')).json as RoutingTable).version;
          return (
            !mine.serving &&
            mine.leader === leaderView.id &&
            mine.applied_index >= leaderView.commit_index &&
            (await metric(restarted.url, 'cleave_pilot_routing_version')) === version &&
            // A cleanup phase has an end only in a completed split.
            (await metric(restarted.url, 'cleave_split_phase_seconds_count{phase="cleanup"}')) === 1
          );
        },
        () => restarted.log,
        15_000,
      );
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  });
});
