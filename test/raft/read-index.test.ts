import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cmd, RaftNetwork } from '../support/raft-network.js';

describe('raft: linearizable reads by ReadIndex (Raft thesis §6.4)', () => {
  it('the leader gives a read state only after a quorum confirms its leadership by a heartbeat round', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'x');
    assert.deepEqual(net.raw(1).readIndex(cmd('r1')), { ok: true });
    net.flushReadies();
    assert.deepEqual(net.node(1).readStates, [], 'no answer before the heartbeat round');
    const heartbeats = net.inflight.filter((m) => m.type === 'MsgHeartbeat');
    assert.equal(heartbeats.length, 2);
    assert(heartbeats.every((m) => m.type === 'MsgHeartbeat' && new TextDecoder().decode(m.context ?? new Uint8Array()) === 'r1'));
    net.stabilize();
    assert.deepEqual(net.node(1).readStates, [{ index: net.raw(1).basicStatus().commit, context: cmd('r1') }]);
  });

  it('one acknowledging follower suffices in a 3-node group (leader + 1 is a quorum)', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    net.raw(1).readIndex(cmd('r'));
    net.stabilize();
    assert.equal(net.node(1).readStates.length, 1);
  });

  it('a deposed leader cut off from the quorum never answers a read (it would be stale)', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { checkQuorum: false } });
    net.campaign(1);
    net.isolate(1);
    net.campaign(2);
    net.propose(2, 'newer');
    assert.equal(net.raw(1).basicStatus().role, 'leader', '1 still believes it leads');
    assert.deepEqual(net.raw(1).readIndex(cmd('stale?')), { ok: true });
    for (let i = 0; i < 30; i++) net.tickAll();
    assert.deepEqual(net.node(1).readStates, []);
  });

  it('a follower forwards the read to the leader and serves it once it has applied the read index', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'x');
    assert.deepEqual(net.raw(2).readIndex(cmd('f')), { ok: true });
    net.stabilize();
    const [rs] = net.node(2).readStates;
    assert(rs !== undefined);
    assert.equal(rs.index, net.raw(1).basicStatus().commit);
    assert(net.node(2).appliedIndex >= rs.index);
  });

  it('a new leader holds reads until an entry of its own term commits', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    // Leadership moves to 2, whose MsgApps (carrying its empty entry) are lost: nothing of its term commits.
    net.raw(1).transferLeadership(2);
    net.intercept = (m) => (m.type === 'MsgApp' && m.from === 2 ? null : m);
    net.stabilize();
    assert.equal(net.leader(), 2);
    assert.equal(net.raw(2).readIndex(cmd('r')).ok, true);
    net.stabilize();
    assert.deepEqual(net.node(2).readStates, []);
    net.intercept = null;
    net.tickAll(2);
    const [rs] = net.node(2).readStates;
    assert(rs !== undefined);
    assert.equal(rs.index, net.raw(2).basicStatus().commit);
  });

  it('one heartbeat round confirms every read queued before it', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    for (const c of ['a', 'b', 'c']) net.raw(1).readIndex(cmd(c));
    // Only the last request's heartbeat round gets through.
    net.intercept = (m) => (m.type === 'MsgHeartbeat' && m.context !== null && m.context[0] !== 'c'.charCodeAt(0) ? null : m);
    net.stabilize();
    assert.deepEqual(
      net.node(1).readStates.map((r) => new TextDecoder().decode(r.context)),
      ['a', 'b', 'c'],
    );
  });

  it('a single-node group answers at once', () => {
    const net = new RaftNetwork({ voters: [1] });
    net.campaign(1);
    net.raw(1).readIndex(cmd('r'));
    net.flushReadies();
    assert.equal(net.node(1).readStates.length, 1);
  });

  it('lease-based reads are answered without a heartbeat round', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { readOnlyOption: 'leaseBased' } });
    net.campaign(1);
    net.raw(1).readIndex(cmd('r'));
    net.flushReadies();
    assert.equal(net.node(1).readStates.length, 1);
    assert.equal(net.inflight.length, 0);
  });

  it('a node that knows no leader refuses the read', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    assert.deepEqual(net.raw(2).readIndex(cmd('r')), { ok: false, reason: 'notLeader', leaderId: 0 });
  });

  it('the leader bounds pending reads (maxPendingReadRequests)', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { maxPendingReadRequests: 2 } });
    net.campaign(1);
    assert.equal(net.raw(1).readIndex(cmd('1')).ok, true);
    assert.equal(net.raw(1).readIndex(cmd('2')).ok, true);
    assert.deepEqual(net.raw(1).readIndex(cmd('3')), { ok: false, reason: 'tooManyPendingReads', leaderId: 1 });
    net.stabilize();
    assert.equal(net.raw(1).readIndex(cmd('3')).ok, true);
  });
});
