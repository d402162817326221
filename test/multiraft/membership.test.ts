/**
 * How a member learns it was removed from its group: a voter cut off while the others removed it never
 * hears so from the leader (which stops writing to it), so the members that applied its removal tell it
 * when it campaigns. And what a removed member that dropped its copy and was added again may do before
 * a leader gives it the log. MultiRafts over NodeStores on the simulation's fake LMDB, its virtual-time
 * scheduler and a hand-made network that can cut a node off.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeNumberOfReplica, REPLICA_ID_STRIDE } from '../../src/common/replica-ids.js';
import { nextMembershipStep } from '../../src/node/membership-step.js';
import { MultiRaft } from '../../src/multiraft/multi-raft.js';
import type { PeerMessage } from '../../src/multiraft/peer-message.js';
import type { NodeId } from '../../src/raft/index.js';
import type { NodeStore } from '../../src/storage/node-store.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore } from '../sim/sim-store.js';
import { NoData } from '../support/no-data.js';

const GROUP = 'shard_0001';
const TICK_MS = 10;
const DELIVERY_MS = 2;

/**
 * Voters `ids` on their own disks, node 1 leading; `cutOff` nodes neither send nor receive. `random`
 * sets a node's election timeout jitter (default 0.5).
 */
async function voters(ids: readonly NodeId[], random: (id: NodeId) => number = () => 0.5) {
  const scheduler = new Scheduler();
  const cutOff = new Set<NodeId>();
  const nodes = new Map<NodeId, MultiRaft>();
  const disks = new Map<NodeId, NodeStore>();
  for (const id of ids) {
    const { store: disk } = openSimStore({ timers: scheduler, fsyncDelayMs: 1 });
    disks.set(id, disk);
    const multiRaft = new MultiRaft(
      {
        id,
        peerOf: nodeNumberOfReplica,
        electionTicks: 10,
        heartbeatTicks: 1,
        random: () => random(id),
        requestTimeoutTicks: 1000,
        snapshotChunkBytes: 1024,
        snapshotIdleTicks: 100,
        compactAfterEntries: 1_000_000,
        compactKeepEntries: 0,
      },
      {
        send: (to: NodeId, messages: readonly PeerMessage[]) => {
          if (cutOff.has(id) || cutOff.has(to)) return;
          scheduler.after(DELIVERY_MS, () => {
            if (!cutOff.has(to)) for (const message of messages) nodes.get(to)!.receive(id, message);
          });
        },
        persist: () => disk.commitAll(),
        schedule: (fn) => void scheduler.after(0, fn),
        onFatal: (err) => assert.fail(String(err)),
      },
    );
    const log = disk.openRaftLog(GROUP);
    log.bootstrap([...ids]);
    multiRaft.addGroup(GROUP, log, new NoData());
    nodes.set(id, multiRaft);
    const tick = (): void => {
      multiRaft.tick();
      scheduler.after(TICK_MS, tick);
    };
    scheduler.after(1 + id, tick);
  }
  const node = (id: NodeId): MultiRaft => nodes.get(id)!;
  node(1).campaign(GROUP);
  await scheduler.runUntil(200);
  assert.equal(node(1).leadership(GROUP)?.role, 'leader');
  const disk = (id: NodeId): NodeStore => disks.get(id)!;
  return { scheduler, cutOff, node, disk };
}

const threeVoters = () => voters([1, 2, 3]);

describe('MultiRaft: a removed voter hears of its removal', () => {
  it('is told by the members that applied it when it campaigns, and not before', async () => {
    const { scheduler, cutOff, node } = await threeVoters();
    cutOff.add(3);
    assert.deepEqual(node(1).proposeConfChange(GROUP, { type: 'removeNode', nodeId: 3, context: new Uint8Array(0) }), { ok: true });
    await scheduler.runUntil(scheduler.now() + 200);
    assert.deepEqual(node(1).confState(GROUP)?.voters, [1, 2]);
    assert.deepEqual(node(2).confState(GROUP)?.voters, [1, 2]);
    // Node 3 missed its removal: its own log still makes it a voter, and nobody speaks to it.
    assert.deepEqual(node(3).confState(GROUP)?.voters, [1, 2, 3]);
    assert.equal(node(3).ownMembership(GROUP), 'voter');

    cutOff.delete(3);
    await scheduler.runUntil(scheduler.now() + 20 * TICK_MS * 10);
    assert.equal(node(3).ticksSinceLeaderContact(GROUP)! > 20, true, 'the leader no longer writes to node 3');
    assert.deepEqual(node(3).confState(GROUP)?.voters, [1, 2, 3]);
    assert.equal(node(3).ownMembership(GROUP), 'none');
    assert.equal(node(1).ownMembership(GROUP), 'voter');
    assert.equal(node(2).ownMembership(GROUP), 'voter');
  });

  it('counts itself removed, not gone, after applying its own removal, until a member that applied as far says so', async () => {
    // Seed 50109: node5 applied its removal from voters [5, 1000001] as node1 campaigned without having
    // learned it was committed; node5 dropped its copy before its vote left, and node1 could never win.
    const { scheduler, node } = await threeVoters();
    assert.deepEqual(node(1).proposeConfChange(GROUP, { type: 'removeNode', nodeId: 3, context: new Uint8Array(0) }), { ok: true });
    await scheduler.runUntil(scheduler.now() + 200);
    assert.deepEqual(node(3).confState(GROUP)?.voters, [1, 2], 'node 3 applied its own removal');
    assert.equal(node(3).ownMembership(GROUP), 'removed');

    node(3).probeMembership(GROUP, [1, 2]);
    await scheduler.runUntil(scheduler.now() + 50);
    assert.equal(node(3).ownMembership(GROUP), 'none');
  });

  it('ignores a member that has applied no further than itself', async () => {
    const { scheduler, node } = await threeVoters();
    const applied = node(3).appliedIndex(GROUP)!;
    node(3).receive(2, { t: 'not-member', g: GROUP, index: applied });
    await scheduler.runUntil(scheduler.now() + 50);
    assert.equal(node(3).ownMembership(GROUP), 'voter');
  });
});

describe('MultiRaft: a member added again after dropping its copy', () => {
  it('votes for nobody until a leader gave it the log, so a candidate holding a superseded membership cannot win with it', async () => {
    // Node 3 times out first: left to the timeouts, it is the candidate.
    const { scheduler, cutOff, node, disk } = await voters([1, 2, 3, 4, 5], (id) => (id === 3 ? 0 : 0.9));
    const context = new Uint8Array(0);
    // Nodes 2 and 3 miss everything from here: entries committed by 1, 4 and 5, then node 4's removal.
    cutOff.add(2).add(3);
    const writes = Promise.all([node(1).propose(GROUP, new Uint8Array([1])), node(1).propose(GROUP, new Uint8Array([2]))]);
    assert.deepEqual(node(1).proposeConfChange(GROUP, { type: 'removeNode', nodeId: 4, context }), { ok: true });
    await scheduler.runUntil(scheduler.now() + 200);
    const committed = (await writes) as number[];
    assert.deepEqual(node(1).confState(GROUP)?.voters, [1, 2, 3, 5]);
    const lastCommitted = node(1).appliedIndex(GROUP)!;
    assert.equal(lastCommitted > Math.max(...committed), true);
    assert.equal(node(3).appliedIndex(GROUP)! < Math.min(...committed), true, 'node 3 missed the committed entries');

    // Node 4 learns of its removal and drops its copy; added again, it starts the group empty.
    node(4).removeGroup(GROUP);
    const dropped = disk(4).dropShard(GROUP);
    await scheduler.runUntil(scheduler.now() + 10);
    await dropped;
    node(4).addGroup(GROUP, disk(4).openRaftLog(GROUP), new NoData());
    assert.equal(disk(4).openRaftLog(GROUP).lastIndex(), 0);

    // Now only 2, 3 and 4 talk. Node 3 still counts [1, 2, 3, 4, 5] as voters: 2, 3 and 4 are a quorum of
    // that membership, but neither 2 nor 3 holds the entries 1, 4 and 5 committed, so neither may lead.
    cutOff.clear();
    cutOff.add(1).add(5);
    await scheduler.runUntil(scheduler.now() + 100 * 10 * 10);
    for (const id of [2, 3, 4]) assert.notEqual(node(id).leadership(GROUP)?.role, 'leader', `node ${id} leads without entries up to ${lastCommitted}`);

    // Added again by the leader, node 4 gets the log; promoted, it votes: with 1 and 5 cut off, 2, 3 and
    // 4 elect a leader that holds every committed entry.
    const leaderAmong = (ids: readonly NodeId[]): NodeId | undefined => ids.find((id) => node(id).leadership(GROUP)?.role === 'leader');
    cutOff.clear();
    await scheduler.runUntil(scheduler.now() + 1000);
    const healed = leaderAmong([1, 2, 3, 5]);
    assert.notEqual(healed, undefined);
    assert.deepEqual(node(healed!).proposeConfChange(GROUP, { type: 'addLearner', nodeId: 4, context }), { ok: true });
    await scheduler.runUntil(scheduler.now() + 300);
    assert.deepEqual(node(healed!).proposeConfChange(GROUP, { type: 'promoteLearner', nodeId: 4, context }), { ok: true });
    await scheduler.runUntil(scheduler.now() + 300);
    assert.deepEqual(node(4).confState(GROUP)?.voters, [1, 2, 3, 4, 5]);
    cutOff.add(1).add(5);
    await scheduler.runUntil(scheduler.now() + 100 * 10 * 10);
    const leader = leaderAmong([2, 3, 4]);
    assert.notEqual(leader, undefined, 'nodes 2, 3 and 4 elect a leader');
    assert.equal(node(leader!).appliedIndex(GROUP)! > lastCommitted, true);
  });
});

describe('MultiRaft: a replica added again under a new replica id', () => {
  it('is a new member: nothing its earlier incarnation said or was told counts for it, and it starts as a learner', async () => {
    const { scheduler, cutOff, node, disk } = await threeVoters();
    const context = new Uint8Array(0);
    await Promise.all([node(1).propose(GROUP, new Uint8Array([1])), node(1).propose(GROUP, new Uint8Array([2])), scheduler.runUntil(scheduler.now() + 100)]);
    const term = node(1).leadership(GROUP)!.term;
    const acked = node(1).appliedIndex(GROUP)!;
    // What replica 3 says and is told before it leaves, still in flight when it comes back.
    const oldAck: PeerMessage = { t: 'raft', g: GROUP, m: { type: 'MsgAppResp', from: 3, to: 1, term, index: acked, reject: false, rejectHint: 0, logTerm: term } };
    const oldHeartbeat: PeerMessage = { t: 'raft', g: GROUP, m: { type: 'MsgHeartbeat', from: 1, to: 3, term, commit: acked, context: null } };

    assert.deepEqual(node(1).proposeConfChange(GROUP, { type: 'removeNode', nodeId: 3, context }), { ok: true });
    await scheduler.runUntil(scheduler.now() + 200);
    assert.deepEqual(node(1).confState(GROUP)?.voters, [1, 2]);
    node(3).removeGroup(GROUP);
    const dropped = disk(3).dropShard(GROUP);
    await scheduler.runUntil(scheduler.now() + 10);
    await dropped;
    const reborn = 3 + REPLICA_ID_STRIDE;
    node(3).addGroup(GROUP, disk(3).openRaftLog(GROUP), new NoData(), reborn);
    assert.equal(node(3).selfId(GROUP), reborn);

    cutOff.add(3);
    assert.deepEqual(node(1).proposeConfChange(GROUP, { type: 'addLearner', nodeId: reborn, context }), { ok: true });
    await scheduler.runUntil(scheduler.now() + 200);
    assert.deepEqual(node(1).confState(GROUP), { voters: [1, 2], learners: [reborn] });
    node(1).receive(3, oldAck);
    node(3).receive(1, oldHeartbeat);
    await scheduler.runUntil(scheduler.now() + 50);
    const status = node(1).status(GROUP)!;
    assert.equal(status.progress?.get(reborn)?.match, 0, "the old acknowledgement is not the new replica's");
    assert.equal(nextMembershipStep(status, [1, 2, reborn], 1, undefined), undefined, 'an empty learner is not promoted');
    assert.deepEqual(node(3).leadership(GROUP), { leaderId: 0, role: 'follower', term: 0 }, 'the new replica steps nothing addressed to the old one');
    // Nor does it take the old one's heartbeat for a leader speaking to it: cut off, it has heard none since it started.
    assert.equal(node(3).ticksSinceLeaderContact(GROUP)! >= 20, true, `the new replica heard from a leader ${node(3).ticksSinceLeaderContact(GROUP)} ticks ago`);

    cutOff.delete(3);
    await scheduler.runUntil(scheduler.now() + 500);
    assert.equal(node(3).ownMembership(GROUP), 'learner');
    assert.equal(node(3).appliedIndex(GROUP)! >= acked, true, 'it got the log from the leader');
    assert.deepEqual(nextMembershipStep(node(1).status(GROUP)!, [1, 2, reborn], 1, undefined), { kind: 'promoteLearner', nodeId: reborn });
  });
});
