/**
 * A removed voter whose own log still lists it, and whose listed peers have all left the group, learns of
 * its removal by asking the nodes the routing table now lists: a member answers that its membership has
 * no place for it. Simulation seed 82 (after the split faults were added): node3, removed from s1 while
 * cut off and crashed, restarted with voters [3, 1000004]; node4 had dropped its replica, node2 (the one
 * member left) was not in node3's log, and node3 campaigned for good with nobody to tell it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MultiRaft } from '../../src/multiraft/multi-raft.js';
import type { NodeId } from '../../src/raft/index.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore } from '../sim/sim-store.js';
import { NoData } from '../support/no-data.js';
import { testMultiRaftConfig } from '../support/test-multi-raft-config.js';

const GROUP = 's1';
const TICK_MS = 10;
const DELIVERY_MS = 2;

describe('MultiRaft: a membership probe', () => {
  it('tells a removed voter its removal, from a member of the group its own log does not list', async () => {
    const scheduler = new Scheduler();
    const nodes = new Map<NodeId, MultiRaft>();
    const start = (id: NodeId, voters: NodeId[]): MultiRaft => {
      const { store } = openSimStore({ timers: scheduler, fsyncDelayMs: 1 });
      const multiRaft = new MultiRaft(testMultiRaftConfig(id), {
        send: (to, messages) =>
          void scheduler.after(DELIVERY_MS, () => {
            for (const m of messages) nodes.get(to)?.receive(id, m);
          }),
        persist: () => store.commitAll(),
        schedule: (fn) => void scheduler.after(0, fn),
        onFatal: (err) => assert.fail(String(err)),
      });
      const log = store.openRaftLog(GROUP);
      log.bootstrap(voters);
      multiRaft.addGroup(GROUP, log, new NoData());
      nodes.set(id, multiRaft);
      const tick = (): void => {
        multiRaft.tick();
        scheduler.after(TICK_MS, tick);
      };
      scheduler.after(TICK_MS, tick);
      return multiRaft;
    };
    // Node 2 leads the group of one it is now; node 3's log still says voters [3, 4], and node 4 is gone.
    const member = start(2, [2]);
    member.campaign(GROUP);
    const removed = start(3, [3, 4]);
    await scheduler.runUntil(500);
    assert.equal(member.leadership(GROUP)?.role, 'leader');
    assert.equal(removed.ownMembership(GROUP), 'voter', 'its campaign reaches nobody who could tell it');

    removed.probeMembership(GROUP, [2, 4]);
    await scheduler.runUntil(scheduler.now() + 50);
    assert.equal(removed.ownMembership(GROUP), 'none');
    assert.equal(member.ownMembership(GROUP), 'voter', 'the probe changes nothing for the member');
  });
});
