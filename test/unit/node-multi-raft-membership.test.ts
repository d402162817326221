/**
 * How a member learns it was removed from its group: a voter cut off while the others removed it never
 * hears so from the leader (which stops writing to it), so the members that applied its removal tell it
 * when it campaigns. Three MultiRafts over the simulation's crashable disks, virtual-time scheduler and
 * a hand-made network that can cut a node off.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MultiRaft, type GroupStateMachine } from '../../src/node/multi-raft.js';
import type { PeerMessage } from '../../src/node/peer-message.js';
import type { Entry, NodeId } from '../../src/raft/index.js';
import type { ShardSnapshotReader } from '../../src/storage/types.js';
import { SimDisk } from '../sim/crashable-storage.js';
import { Scheduler } from '../sim/scheduler.js';

const GROUP = 'shard_0001';
const TICK_MS = 10;
const DELIVERY_MS = 2;

class NoData implements GroupStateMachine {
  apply(entry: Entry): unknown {
    return entry.index;
  }
  openSnapshot(): ShardSnapshotReader {
    throw new Error('the members never fall behind a compaction here');
  }
  restore(): void {
    throw new Error('the members never fall behind a compaction here');
  }
}

/** Voters [1, 2, 3] on their own disks, node 1 leading; `cutOff` nodes neither send nor receive. */
async function threeVoters() {
  const scheduler = new Scheduler();
  const cutOff = new Set<NodeId>();
  const nodes = new Map<NodeId, MultiRaft>();
  for (const id of [1, 2, 3]) {
    const disk = new SimDisk(scheduler, { fsyncDelayMs: 1 });
    const multiRaft = new MultiRaft(
      { id, electionTicks: 10, heartbeatTicks: 1, random: () => 0.5, requestTimeoutTicks: 1000, snapshotChunkBytes: 1024, snapshotIdleTicks: 100, compactAfterEntries: 1_000_000, compactKeepEntries: 0 },
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
    log.bootstrap([1, 2, 3]);
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
  return { scheduler, cutOff, node };
}

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

  it('ignores a member that has applied no further than itself', async () => {
    const { scheduler, node } = await threeVoters();
    const applied = node(3).appliedIndex(GROUP)!;
    node(3).receive(2, { t: 'not-member', g: GROUP, index: applied });
    await scheduler.runUntil(scheduler.now() + 50);
    assert.equal(node(3).ownMembership(GROUP), 'voter');
  });
});
