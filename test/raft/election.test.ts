import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRaftStorage, RawNode, type Message, type Ready } from '../../src/raft/index.js';
import { RaftNetwork, seededRandom } from '../support/raft-network.js';

describe('raft: leader election (Raft paper §5.2)', () => {
  it('a single-node cluster elects itself when its election timeout elapses', () => {
    const net = new RaftNetwork({ voters: [1] });
    const leader = net.waitForLeader();
    assert.equal(leader, 1);
    assert.equal(net.raw(1).basicStatus().term, 2);
    // Its empty entry of the new term commits at once.
    assert.equal(net.raw(1).basicStatus().commit, 2);
  });

  for (const size of [3, 5]) {
    it(`a ${size}-node cluster elects exactly one leader, and every node learns it`, () => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const net = new RaftNetwork({ voters: ids, seed: size });
      const leader = net.waitForLeader();
      net.tickAll(3);
      for (const id of ids) {
        const s = net.raw(id).basicStatus();
        assert.equal(s.leaderId, leader, `node ${id} follows ${leader}`);
        assert.equal(s.role, id === leader ? 'leader' : 'follower');
        assert.equal(s.commit, 2, "the leader's empty entry is committed everywhere");
      }
    });
  }

  it('a candidate wins an election if it receives votes from a majority of the servers', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3, 4, 5] });
    net.isolate(4);
    net.isolate(5);
    net.campaign(1);
    assert.equal(net.leader(), 1);
  });

  it('a candidate without a majority of votes does not become leader', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3, 4, 5], node: { preVote: false } });
    net.isolate(3);
    net.isolate(4);
    net.isolate(5);
    net.campaign(1);
    assert.equal(net.raw(1).basicStatus().role, 'candidate');
    assert.equal(net.leader(), 0);
  });

  it('each server will vote for at most one candidate in a given term, on a first-come-first-served basis', () => {
    const storage = MemoryRaftStorage.bootstrap([1, 2, 3]);
    const node = new RawNode({ id: 1, storage, random: seededRandom(1), electionTicks: 10, heartbeatTicks: 1, maxInflightMsgs: 8, maxSizePerMsgBytes: 1024 });
    const vote = (from: number): Message => ({ type: 'MsgVote', from, to: 1, term: 5, index: 1, logTerm: 1, transfer: false });
    node.step(vote(2));
    node.step(vote(3));
    node.step(vote(2)); // A retransmission from the one we voted for is granted again.
    const rd = node.ready();
    assert.deepEqual(
      rd.messages.map((m) => [m.to, m.type, m.type === 'MsgVoteResp' && m.reject]),
      [
        [2, 'MsgVoteResp', false],
        [3, 'MsgVoteResp', true],
        [2, 'MsgVoteResp', false],
      ],
    );
    assert.deepEqual(rd.hardState, { term: 5, vote: 2, commit: 1 });
    assert.equal(rd.mustSync, true, 'a vote must be durable before the reply is sent');
  });

  it('an empty log grants votes and pre-votes unless votesWhenEmpty is false; once it holds an entry it votes', () => {
    const answers = (votesWhenEmpty: boolean, storage: MemoryRaftStorage): [string, boolean][] => {
      const node = new RawNode({ id: 4, storage, random: seededRandom(1), electionTicks: 10, heartbeatTicks: 1, maxInflightMsgs: 8, maxSizePerMsgBytes: 1024, votesWhenEmpty });
      node.step({ type: 'MsgPreVote', from: 3, to: 4, term: 6, index: 1, logTerm: 1, transfer: false });
      node.step({ type: 'MsgVote', from: 3, to: 4, term: 6, index: 1, logTerm: 1, transfer: false });
      return node.ready().messages.map((m) => [m.type, (m.type === 'MsgVoteResp' || m.type === 'MsgPreVoteResp') && m.reject]);
    };
    assert.deepEqual(answers(true, new MemoryRaftStorage()), [
      ['MsgPreVoteResp', false],
      ['MsgVoteResp', false],
    ]);
    assert.deepEqual(answers(false, new MemoryRaftStorage()), [
      ['MsgPreVoteResp', true],
      ['MsgVoteResp', true],
    ]);
    assert.deepEqual(answers(false, MemoryRaftStorage.bootstrap([3, 4])), [
      ['MsgPreVoteResp', false],
      ['MsgVoteResp', false],
    ]);
  });

  it('election restriction: a candidate whose log is not up-to-date cannot win (§5.4.1)', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { preVote: false } });
    net.campaign(1);
    net.isolate(3);
    net.propose(1, 'x');
    net.heal();
    // 3 missed 'x'. Whoever times out first, 3 can never collect 2's vote, so only 2 can win.
    net.crash(1);
    net.campaign(3);
    assert.notEqual(net.raw(3).basicStatus().role, 'leader');
    assert.equal(net.waitForLeader(), 2);
    assert(![...net.leaderOfTerm.values()].includes(3), 'node 3 never led');
    assert.deepEqual(net.node(2).appliedCommands(), ['x']);
  });

  it('a leader with a stale term steps down when it hears of a higher term', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { checkQuorum: false } });
    net.campaign(1);
    net.isolate(1);
    // 2 and 3 stop hearing from 1; one of them is elected in a higher term.
    while (net.leader() === 1) net.tickAll();
    const newLeader = net.leader();
    assert.equal(net.raw(1).basicStatus().role, 'leader', '1 has not heard of the new term yet');
    net.heal();
    net.tickAll(2);
    assert.equal(net.raw(1).basicStatus().role, 'follower');
    assert.equal(net.raw(1).basicStatus().leaderId, newLeader);
  });
});

describe('raft: pre-vote and check-quorum (Raft thesis §9.6, §6.2)', () => {
  it('pre-vote: a partitioned node does not raise its term, and does not disrupt the leader when it rejoins', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    const term = net.raw(1).basicStatus().term;
    net.isolate(3);
    net.tickAll(100);
    // Its pre-votes fail, so its term never moves.
    assert.equal(net.raw(3).basicStatus().term, term);
    net.heal();
    net.tickAll(30);
    assert.equal(net.leader(), 1);
    assert.equal(net.raw(1).basicStatus().term, term, 'no election happened');
    assert.equal(net.raw(3).basicStatus().leaderId, 1);
  });

  it("pre-vote alone (no check-quorum): a lagging node's pre-vote changes no one's term", () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { checkQuorum: false } });
    net.campaign(1);
    const term = net.raw(1).basicStatus().term;
    net.isolate(3);
    net.propose(1, 'x'); // 3 lags, so its pre-votes are refused.
    net.heal();
    net.cutLink(1, 3); // 3 hears no leader and keeps pre-campaigning.
    net.tickAll(50);
    for (const id of [1, 2, 3]) assert.equal(net.raw(id).basicStatus().term, term, `node ${id} kept term ${term}`);
    assert.equal(net.leader(), 1);
  });

  it('without pre-vote, the same rejoining node forces a new election (what pre-vote prevents)', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { preVote: false, checkQuorum: false } });
    net.campaign(1);
    const term = net.raw(1).basicStatus().term;
    net.isolate(3);
    net.tickAll(100);
    assert(net.raw(3).basicStatus().term > term + 2);
    net.heal();
    net.tickAll(30);
    assert(net.raw(1).basicStatus().term > term, 'the leader was deposed by the higher term');
  });

  it('check-quorum: a leader that cannot reach a quorum steps down within an election timeout', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(1);
    // electionTicks is 10: two check rounds at most.
    net.tickAll(20);
    assert.equal(net.raw(1).basicStatus().role, 'follower');
    assert.equal(net.raw(1).basicStatus().leaderId, 0);
    // The majority side elects a new leader.
    const leader = net.waitForLeader();
    assert(leader === 2 || leader === 3);
  });

  it('check-quorum: a follower that hears from its leader ignores vote requests (leader lease)', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3], node: { preVote: false } });
    net.campaign(1);
    const term = net.raw(1).basicStatus().term;
    // 3 stops hearing from 1 (one-way cut), so it campaigns; 2 still hears from 1 and must ignore it.
    net.cutLink(1, 3);
    net.tickAll(30);
    assert.equal(net.leader(), 1);
    assert.equal(net.raw(2).basicStatus().term, term, '2 ignored the higher-term vote requests');
  });
});

describe('raft: a campaign on a disk slower than the election timeout', () => {
  const ELECTION_TICKS = 10;
  /** The disk holds a Ready this long before the driver sends its messages and advances. */
  const PERSIST_TICKS = 10 * ELECTION_TICKS;

  /** Node 1 of three, driven as the multi-raft driver drives it: a Ready's messages leave once it is durable. */
  function member(preVote: boolean) {
    const storage = MemoryRaftStorage.bootstrap([1, 2, 3]);
    const node = new RawNode({ id: 1, storage, random: seededRandom(1), electionTicks: ELECTION_TICKS, heartbeatTicks: 1, maxInflightMsgs: 8, maxSizePerMsgBytes: 1024, preVote });
    return {
      node,
      /** Ticks `n` times: the disk at work on whatever Ready is out. */
      tick: (n: number): void => {
        for (let i = 0; i < n; i++) node.tick();
      },
      /** Makes `rd` durable and advances; what it sends, as `type to term`. */
      persisted: (rd: Ready): string[] => {
        storage.append(rd.entries);
        if (rd.hardState !== null) storage.setHardState(rd.hardState);
        node.advance(rd);
        return rd.messages.map((m) => `${m.type} ${m.to} ${m.term}`);
      },
      state: (): string => `${node.basicStatus().role} ${node.basicStatus().term}`,
    };
  }

  const grant = (type: 'MsgVoteResp' | 'MsgPreVoteResp', term: number): Message => ({ type, from: 2, to: 1, term, reject: false, commit: 0, commitTerm: 0 });

  it("a candidate's election timeout runs from when its vote requests leave, not while its disk holds them", () => {
    const { node, tick, persisted, state } = member(false);
    node.campaign();
    const rd = node.ready();
    tick(PERSIST_TICKS);
    assert.equal(state(), 'candidate 2', 'still campaigning in the term it asks votes for');
    assert.deepEqual(persisted(rd), ['MsgVote 2 2', 'MsgVote 3 2']);
    // A grant within an election timeout of the requests leaving wins.
    tick(ELECTION_TICKS - 1);
    node.step(grant('MsgVoteResp', 2));
    assert.equal(state(), 'leader 2');
  });

  it('a pre-candidate whose requests wait behind an earlier Ready starts no second round meanwhile', () => {
    const { node, tick, persisted, state } = member(true);
    // Answering a peer's pre-vote: that Ready is on its way to disk when this member's timeout fires.
    node.step({ type: 'MsgPreVote', from: 2, to: 1, term: 2, index: 1, logTerm: 1, transfer: false });
    const answer = node.ready();
    node.campaign();
    tick(PERSIST_TICKS);
    assert.deepEqual(persisted(answer), ['MsgPreVoteResp 2 2']);
    const requests = node.ready();
    tick(PERSIST_TICKS);
    assert.deepEqual(persisted(requests), ['MsgPreVote 2 2', 'MsgPreVote 3 2'], 'one round of pre-vote requests');
    assert.equal(node.hasReady(), false, 'and no other round after it');
    tick(ELECTION_TICKS - 1);
    node.step(grant('MsgPreVoteResp', 2));
    assert.equal(state(), 'candidate 2');
  });

  it('once its requests have left, a campaign that hears nothing starts again after an election timeout', () => {
    const { node, tick, persisted, state } = member(false);
    node.campaign();
    persisted(node.ready());
    tick(2 * ELECTION_TICKS);
    assert.equal(state(), 'candidate 3');
  });
});

describe('raft: determinism', () => {
  const run = (seed: number): string[] => {
    const net = new RaftNetwork({ voters: [1, 2, 3, 4, 5], seed });
    net.waitForLeader();
    const leader = net.leader();
    for (let i = 0; i < 5; i++) net.propose(leader, `v${i}`);
    net.isolate(leader);
    net.tickAll(40);
    net.heal();
    net.tickAll(20);
    return net.trace;
  };

  it('the same seed gives the same message trace', () => {
    const a = run(42);
    const b = run(42);
    assert(a.length > 50);
    assert.deepEqual(a, b);
  });

  it('different seeds give different traces (the seed is what varies)', () => {
    assert.notDeepEqual(run(1), run(2));
  });
});
