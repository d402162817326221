/**
 * Heartbeats may leave before the Ready that holds them is persisted, but only when the term and vote they
 * speak for are durable: a member must never act in a term its disk does not know. And a heartbeat taken
 * early tells no commit index beyond the leader's durable one: a follower that applied an entry on a
 * leader's word that the leader's crash then takes back (a membership change that dropped the follower's
 * copy, say) could leave the group without a quorum.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cmd, RaftNetwork } from '../support/raft-network.js';

describe('raft: heartbeats taken ahead of a Ready', () => {
  it('a leader in a durable term hands out its heartbeats at once, and the next Ready has none', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.raw(1).tick();
    const heartbeats = net.raw(1).takeHeartbeats();
    assert.deepEqual(
      heartbeats.map((m) => `${m.type} ${m.from}->${m.to}`),
      ['MsgHeartbeat 1->2', 'MsgHeartbeat 1->3'],
    );
    assert.equal(net.raw(1).takeHeartbeats().length, 0, 'taken once');
    const ready = net.raw(1).hasReady() ? net.raw(1).ready() : undefined;
    assert.deepEqual(ready?.messages.filter((m) => m.type === 'MsgHeartbeat') ?? [], []);
  });

  it('a member that moved to a new term keeps its heartbeat answer for the Ready that persists the term', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    const term = net.raw(3).basicStatus().term;
    net.raw(3).step({ type: 'MsgHeartbeat', from: 2, to: 3, term: term + 1, commit: 0, context: null });
    assert.deepEqual(net.raw(3).takeHeartbeats(), [], 'the new term is not durable yet');
    const ready = net.raw(3).ready();
    assert.equal(ready.hardState?.term, term + 1);
    assert.deepEqual(
      ready.messages.map((m) => `${m.type} ${m.to} term ${m.term}`),
      [`MsgHeartbeatResp 2 term ${term + 1}`],
    );
    net.raw(3).advance(ready);
    net.raw(3).step({ type: 'MsgHeartbeat', from: 2, to: 3, term: term + 1, commit: 0, context: null });
    assert.deepEqual(
      net
        .raw(3)
        .takeHeartbeats()
        .map((m) => `${m.type} ${m.to} term ${m.term}`),
      [`MsgHeartbeatResp 2 term ${term + 1}`],
      'once the term is durable, answers leave at once',
    );
  });

  it('a heartbeat taken ahead of the Ready carries no commit index the leader has not made durable', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    const durableCommit = net.raw(1).basicStatus().commit;
    assert.equal(net.raw(1).propose(cmd('x')).ok, true);
    net.handleReady(1);
    for (const id of [2, 3]) {
      for (const m of net.inflight.filter((m) => m.to === id)) net.deliver(m);
      net.handleReady(id);
    }
    // The acknowledgements reach the leader, which commits in memory; its next Ready is not persisted yet.
    for (const m of net.inflight.filter((m) => m.to === 1 && m.type === 'MsgAppResp')) net.raw(1).step(m);
    assert.ok(net.raw(1).basicStatus().commit > durableCommit, 'the leader committed the entry in memory');
    net.raw(1).tick();
    const heartbeats = net.raw(1).takeHeartbeats();
    assert.equal(heartbeats.length, 2);
    for (const m of heartbeats) assert.equal(m.type === 'MsgHeartbeat' && m.commit, durableCommit, `to ${m.to}`);
  });
});
