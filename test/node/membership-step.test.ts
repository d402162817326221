/**
 * nextMembershipStep: what a shard's leader does next towards the replicas the routing table wants, one
 * step per call, decided from a Raft Status alone. Table-driven over small groups.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPLICA_ID_STRIDE } from '../../src/common/replica-ids.js';
import { nextMembershipStep, shouldDropReplica, type MembershipStep } from '../../src/node/membership-step.js';
import type { NodeId, ProgressStatus, Status } from '../../src/raft/index.js';

interface Member {
  readonly id: NodeId;
  readonly match: number;
  readonly learner?: boolean;
  readonly active?: boolean;
}

/** The leader's status of a group at `commit` with these members (the leader is node 1). */
function leaderStatus(commit: number, members: readonly Member[]): Status {
  const progress = new Map<NodeId, ProgressStatus>(
    members.map((m) => [
      m.id,
      { match: m.match, next: m.match + 1, state: 'replicate', pendingSnapshot: 0, recentActive: m.active ?? true, paused: false, inflightCount: 0, isLearner: m.learner === true },
    ]),
  );
  return {
    id: 1,
    term: 2,
    vote: 1,
    commit,
    applied: commit,
    firstIndex: 1,
    lastIndex: commit,
    leaderId: 1,
    role: 'leader',
    leadTransferee: 0,
    confState: { voters: members.filter((m) => m.learner !== true).map((m) => m.id), learners: members.filter((m) => m.learner === true).map((m) => m.id) },
    progress,
  };
}

describe('nextMembershipStep', () => {
  const cases: { name: string; status: Status; desired: NodeId[]; transferTo?: NodeId; expected: MembershipStep | undefined }[] = [
    {
      name: 'nothing to do when the voters are the desired replicas',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
        { id: 3, match: 50 },
      ]),
      desired: [1, 2, 3],
      expected: undefined,
    },
    {
      name: 'a requested transfer to a caught-up voter comes first',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
        { id: 3, match: 50 },
      ]),
      desired: [1, 2, 3, 4],
      transferTo: 3,
      expected: { kind: 'transferLeadership', to: 3 },
    },
    {
      name: 'a replica given a new id (removed and added again) leaves under its old id before it comes back under the new one',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
        { id: 3, match: 50 },
      ]),
      desired: [1, 2, 3 + REPLICA_ID_STRIDE],
      expected: { kind: 'removeNode', nodeId: 3 },
    },
    {
      name: 'an old id that was a learner goes first too',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
        { id: 3, match: 40, learner: true },
      ]),
      desired: [1, 2, 3 + REPLICA_ID_STRIDE],
      expected: { kind: 'removeNode', nodeId: 3 },
    },
    {
      name: 'the new id of a replica is then added as a learner',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
      ]),
      desired: [1, 2, 3 + REPLICA_ID_STRIDE],
      expected: { kind: 'addLearner', nodeId: 3 + REPLICA_ID_STRIDE },
    },
    {
      name: 'a missing replica is added as a learner',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
        { id: 3, match: 50 },
      ]),
      desired: [1, 2, 3, 4],
      expected: { kind: 'addLearner', nodeId: 4 },
    },
    {
      name: 'a learner within reach of the commit index is promoted',
      status: leaderStatus(500, [
        { id: 1, match: 500 },
        { id: 2, match: 500 },
        { id: 4, match: 450, learner: true },
      ]),
      desired: [1, 2, 4],
      expected: { kind: 'promoteLearner', nodeId: 4 },
    },
    {
      name: 'a learner far behind is not promoted yet',
      status: leaderStatus(500, [
        { id: 1, match: 500 },
        { id: 2, match: 500 },
        { id: 4, match: 100, learner: true },
      ]),
      desired: [1, 2, 4],
      expected: undefined,
    },
    {
      name: 'a learner that has received nothing is not promoted, even in a young group',
      status: leaderStatus(30, [
        { id: 1, match: 30 },
        { id: 4, match: 0, learner: true },
      ]),
      desired: [1, 4],
      expected: undefined,
    },
    {
      name: 'a learner that does not answer is not promoted',
      status: leaderStatus(30, [
        { id: 1, match: 30 },
        { id: 4, match: 30, learner: true, active: false },
      ]),
      desired: [1, 4],
      expected: undefined,
    },
    {
      name: 'a member no longer wanted is removed once the rest are in place',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
        { id: 3, match: 50 },
        { id: 4, match: 50 },
      ]),
      desired: [1, 2, 4],
      expected: { kind: 'removeNode', nodeId: 3 },
    },
    {
      name: 'a voter is not removed while the voters that stay have no answering majority: a founding voter that started empty, a learner still copying',
      status: leaderStatus(40, [
        { id: 1, match: 40 },
        { id: 2, match: 40 },
        { id: 4, match: 0 },
        { id: 3 + 2 * REPLICA_ID_STRIDE, match: 0, learner: true },
      ]),
      desired: [1, 4, 3 + 2 * REPLICA_ID_STRIDE],
      expected: undefined,
    },
    {
      name: 'a voter is not removed while the voter that would stay with the leader is silent',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50, active: false },
        { id: 3, match: 50 },
      ]),
      desired: [1, 2],
      expected: undefined,
    },
    {
      name: 'a silent voter is removed when the voters that stay answer',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 50 },
        { id: 3, match: 10, active: false },
      ]),
      desired: [1, 2],
      expected: { kind: 'removeNode', nodeId: 3 },
    },
    {
      name: 'a learner no longer wanted is removed whatever the voters do',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 0, active: false },
        { id: 3, match: 0, learner: true },
      ]),
      desired: [1, 2],
      expected: { kind: 'removeNode', nodeId: 3 },
    },
    {
      name: 'a leader no longer wanted hands over to the most caught-up voter that stays',
      status: leaderStatus(50, [
        { id: 1, match: 50 },
        { id: 2, match: 45 },
        { id: 3, match: 49 },
      ]),
      desired: [2, 3],
      expected: { kind: 'transferLeadership', to: 3 },
    },
    {
      name: 'a leader no longer wanted, with no voter to succeed it, adds the new replica first',
      status: leaderStatus(30, [{ id: 1, match: 30 }]),
      desired: [4],
      expected: { kind: 'addLearner', nodeId: 4 },
    },
    {
      name: 'a leader no longer wanted, with no voter to succeed it, promotes the caught-up learner',
      status: leaderStatus(30, [
        { id: 1, match: 30 },
        { id: 4, match: 30, learner: true },
      ]),
      desired: [4],
      expected: { kind: 'promoteLearner', nodeId: 4 },
    },
    {
      name: 'a leader no longer wanted never removes a member itself',
      status: leaderStatus(30, [
        { id: 1, match: 30 },
        { id: 2, match: 30, active: false },
        { id: 3, match: 30, active: false },
      ]),
      desired: [2],
      expected: undefined,
    },
  ];
  for (const { name, status, desired, transferTo, expected } of cases) {
    it(name, () => assert.deepEqual(nextMembershipStep(status, desired, 1, transferTo), expected));
  }

  it('does nothing on a member that does not lead (no progress)', () => {
    const status = { ...leaderStatus(50, [{ id: 1, match: 50 }]), progress: null };
    assert.equal(nextMembershipStep(status, [1, 2], 1, undefined), undefined);
  });
});

describe('shouldDropReplica', () => {
  const delays = { graceMs: 60_000, silenceMs: 1_000 };
  const replica = { shardExists: true, membership: 'voter', unwantedForMs: 0, leaderSilentMs: 0 } as const;

  it('drops a replica of a shard gone from the table at once', () => {
    assert.equal(shouldDropReplica({ ...replica, shardExists: false }, delays), true);
  });

  it('drops a replica no longer a member once no leader speaks to it', () => {
    assert.equal(shouldDropReplica({ ...replica, membership: 'none', leaderSilentMs: 500 }, delays), false);
    assert.equal(shouldDropReplica({ ...replica, membership: 'none', leaderSilentMs: 1_500 }, delays), true);
  });

  it('keeps a member a leader still speaks to, however long it has been unlisted: its vote may be needed', () => {
    assert.equal(shouldDropReplica({ ...replica, unwantedForMs: 600_000, leaderSilentMs: 0 }, delays), false);
    assert.equal(shouldDropReplica({ ...replica, membership: 'learner', unwantedForMs: 600_000, leaderSilentMs: 59_000 }, delays), false);
  });

  it('keeps a voter unlisted and unspoken to past the grace: with no leader, the group may need its vote to elect one', () => {
    // Voters [2, 3]: node 2 is down or cut off, node 3 is unlisted. Dropped, node 3 leaves a group that can never elect.
    assert.equal(shouldDropReplica({ ...replica, unwantedForMs: 600_000, leaderSilentMs: 600_000 }, delays), false);
  });

  it('keeps a replica that applied its own removal, however long unspoken to, until a member that applied as far says so', () => {
    // Voters [1, 2] removing 1: node 2 may not have learned the removal is committed, and needs node 1's vote to elect.
    assert.equal(shouldDropReplica({ ...replica, membership: 'removed', unwantedForMs: 600_000, leaderSilentMs: 600_000 }, delays), false);
  });

  it('drops a learner unlisted and unspoken to past the grace: removed, it never hears so, and it votes for nothing', () => {
    assert.equal(shouldDropReplica({ ...replica, membership: 'learner', unwantedForMs: 59_000, leaderSilentMs: 61_000 }, delays), false);
    assert.equal(shouldDropReplica({ ...replica, membership: 'learner', unwantedForMs: 61_000, leaderSilentMs: 61_000 }, delays), true);
  });
});
