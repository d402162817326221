/**
 * A slow persist is a busy node, not a dead one: while one LMDB transaction takes seconds (a 100 MB
 * entry), heartbeats and their answers still flow, so no member campaigns and no leader steps down; and
 * a member whose every persist outlasts the election timeout still wins an election.
 * MultiRafts over NodeStores on the simulation's fake LMDB, virtual-time scheduler and network.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MultiRaft } from '../../src/multiraft/multi-raft.js';
import type { NodeId } from '../../src/raft/index.js';
import { ELECTION_TICKS, multiRaftCluster, TICK_MS } from '../support/multi-raft-cluster.js';

const GROUPS = ['shard_0001', 'shard_0002'] as const;
/** Thirty election timeouts. */
const STALL_MS = 3_000;

/** Node 1 leading every group of GROUPS; `stall(id)` makes that node's next persist take STALL_MS. */
async function cluster() {
  const stalled = new Set<NodeId>();
  // Transactions land one after another, as LMDB's single writer makes them.
  const lastPersist = new Map<NodeId, Promise<void>>();
  const { scheduler, node } = await multiRaftCluster({
    groups: GROUPS,
    persist: (id, commit, scheduler) => {
      const written = commit();
      const stallMs = stalled.delete(id) ? STALL_MS : 0;
      const done = Promise.all([lastPersist.get(id), written]).then(() => (stallMs > 0 ? scheduler.sleep(stallMs) : undefined));
      lastPersist.set(id, done);
      return done;
    },
  });
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

  it('hands leadership to a member whose every persist takes longer than an election timeout', async () => {
    // Twice the longest randomized election timeout: the transferee's vote requests wait that long for its disk.
    const slowMs = 4 * ELECTION_TICKS * TICK_MS;
    let slowFrom = Number.POSITIVE_INFINITY;
    const { scheduler, node } = await multiRaftCluster({
      groups: GROUPS,
      persist: (id, commit, scheduler) => {
        const written = commit();
        return id === 2 && scheduler.now() >= slowFrom ? written.then(() => scheduler.sleep(slowMs)) : written;
      },
    });
    slowFrom = scheduler.now();
    assert.equal(node(1).transferLeadership(GROUPS[0], 2), true);
    await scheduler.runUntil(scheduler.now() + 4 * slowMs);
    assert.deepEqual(leaderships(node).slice(0, 3), [
      `${GROUPS[0]} node1 follower leader=2 term=3`,
      `${GROUPS[0]} node2 leader leader=2 term=3`,
      `${GROUPS[0]} node3 follower leader=2 term=3`,
    ]);
  });
});
