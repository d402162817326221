import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { committedIndex, hasQuorum, voteResult } from '../../src/raft/quorum/majority.js';
import { Inflights } from '../../src/raft/tracker/inflights.js';
import { Progress } from '../../src/raft/tracker/progress.js';
import { ProgressTracker } from '../../src/raft/tracker/progress-tracker.js';

describe('raft tracker: inflights', () => {
  it('is full at the message count limit and frees acknowledged messages in order', () => {
    const inflights = new Inflights(3, Infinity);
    inflights.add(5, 10);
    inflights.add(7, 10);
    inflights.add(9, 10);
    assert.equal(inflights.full(), true);
    assert.throws(() => inflights.add(10, 1), /full/);
    inflights.freeLE(7);
    assert.deepEqual([inflights.count, inflights.bytes, inflights.full()], [1, 10, false]);
    // Wraps around the ring.
    inflights.add(11, 1);
    inflights.add(12, 1);
    inflights.freeFirstOne();
    assert.deepEqual([inflights.count, inflights.bytes], [2, 2]);
    inflights.freeLE(100);
    assert.equal(inflights.count, 0);
  });

  it('is full at the byte limit', () => {
    const inflights = new Inflights(10, 100);
    inflights.add(1, 60);
    assert.equal(inflights.full(), false);
    inflights.add(2, 40);
    assert.equal(inflights.full(), true);
  });

  it('refuses indexes that do not increase (a bug in the caller)', () => {
    const inflights = new Inflights(4, Infinity);
    inflights.add(5, 1);
    assert.throws(() => inflights.add(5, 1), /not after/);
  });
});

describe('raft tracker: progress', () => {
  it('probe sends one MsgApp at a time; a heartbeat reply or an ack unpauses it', () => {
    const pr = new Progress(0, 5, false, 4, Infinity);
    assert.equal(pr.isPaused(), false);
    pr.sentEntries(2, 20, 6);
    assert.equal(pr.isPaused(), true);
    assert.equal(pr.maybeUpdate(6), true);
    assert.equal(pr.isPaused(), false);
    assert.deepEqual([pr.match, pr.next], [6, 7]);
  });

  it('replicate advances next optimistically and pauses at the inflight limit', () => {
    const pr = new Progress(4, 5, false, 2, Infinity);
    pr.becomeReplicate();
    pr.sentEntries(1, 10, 5);
    pr.sentEntries(3, 30, 8);
    assert.deepEqual([pr.next, pr.isPaused()], [9, true]);
    pr.maybeUpdate(5);
    pr.inflights.freeLE(5);
    assert.equal(pr.isPaused(), false);
  });

  it('maybeDecrTo ignores stale rejections and jumps back by the hint', () => {
    const pr = new Progress(0, 10, false, 4, Infinity);
    assert.equal(pr.maybeDecrTo(5, 2), false, 'a rejection of an earlier probe is stale');
    assert.equal(pr.maybeDecrTo(9, 3), true);
    assert.equal(pr.next, 4);
    const rep = new Progress(6, 7, false, 4, Infinity);
    rep.becomeReplicate();
    rep.next = 12;
    assert.equal(rep.maybeDecrTo(5, 0), false, 'at or below match: stale');
    assert.equal(rep.maybeDecrTo(11, 0), true);
    assert.equal(rep.next, 7, 'back to match + 1');
  });

  it('after a snapshot, probing starts just past the snapshot', () => {
    const pr = new Progress(3, 4, false, 4, Infinity);
    pr.becomeSnapshot(20);
    assert.equal(pr.isPaused(), true);
    pr.becomeProbe();
    assert.equal(pr.next, 21);
  });
});

describe('raft quorum: majority', () => {
  it('the committed index is the highest index a majority has', () => {
    const match = new Map([
      [1, 10],
      [2, 7],
      [3, 3],
      [4, 9],
      [5, 1],
    ]);
    assert.equal(
      committedIndex([1, 2, 3, 4, 5], (id) => match.get(id)),
      7,
    );
    assert.equal(
      committedIndex([1, 2, 3], (id) => match.get(id)),
      7,
    );
    assert.equal(
      committedIndex([1], (id) => match.get(id)),
      10,
    );
    assert.equal(
      committedIndex([1, 2, 6], (id) => match.get(id)),
      7,
      'unknown voters count as 0',
    );
  });

  it('a vote is won by a majority, lost when a majority can no longer grant', () => {
    const votes = new Map<number, boolean>([[1, true]]);
    assert.equal(voteResult([1, 2, 3], votes), 'pending');
    votes.set(2, false);
    assert.equal(voteResult([1, 2, 3], votes), 'pending');
    votes.set(3, true);
    assert.equal(voteResult([1, 2, 3], votes), 'won');
    assert.equal(
      voteResult(
        [1, 2, 3, 4],
        new Map([
          [1, true],
          [2, false],
          [3, false],
        ]),
      ),
      'lost',
    );
    assert.equal(hasQuorum([1, 2, 3, 4], new Set([1, 2])), false);
    assert.equal(hasQuorum([1, 2, 3, 4], new Set([1, 2, 4])), true);
  });
});

describe('raft tracker: membership', () => {
  it('applies learner → voter → removal, and rejects invalid changes alike on every replica', () => {
    const tracker = new ProgressTracker(4, Infinity);
    tracker.restore({ voters: [1, 2, 3], learners: [] }, 10);
    const ctx = new Uint8Array();
    assert.equal(tracker.apply({ type: 'promoteLearner', nodeId: 4, context: ctx }, 10), false);
    assert.equal(tracker.apply({ type: 'addLearner', nodeId: 4, context: ctx }, 10), true);
    assert.deepEqual(tracker.confState(), { voters: [1, 2, 3], learners: [4] });
    assert.equal(tracker.apply({ type: 'promoteLearner', nodeId: 4, context: ctx }, 10), true);
    assert.deepEqual(tracker.confState(), { voters: [1, 2, 3, 4], learners: [] });
    assert.equal(tracker.apply({ type: 'removeNode', nodeId: 2, context: ctx }, 10), true);
    assert.deepEqual(tracker.members(), [1, 3, 4]);
    assert.equal(tracker.progress.has(2), false);
    const single = new ProgressTracker(4, Infinity);
    single.restore({ voters: [1], learners: [] }, 1);
    assert.equal(single.validate({ type: 'removeNode', nodeId: 1, context: ctx }), 'lastVoter');
  });
});
