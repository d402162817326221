import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRaftStorage, RawNode, type MsgAppResp } from '../../src/raft/index.js';
import { RaftNetwork, seededRandom } from '../support/raft-network.js';

/** A network where node 3 missed `count` proposals and the others compacted them away. */
function laggingFollowerAfterCompaction(count: number): RaftNetwork {
  const net = new RaftNetwork({ voters: [1, 2, 3] });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < count; i++) net.propose(1, `v${i}`);
  for (const id of [1, 2]) net.node(id).compact();
  assert(net.node(1).storage.firstIndex() > net.node(3).storage.lastIndex() + 1, 'what 3 needs is compacted');
  return net;
}

describe('raft: log compaction and snapshots (Raft paper §7)', () => {
  it('the leader sends a snapshot to a follower that lags behind its compacted log', () => {
    const net = laggingFollowerAfterCompaction(30);
    net.heal();
    const start = net.trace.length;
    net.tickAll(3);
    assert.equal(net.trace.slice(start).filter((l) => l.startsWith('1->3 MsgSnap')).length, 1);
    assert.deepEqual(net.node(3).appliedCommands(), net.node(1).appliedCommands());
    assert.equal(net.node(3).storage.snapshot().metadata.index, net.node(1).storage.snapshot().metadata.index);
    // Replication continues by MsgApp after the snapshot.
    net.propose(1, 'after');
    assert.equal(net.node(3).appliedCommands().at(-1), 'after');
    assert.equal(net.raw(1).status().progress?.get(3)?.state, 'replicate');
    net.checkLogMatching();
  });

  it('a snapshot the transport failed to deliver is sent again', () => {
    const net = laggingFollowerAfterCompaction(10);
    net.heal();
    let dropped = 0;
    net.intercept = (m) => (m.type === 'MsgSnap' && dropped++ === 0 ? null : m);
    net.tickAll(5);
    assert.equal(dropped, 2, 'the first was dropped (and reported), the second delivered');
    assert.deepEqual(net.node(3).appliedCommands(), net.node(1).appliedCommands());
  });

  it('a restarted node rebuilds its state from its snapshot and replays the log after it', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    for (let i = 0; i < 10; i++) net.propose(1, `a${i}`);
    net.node(2).compact();
    for (let i = 0; i < 5; i++) net.propose(1, `b${i}`);
    const before = net.node(2).appliedCommands();
    net.crash(2);
    net.restart(2);
    assert.equal(net.node(2).appliedCommands().length, 10, 'state as of the snapshot');
    net.tickAll(2);
    assert.deepEqual(net.node(2).appliedCommands(), before);
  });

  it("a follower that already holds the snapshot's last entry only moves its commit index", () => {
    const storage = MemoryRaftStorage.bootstrap([1, 2]);
    storage.append([2, 3, 4].map((index) => ({ index, term: 2, type: 'normal' as const, data: new Uint8Array() })));
    storage.setHardState({ term: 2, vote: 1, commit: 1 });
    const node = new RawNode({ id: 2, storage, random: seededRandom(1), electionTicks: 10, heartbeatTicks: 1, maxInflightMsgs: 4, maxSizePerMsgBytes: 1024 });
    node.step({
      type: 'MsgSnap',
      from: 1,
      to: 2,
      term: 2,
      snapshot: { metadata: { index: 3, term: 2, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array() },
    });
    const rd = node.ready();
    assert.equal(rd.snapshot, null);
    assert.equal(rd.hardState?.commit, 3);
    assert.equal((rd.messages[0] as MsgAppResp).index, 3);
  });

  it('compaction keeps the term at the boundary, so log matching still checks the first kept entry', () => {
    const storage = MemoryRaftStorage.bootstrap([1]);
    storage.append([2, 3, 4, 5].map((index) => ({ index, term: index < 4 ? 2 : 3, type: 'normal' as const, data: new Uint8Array() })));
    assert.equal(storage.createSnapshot(4, { voters: [1], learners: [] }, new Uint8Array([1])), 'ok');
    assert.equal(storage.compact(4), 'ok');
    assert.equal(storage.firstIndex(), 5);
    assert.equal(storage.term(4), 3);
    assert.equal(storage.term(3), 'compacted');
    assert.equal(storage.entries(4, 6, Infinity), 'compacted');
    assert.equal(storage.compact(4), 'compacted');
    assert.throws(() => storage.compact(5), /past snapshot/);
  });
});
