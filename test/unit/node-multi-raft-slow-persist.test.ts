/**
 * A slow persist is a busy node, not a dead one: while one LMDB transaction takes seconds (a 100 MB
 * entry), heartbeats and their answers still flow, so no member campaigns and no leader steps down.
 * MultiRafts over the simulation's crashable disks, virtual-time scheduler and network.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MultiRaft } from '../../src/node/multi-raft.js';
import type { NodeId } from '../../src/raft/index.js';
import { SimDisk } from '../sim/crashable-storage.js';
import { Scheduler } from '../sim/scheduler.js';
import { NoData } from '../support/no-data.js';

const GROUPS = ['shard_0001', 'shard_0002'] as const;
const TICK_MS = 10;
const ELECTION_TICKS = 10;
const DELIVERY_MS = 2;
/** Thirty election timeouts. */
const STALL_MS = 3_000;

/** Three voters of every group in GROUPS, node 1 leading them all; `stall(id)` makes that node's next persist take STALL_MS. */
async function cluster() {
  const scheduler = new Scheduler();
  const nodes = new Map<NodeId, MultiRaft>();
  const stalled = new Set<NodeId>();
  const ids: NodeId[] = [1, 2, 3];
  for (const id of ids) {
    const disk = new SimDisk(scheduler, { fsyncDelayMs: 1 });
    // Transactions land one after another, as LMDB's single writer makes them.
    let lastPersist: Promise<void> = Promise.resolve();
    const multiRaft = new MultiRaft(
      { id, electionTicks: ELECTION_TICKS, heartbeatTicks: 1, random: () => 0.5, requestTimeoutTicks: 10_000, snapshotChunkBytes: 1024, snapshotIdleTicks: 100, compactAfterEntries: 1_000_000, compactKeepEntries: 0 },
      {
        send: (to, messages) => {
          scheduler.after(DELIVERY_MS, () => {
            for (const message of messages) nodes.get(to)!.receive(id, message);
          });
        },
        persist: () => {
          const written = disk.commitAll();
          const stallMs = stalled.delete(id) ? STALL_MS : 0;
          lastPersist = Promise.all([lastPersist, written]).then(() => (stallMs > 0 ? scheduler.sleep(stallMs) : undefined));
          return lastPersist;
        },
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
  return { scheduler, node, stall: (id: NodeId) => stalled.add(id) };
}

/** Every member's view of every group: `group node role leader term`. */
function leaderships(node: (id: NodeId) => MultiRaft): string[] {
  return GROUPS.flatMap((group) =>
    ([1, 2, 3] as NodeId[]).map((id) => {
      const l = node(id).leadership(group)!;
      return `${group} node${id} ${l.role} leader=${l.leaderId} term=${l.term}`;
    }),
  );
}

describe('MultiRaft: a slow persist', () => {
  for (const stalledIds of [[1], [2, 3], [1, 2, 3]] as NodeId[][]) {
    it(`keeps every leadership while node ${stalledIds.join(', node ')} persists for ${STALL_MS} ms`, async () => {
      const { scheduler, node, stall } = await cluster();
      const before = leaderships(node);
      for (const id of stalledIds) stall(id);
      const written = node(1).propose(GROUPS[0], new Uint8Array([7]));
      // The leader's slow persist, then the followers' (they start theirs when its append reaches them).
      await scheduler.runUntil(scheduler.now() + 2 * STALL_MS + 500);
      await written;
      assert.deepEqual(leaderships(node), before);
    });
  }
});
