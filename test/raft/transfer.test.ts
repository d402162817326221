import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cmd, RaftNetwork } from '../support/raft-network.js';

describe('raft: leadership transfer (Raft thesis §3.10)', () => {
  it('an up-to-date follower becomes leader at once when the leader transfers to it', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    const term = net.raw(1).basicStatus().term;
    assert.deepEqual(net.raw(1).transferLeadership(2), { ok: true });
    net.stabilize();
    // Followers in their leader lease still vote: the transfer overrides the lease.
    assert.equal(net.leader(), 2);
    assert.equal(net.raw(2).basicStatus().term, term + 1);
    assert.equal(net.raw(1).basicStatus().leaderId, 2);
  });

  it('a lagging transferee is first caught up; proposals are refused meanwhile', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, `v${i}`);
    net.heal();
    assert(net.raw(1).transferLeadership(3).ok);
    assert.equal(net.raw(1).basicStatus().leadTransferee, 3);
    assert.deepEqual(net.raw(1).propose(cmd('x')), { ok: false, reason: 'leaderTransferring', leaderId: 1 });
    net.stabilize();
    net.tickAll(2);
    assert.equal(net.leader(), 3);
    assert.equal(net.node(3).appliedCommands().length, 20, 'the new leader holds every committed entry');
  });

  it('a transfer that cannot finish within an election timeout is abandoned', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    assert(net.raw(1).transferLeadership(3).ok);
    net.tickAll(10);
    assert.equal(net.leader(), 1);
    assert.equal(net.raw(1).basicStatus().leadTransferee, 0);
    assert(net.raw(1).propose(cmd('x')).ok);
  });

  it('a follower forwards a transfer request to the leader', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    assert(net.raw(2).transferLeadership(3).ok);
    net.stabilize();
    assert.equal(net.leader(), 3);
  });

  it('transfers to a learner or an unknown node are refused', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.addNode(4);
    assert(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4, context: new Uint8Array() }).ok);
    net.stabilize();
    assert.deepEqual(net.raw(1).transferLeadership(4), { ok: false, reason: 'learner' });
    assert.deepEqual(net.raw(1).transferLeadership(9), { ok: false, reason: 'unknownNode' });
    assert.deepEqual(net.raw(1).transferLeadership(1), { ok: true });
    assert.equal(net.leader(), 1);
  });
});
