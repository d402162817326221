/**
 * A large entry on the bus: a MsgApp carrying one travels alone, after the small messages of its turn.
 * MultiRafts over the simulation's crashable disks, virtual-time scheduler and a recording network.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BATCHED_MESSAGE_BYTES_MAX, MultiRaft } from '../../src/node/multi-raft.js';
import type { PeerMessage } from '../../src/node/peer-message.js';
import type { NodeId } from '../../src/raft/index.js';
import { SimDisk } from '../sim/crashable-storage.js';
import { Scheduler } from '../sim/scheduler.js';
import { NoData } from '../support/no-data.js';

const GROUPS = ['shard_0001', 'shard_0002'] as const;
const TICK_MS = 10;
const ELECTION_TICKS = 10;
const DELIVERY_MS = 2;

/** Three voters of every group in GROUPS, node 1 leading them all. */
async function cluster() {
  const scheduler = new Scheduler();
  const nodes = new Map<NodeId, MultiRaft>();
  const sent: { from: NodeId; to: NodeId; messages: readonly PeerMessage[] }[] = [];
  const ids: NodeId[] = [1, 2, 3];
  for (const id of ids) {
    const disk = new SimDisk(scheduler, { fsyncDelayMs: 1 });
    const multiRaft = new MultiRaft(
      { id, electionTicks: ELECTION_TICKS, heartbeatTicks: 1, random: () => 0.5, requestTimeoutTicks: 10_000, snapshotChunkBytes: 1024, snapshotIdleTicks: 100, compactAfterEntries: 1_000_000, compactKeepEntries: 0 },
      {
        send: (to, messages) => {
          sent.push({ from: id, to, messages });
          scheduler.after(DELIVERY_MS, () => {
            for (const message of messages) nodes.get(to)!.receive(id, message);
          });
        },
        persist: () => disk.commitAll(),
        schedule: (fn) => void scheduler.after(0, fn),
        onFatal: (err) => assert.fail(String(err)),
      },
    );
    for (const group of GROUPS) {
      const log = disk.openRaftLog(group);
      log.bootstrap(ids);
      multiRaft.addGroup(group, log, new NoData());
    }
    nodes.set(id, multiRaft);
    const tick = (): void => {
      multiRaft.tick();
      scheduler.after(TICK_MS, tick);
    };
    scheduler.after(1 + id, tick);
  }
  const node = (id: NodeId): MultiRaft => nodes.get(id)!;
  for (const group of GROUPS) node(1).campaign(group);
  await scheduler.runUntil(200);
  for (const group of GROUPS) assert.equal(node(1).leadership(group)?.role, 'leader', group);
  return { scheduler, node, sent };
}

describe('MultiRaft: large entries', () => {
  it('sends a MsgApp of a large entry alone, after the small messages of its turn', async () => {
    const { scheduler, node, sent } = await cluster();
    sent.length = 0;
    const large = new Uint8Array(BATCHED_MESSAGE_BYTES_MAX + 1).fill(2);
    // Proposed together, so both groups' appends leave in the same turn.
    const written = Promise.all([node(1).propose(GROUPS[0], large), node(1).propose(GROUPS[1], new Uint8Array([3]))]);
    await scheduler.runUntil(scheduler.now() + 200);
    await written;
    const carriesLarge = (m: PeerMessage): boolean => m.t === 'raft' && m.m.type === 'MsgApp' && m.m.entries.some((e) => e.data.length === large.length);
    const carriesSmall = (m: PeerMessage): boolean => m.t === 'raft' && m.m.type === 'MsgApp' && m.m.entries.some((e) => e.data.length === 1);
    for (const to of [2, 3]) {
      const toPeer = sent.filter((s) => s.from === 1 && s.to === to);
      const largeAt = toPeer.findIndex((s) => s.messages.some(carriesLarge));
      const smallAt = toPeer.findIndex((s) => s.messages.some(carriesSmall));
      assert.ok(largeAt >= 0 && smallAt >= 0, `both appends reached node ${to}`);
      assert.equal(toPeer[largeAt]!.messages.length, 1, `the large append to node ${to} shares no batch`);
      assert.ok(smallAt < largeAt, `the small append to node ${to} left first`);
    }
  });
});
