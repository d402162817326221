/**
 * Scripted scenarios on the simulated cluster (test/sim/cluster-sim.ts): a calm network, one named fault
 * at a chosen moment, an expected outcome — then the same end-of-run checks as the seeded runs
 * (convergence, final reads, linearizability of every client command).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeNumberOfReplica, replicaIdOf } from '../../src/common/replica-ids.js';
import { ClusterSim, calmClusterOptions } from '../sim/cluster-sim.js';
import type { ServeOutcome, SimNode } from '../sim/sim-node.js';

const SHARD = 's1';

/** A SET served by `node` as a client's would be. */
function set(node: SimNode, key: string, value: string): Promise<ServeOutcome> {
  return node.serve([Buffer.from('SET'), Buffer.from(key), Buffer.from(value)], true);
}

/** The error message a node answered, or undefined for any other outcome. */
function errorOf(outcome: ServeOutcome | undefined): string | undefined {
  return outcome?.kind === 'reply' && outcome.reply.kind === 'error' ? outcome.reply.message : undefined;
}

async function startedCluster(sim: ClusterSim): Promise<SimNode> {
  await sim.start();
  assert.ok(await sim.runUntil(() => sim.leaderOf(SHARD) !== undefined, 2_000), 'the founding leader is elected');
  return sim.leaderOf(SHARD)!;
}

function commitOf(node: SimNode): number {
  return node.multiRaft.status(SHARD)?.commit ?? 0;
}

test('a leader crashes with writes in flight: their outcome is unknown, a new leader takes over, nothing acknowledged is lost', async () => {
  const sim = new ClusterSim(calmClusterOptions(11, 3, [['node1', 'node2', 'node3']], { clients: 4 }));
  const old = await startedCluster(sim);
  sim.startClients();
  await sim.runFor(500);
  assert.ok(await sim.runUntil(() => old.pendingWrites > 0, 1_000, 1), 'a write is in flight at the leader');
  const before = { ...sim.clientCounters };
  const oldTerm = old.multiRaft.leadership(SHARD)!.term;
  sim.crash(old.name);

  assert.ok(await sim.runUntil(() => (sim.leaderOf(SHARD)?.name ?? old.name) !== old.name, 2_000), 'another member is elected');
  const successor = sim.leaderOf(SHARD)!;
  assert.ok(successor.multiRaft.leadership(SHARD)!.term > oldTerm);
  assert.ok(sim.clientCounters.unknown > before.unknown, 'the writes in flight at the crash have an unknown outcome');
  const acknowledged = sim.clientCounters.ok;
  await sim.runFor(1_000);
  assert.ok(sim.clientCounters.ok > acknowledged + 10, 'clients go on through the new leader');

  sim.restart(old.name);
  await sim.settleAndCheck(10_000);
});

test('a minority partition cannot commit while the majority elects a leader and commits', async () => {
  const nodes = ['node1', 'node2', 'node3', 'node4', 'node5'];
  const sim = new ClusterSim(calmClusterOptions(12, 5, [nodes], { clients: 4 }));
  const old = await startedCluster(sim);
  sim.startClients();
  await sim.runFor(500);
  const minority = [old.name, nodes.find((n) => n !== old.name)!];
  const majority = nodes.filter((n) => !minority.includes(n));
  sim.network.partition(minority, majority);
  const minorityNodes = minority.map((n) => sim.liveNode(n)!);
  const commitAtCut = Math.max(...minorityNodes.map(commitOf));
  let stale: ServeOutcome | undefined;
  void set(old, 'minority-key', 'never').then((outcome) => (stale = outcome));

  for (let t = 0; t < 3_000; t += 20) {
    await sim.runFor(20);
    for (const node of minorityNodes) assert.ok(commitOf(node) <= commitAtCut, `${node.name} commits ${commitOf(node)} past ${commitAtCut} without a majority`);
  }
  const leader = sim.leaderOf(SHARD);
  assert.ok(leader !== undefined && majority.includes(leader.name), 'the majority elects a leader');
  assert.ok(commitOf(leader) > commitAtCut + 10, `the majority commits (${commitOf(leader)} after ${commitAtCut})`);
  assert.match(errorOf(stale) ?? '', /^(ERR the write was not confirmed|MOVED|TRYAGAIN)/, 'the write proposed on the cut-off leader is not acknowledged');
  assert.equal(old.multiRaft.leadership(SHARD)!.role === 'leader', false, 'the cut-off leader stepped down (check-quorum)');

  sim.network.heal();
  await sim.settleAndCheck(10_000);
  for (const name of nodes) assert.equal(sim.liveNode(name)!.replicas.get(SHARD)!.data.get(Buffer.from('minority-key')), undefined, `${name} never applies the minority's write`);
});

test('a lagging follower catches up through a snapshot pulled in many chunks', async () => {
  const calm = calmClusterOptions(13, 3, [['node1', 'node2', 'node3']], { clients: 2 });
  const sim = new ClusterSim({ ...calm, node: { ...calm.node, compactAfterEntries: 20, compactKeepEntries: 5, snapshotChunkBytes: 64 } });
  const leader = await startedCluster(sim);
  const lagging = ['node1', 'node2', 'node3'].find((n) => n !== leader.name)!;
  sim.crash(lagging);
  sim.startClients();
  for (let i = 0; i < 60; i++) {
    const outcome = await sim.drive(set(leader, `fill:${i}`, 'x'.repeat(20)), 3_000, 'a write');
    assert.deepEqual(outcome, { kind: 'reply', reply: { kind: 'simple', value: 'OK' } });
  }
  const firstIndex = leader.raftLog(SHARD)!.firstIndex();
  assert.ok(firstIndex > 30, `the leader compacted its log (first index ${firstIndex})`);

  sim.restart(lagging);
  const follower = sim.liveNode(lagging)!;
  assert.ok(await sim.runUntil(() => follower.multiRaft.appliedIndex(SHARD)! >= firstIndex, 5_000), `${lagging} catches up past the leader's compacted log`);
  const restore = follower.restores.find((r) => r.shardId === SHARD);
  assert.ok(restore !== undefined, `${lagging} restored a snapshot`);
  assert.ok(restore.chunks > 1, `the snapshot came in ${restore.chunks} chunks`);
  await sim.settleAndCheck(10_000);
  assert.equal(follower.replicas.get(SHARD)!.data.keyCount, leader.replicas.get(SHARD)!.data.keyCount);
});

test('a learner is added, caught up and promoted, then the leader is removed: it hands over and drops its replica', async () => {
  const sim = new ClusterSim(calmClusterOptions(14, 4, [['node1', 'node2', 'node3']]));
  const old = await startedCluster(sim);
  sim.startClients();
  await sim.runFor(300);
  const conf = () => sim.leaderOf(SHARD)?.multiRaft.confState(SHARD);

  assert.ok(await sim.drive(sim.addReplica(SHARD, 'node4'), 2_000, 'the pilot taking the change'));
  const added = replicaIdOf(sim.shard(SHARD)!, 'node4');
  assert.ok(await sim.runUntil(() => conf()?.learners.includes(added) === true, 3_000, 5), 'node4 joins as a learner');
  assert.ok(!conf()!.voters.includes(added), 'a learner does not vote yet');
  assert.ok(await sim.runUntil(() => conf()?.voters.includes(added) === true, 3_000, 5), 'the caught-up learner is promoted');
  assert.ok(sim.liveNode('node4')!.restores.length > 0, "node4 started from the leader's snapshot");

  assert.ok(await sim.drive(sim.removeReplica(SHARD, old.name), 2_000, 'the pilot taking the change'));
  assert.ok(
    await sim.runUntil(() => {
      const c = conf();
      return c !== undefined && !c.voters.includes(old.raftId) && !c.learners.includes(old.raftId);
    }, 5_000),
    `${old.name} is removed from the group`,
  );
  assert.notEqual(sim.leaderOf(SHARD)!.name, old.name, 'the leader handed over before it was removed');
  assert.ok(await sim.runUntil(() => !sim.liveNode(old.name)!.multiRaft.hasGroup(SHARD), 5_000), `${old.name} drops its replica`);
  await sim.settleAndCheck(10_000);
  assert.deepEqual(
    [...conf()!.voters],
    [1, 2, 3, added].filter((id) => id !== old.raftId),
  );
});

for (const { when, waitForDrop } of [
  { when: 'once it dropped its copy', waitForDrop: true },
  { when: 'before it dropped its copy', waitForDrop: false },
]) {
  test(`a replica moved off a node and back ${when} rejoins under a new replica id, as a learner, and every write is there`, async () => {
    const sim = new ClusterSim(calmClusterOptions(15, 3, [['node1', 'node2', 'node3']], { clients: 4 }));
    await startedCluster(sim);
    sim.startClients();
    await sim.runFor(300);
    const conf = () => sim.leaderOf(SHARD)?.multiRaft.confState(SHARD);
    const moved = sim.leaderOf(SHARD)!.name === 'node3' ? 'node2' : 'node3';
    const oldId = replicaIdOf(sim.shard(SHARD)!, moved);

    assert.ok(await sim.drive(sim.removeReplica(SHARD, moved), 2_000, 'the pilot taking the change'));
    if (waitForDrop) assert.ok(await sim.runUntil(() => !sim.liveNode(moved)!.multiRaft.hasGroup(SHARD), 5_000), `${moved} drops its replica`);
    assert.ok(await sim.drive(sim.addReplica(SHARD, moved), 2_000, 'the pilot taking the change'));
    const newId = replicaIdOf(sim.shard(SHARD)!, moved);
    assert.notEqual(newId, oldId);
    assert.equal(nodeNumberOfReplica(newId), nodeNumberOfReplica(oldId));
    assert.ok(await sim.runUntil(() => conf()?.learners.includes(newId) === true, 3_000, 5), `${moved} rejoins as a learner under ${newId}`);
    assert.ok(!conf()!.voters.includes(oldId) && !conf()!.learners.includes(oldId), `${oldId} left before ${newId} came`);
    assert.ok(await sim.runUntil(() => conf()?.voters.includes(newId) === true, 3_000, 5), 'the caught-up learner is promoted');
    assert.equal(sim.liveNode(moved)!.multiRaft.selfId(SHARD), newId);
    // settleAndCheck: every replica runs its id, the group is the pilot's, no acknowledged write is lost.
    await sim.settleAndCheck(10_000);
    assert.deepEqual(
      [...conf()!.voters].sort((a, b) => a - b),
      [1, 2, 3].filter((id) => id !== oldId).concat(newId),
    );
  });
}

test('a group of one member commits on its own append: a crash before the fsync takes writes back, and no read saw them', async () => {
  const calm = calmClusterOptions(1, 2, [['node1']], { clients: 4 });
  // Slow fsyncs leave writes applied in memory and not yet durable at many of the crashes.
  const sim = new ClusterSim({ ...calm, node: { ...calm.node, fsyncDelayMsMax: 20 } });
  await sim.start();
  sim.startClients();
  for (let i = 0; i < 20; i++) {
    await sim.runFor(100 + Math.floor(sim.random() * 300));
    sim.crash('node1');
    await sim.runFor(20);
    sim.restart('node1');
  }
  await sim.settleAndCheck(10_000);
  assert.ok(sim.clientCounters.unknown > 0, 'some writes were in flight at a crash');
  assert.ok(sim.clientCounters.ok > 400, `clients got answers (${sim.clientCounters.ok})`);
});

test('a write in flight when its node stops running the group has an unknown outcome: other members may still commit it', async () => {
  const sim = new ClusterSim(calmClusterOptions(16, 3, [['node1', 'node2', 'node3']], { clients: 0 }));
  const leader = await startedCluster(sim);
  const others = ['node1', 'node2', 'node3'].filter((n) => n !== leader.name);
  // The entry reaches the followers, but their acknowledgements never come back.
  let outcome: ServeOutcome | undefined;
  void set(leader, 'in-flight', 'v').then((o) => (outcome = o));
  const entry = leader.multiRaft.status(SHARD)!.lastIndex;
  const appended = (): boolean => others.every((n) => sim.liveNode(n)!.raftLog(SHARD)!.lastIndex() >= entry);
  assert.ok(await sim.runUntil(appended, 100, 1), 'the followers append the entry');
  sim.network.partition([leader.name], others);
  await sim.runFor(20);
  assert.equal(outcome, undefined, 'the write is still in flight');
  // As when a removed member drops its replica.
  leader.multiRaft.removeGroup(SHARD);
  await sim.runFor(1);
  assert.match(errorOf(outcome) ?? '', /^ERR the write was not confirmed/, 'its outcome is unknown');
  sim.network.heal();
  const successor = await sim.runUntil(() => sim.leaderOf(SHARD) !== undefined && sim.leaderOf(SHARD) !== leader, 2_000);
  assert.ok(successor, 'the other members elect a leader');
  assert.ok(await sim.runUntil(() => sim.leaderOf(SHARD)!.replicas.get(SHARD)!.data.get(Buffer.from('in-flight')) !== undefined, 2_000), 'and commit the write anyway');
});
