import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRaftStorage, RawNode, type Entry, type Message, type MsgAppResp } from '../../src/raft/index.js';
import { cmd, RaftNetwork, seededRandom } from '../support/raft-network.js';

function entry(index: number, term: number, text = ''): Entry {
  return { index, term, type: 'normal', data: cmd(text) };
}

/** A follower (id 2 of [1, 2, 3]) whose persisted log holds `terms[i]` at index 2 + i after the bootstrap entry. */
function followerWithLog(terms: readonly number[]): { node: RawNode; storage: MemoryRaftStorage } {
  const storage = MemoryRaftStorage.bootstrap([1, 2, 3]);
  storage.append(terms.map((t, i) => entry(2 + i, t, `e${2 + i}`)));
  storage.setHardState({ term: Math.max(1, ...terms), vote: 0, commit: 1 });
  const node = new RawNode({ id: 2, storage, random: seededRandom(2), electionTicks: 10, heartbeatTicks: 1, maxInflightMsgs: 8, maxSizePerMsgBytes: 1 << 20 });
  return { node, storage };
}

function appendFrom1(term: number, index: number, logTerm: number, entries: Entry[], commit: number): Message {
  return { type: 'MsgApp', from: 1, to: 2, term, index, logTerm, entries, commit };
}

describe('raft: log replication (Raft paper §5.3)', () => {
  it('if a follower does not find an entry with the same index and term, it refuses the new entries', () => {
    const { node } = followerWithLog([2, 2, 3]); // indexes 2, 3, 4
    node.step(appendFrom1(5, 4, 4, [entry(5, 5, 'x')], 1));
    const rd = node.ready();
    const resp = rd.messages[0] as MsgAppResp;
    assert.equal(resp.type, 'MsgAppResp');
    assert.equal(resp.reject, true);
    // Hint: our last entry whose term ≤ 4 is index 4 (term 3): the leader can skip its term-4 entries.
    assert.deepEqual([resp.index, resp.rejectHint, resp.logTerm], [4, 4, 3]);
    assert.deepEqual(rd.entries, []);
  });

  it('if an existing entry conflicts with a new one (same index, different terms), delete it and all that follow', () => {
    const { node, storage } = followerWithLog([2, 2, 2, 2]); // indexes 2..5, term 2
    // The new leader (term 3) has index 3 with term 2, then its own entries from index 4.
    node.step(appendFrom1(3, 3, 2, [entry(4, 3, 'a'), entry(5, 3, 'b'), entry(6, 3, 'c')], 5));
    const rd = node.ready();
    assert.deepEqual(
      rd.entries.map((e) => [e.index, e.term]),
      [
        [4, 3],
        [5, 3],
        [6, 3],
      ],
    );
    const resp = rd.messages[0] as MsgAppResp;
    assert.deepEqual([resp.reject, resp.index], [false, 6]);
    // The commit index follows the leader's, bounded by what this message proved to match.
    assert.equal(rd.hardState?.commit, 5);
    assert.deepEqual(
      rd.committedEntries.map((e) => e.index),
      [2, 3, 4, 5],
    );
    storage.append(rd.entries);
    node.advance(rd);
    const stored = storage.entries(2, 7, Infinity);
    assert(typeof stored !== 'string');
    assert.deepEqual(
      stored.map((e) => [e.index, e.term]),
      [
        [2, 2],
        [3, 2],
        [4, 3],
        [5, 3],
        [6, 3],
      ],
    );
  });

  it("a follower commits only up to the last entry the leader's message proved to match", () => {
    const { node } = followerWithLog([2, 2, 2, 2]); // indexes 2..5, term 2, possibly stale beyond 2
    // A probe from a term-3 leader matching at 2, carrying no entries, with the leader's commit at 5.
    node.step(appendFrom1(3, 2, 2, [], 5));
    const rd = node.ready();
    assert.equal(rd.hardState?.commit, 2, "entries 3..5 were not shown to match the leader's log");
    assert.equal((rd.messages[0] as MsgAppResp).index, 2);
  });

  it('a follower ignores entries it already holds: an old duplicated MsgApp does not truncate its log', () => {
    const { node } = followerWithLog([2, 2, 2]);
    node.step(appendFrom1(2, 2, 2, [entry(3, 2, 'e3')], 1));
    const rd = node.ready();
    assert.deepEqual(rd.entries, [], 'nothing new to persist');
    assert.equal((rd.messages[0] as MsgAppResp).index, 3);
  });

  it("the leader finds the point where the logs agree and overwrites the follower's conflicting entries", () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { checkQuorum: false } });
    net.campaign(1);
    net.propose(1, 'committed');
    // 1 is cut off and keeps accepting proposals that can never commit.
    net.isolate(1);
    for (let i = 0; i < 5; i++) assert(net.propose(1, `lost${i}`).ok);
    net.campaign(2);
    for (let i = 0; i < 3; i++) net.propose(2, `kept${i}`);
    net.heal();
    net.tickAll(5);
    assert.equal(net.leader(), 2);
    net.checkLogMatching();
    for (const id of [1, 2, 3]) {
      assert.deepEqual(net.node(id).appliedCommands(), ['committed', 'kept0', 'kept1', 'kept2']);
      assert.equal(net.node(id).storage.lastIndex(), net.node(2).storage.lastIndex());
    }
  });

  it('a follower catches up with everything it missed once the partition heals', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3, 4, 5] });
    net.campaign(1);
    net.isolate(5);
    for (let i = 0; i < 50; i++) net.propose(1, `v${i}`);
    assert.equal(net.node(5).appliedCommands().length, 0);
    net.heal();
    net.tickAll(3);
    assert.equal(net.node(5).appliedCommands().length, 50);
    net.checkLogMatching();
  });

  it('a leader only commits entries of its current term by counting replicas (Figure 8)', () => {
    // The paper's base algorithm, so that elections can be forced at will.
    const net = new RaftNetwork({ voters: [1, 2, 3, 4, 5], node: { preVote: false, checkQuorum: false } });
    net.campaign(1); // term 2, empty entry at index 2 committed everywhere.
    // (a) S1 replicates index 3 (term 2) to S2 only.
    net.partition([1, 2], [3, 4, 5]);
    assert(net.propose(1, 'a').ok);
    // (b) S1 crashes; S5 wins term 3 with S3, S4, and appends index 3 (term 3) that no one else receives.
    net.crash(1);
    net.intercept = (m) => (m.type === 'MsgApp' && m.from === 5 ? null : m);
    net.campaign(5);
    assert.equal(net.leader(), 5);
    assert.equal(net.raw(5).basicStatus().lastIndex, 3);
    // (c) S5 crashes; S1 restarts and wins term 4 (with S2, S3); it replicates index 3 (term 2) to the
    // others but not yet its own term-4 entry. Index 3 is now on a majority (S1, S2, S3, S4)...
    net.crash(5);
    net.heal();
    net.restart(1);
    net.intercept = (m) => (m.type === 'MsgApp' && m.from === 1 ? { ...m, entries: m.entries.filter((e) => e.index <= 3) } : m);
    while (net.leader() !== 1) net.campaign(1);
    net.tickAll(2);
    for (const id of [1, 2, 3, 4]) assert.equal(net.node(id).storage.term(3), 2);
    // ...but is not committed: it is not of the leader's term.
    assert.equal(net.raw(1).basicStatus().commit, 2);
    assert.equal(net.appliedAt.get(3), undefined);
    // (d) S1 crashes; S5 (last term 3) can win and overwrite index 3 everywhere — safe, as it was never committed.
    net.intercept = null;
    net.crash(1);
    net.restart(5);
    while (net.leader() !== 5) net.campaign(5);
    net.tickAll(2);
    for (const id of [2, 3, 4, 5]) assert.equal(net.node(id).storage.term(3), 3);
    net.restart(1);
    net.tickAll(3);
    for (const id of [1, 2, 3, 4, 5]) assert.deepEqual(net.node(id).appliedCommands(), []);
    net.checkLogMatching();
  });

  it('once an entry of the current term commits, earlier entries commit with it (Figure 8 (e))', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3, 4, 5], node: { preVote: false, checkQuorum: false } });
    net.campaign(1);
    net.partition([1, 2], [3, 4, 5]);
    assert(net.propose(1, 'a').ok);
    net.crash(1);
    net.intercept = (m) => (m.type === 'MsgApp' && m.from === 5 ? null : m);
    net.campaign(5);
    net.crash(5);
    net.intercept = null;
    net.heal();
    net.restart(1);
    while (net.leader() !== 1) net.campaign(1);
    net.tickAll(2);
    const status = net.raw(1).basicStatus();
    assert.equal(status.commit, status.lastIndex);
    for (const id of [1, 2, 3, 4]) assert.deepEqual(net.node(id).appliedCommands(), ['a']);
    net.restart(5);
    net.tickAll(3);
    assert.deepEqual(net.node(5).appliedCommands(), ['a'], "S5's uncommitted term-3 entry was overwritten");
    net.checkLogMatching();
  });
});

describe('raft: flow control and limits', () => {
  it('a leader never has more than maxInflightMsgs MsgApps in flight to a replicating follower', () => {
    const net = new RaftNetwork({ voters: [1, 2], node: { maxInflightMsgs: 3, maxSizePerMsgBytes: 32 } });
    net.campaign(1);
    assert.equal(net.raw(1).status().progress?.get(2)?.state, 'replicate');
    // Hold every message: propose 10 entries of 20 bytes, each too big to share a MsgApp.
    for (let i = 0; i < 10; i++) assert(net.raw(1).propose(cmd(`entry-${String(i).padStart(14, '0')}`)).ok);
    net.flushReadies();
    const apps = net.inflight.filter((m) => m.type === 'MsgApp' && m.to === 2 && m.entries.length > 0);
    assert.equal(apps.length, 3);
    assert(apps.every((m) => m.type === 'MsgApp' && m.entries.length === 1));
    assert.equal(net.raw(1).status().progress?.get(2)?.paused, true);
    // As acknowledgements free the window, the rest flows.
    net.stabilize();
    assert.equal(net.node(2).appliedCommands().length, 10);
  });

  it('a MsgApp carries at most maxSizePerMsgBytes of entries, or a single larger entry', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { maxSizePerMsgBytes: 200 } });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, 'x'.repeat(40));
    net.propose(1, 'y'.repeat(500));
    net.heal();
    const start = net.trace.length;
    net.tickAll(3);
    assert.equal(net.node(3).appliedCommands().length, 21);
    let sawApp = false;
    // Re-check the limit on what was sent, from the trace's entry counts (40-byte entries: 56 bytes each).
    for (const line of net.trace.slice(start)) {
      const match = /->3 MsgApp .* n(\d+)/.exec(line);
      if (match === null) continue;
      sawApp = true;
      assert(Number(match[1]) <= 3, `at most 3 entries of 56 bytes fit in 200: ${line}`);
    }
    assert(sawApp);
  });

  it('a leader drops proposals beyond maxUncommittedEntriesBytes until the backlog commits', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { maxUncommittedEntriesBytes: 100 } });
    net.campaign(1);
    net.partition([1], [2, 3]);
    const data = 'z'.repeat(40);
    assert(net.raw(1).propose(cmd(data)).ok);
    assert(net.raw(1).propose(cmd(data)).ok);
    const third = net.raw(1).propose(cmd(data));
    assert.deepEqual(third, { ok: false, reason: 'uncommittedSizeExceeded', leaderId: 1 });
    net.heal();
    net.stabilize();
    net.tickAll(1);
    assert(net.raw(1).propose(cmd(data)).ok, 'room again once the backlog is applied');
  });

  it('a follower rejects proposals and names the leader', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    assert.deepEqual(net.raw(2).propose(cmd('x')), { ok: false, reason: 'notLeader', leaderId: 1 });
  });
});
