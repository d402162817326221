/** The source leader's split decisions (docs/SPLIT.md), phase by phase, with every rollback trigger and resume case. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingSplit } from '../../src/common/routing.js';
import { SPLIT_PARAMS_DEFAULT } from '../../src/split/types.js';
import type { SourceSplitState, TargetSplitState } from '../../src/shard/split-state.js';
import {
  abortedStatus,
  bufferingStep,
  catchUpStep,
  chunkTaken,
  etaSeconds,
  forwardTaken,
  holdsAttempt,
  nextAttempt,
  reportDue,
  resumeSplit,
  switchStart,
  targetSilenceStep,
  transferStart,
  type BufferCondition,
} from '../../src/split/split-step.js';

const params = {
  ...SPLIT_PARAMS_DEFAULT,
  catchUpThreshold: 100,
  bufferTimeoutMs: 5000,
  bufferMaxSize: 10,
  catchUpDeadlineMs: 60_000,
  catchUpSlowDelay: 1000,
  targetTimeoutMs: 30_000,
  progressIntervalMs: 1000,
};
const marker: RoutingSplit = { taskId: 't1', role: 'source', peer: 'shard_0002', splitSlot: null, params };
const begun: SourceSplitState = { role: 'source', taskId: 't1', target: 'shard_0002', splitSlot: 8192, end: 16384, phase: 'begun', commitIndex: 0 };
const committed: SourceSplitState = { ...begun, phase: 'committed', commitIndex: 500 };
const target = (over: Partial<TargetSplitState> = {}): TargetSplitState => ({
  role: 'target',
  taskId: 't1',
  source: 'shard_0001',
  splitSlot: 8192,
  end: 16384,
  snapshotIndex: 200,
  attempt: 1,
  nextCursor: null,
  snapshotDone: true,
  lastSourceIndex: 300,
  handedOff: false,
  bytesIngested: 1000,
  ...over,
});
const calm: BufferCondition = { overflowed: false, bufferingMs: 0, cancelRequested: false };

describe('resuming a split from the source log', () => {
  it('begins a split nothing has logged yet', () => {
    assert.deepEqual(resumeSplit(null, undefined, marker), { kind: 'begin' });
  });

  it('reports a cancel asked before anything was logged, without beginning', () => {
    assert.deepEqual(resumeSplit(null, undefined, { ...marker, cancelRequested: true }), { kind: 'end', status: 'cancelled' });
  });

  it('transfers (or resumes the transfer) once split-begin is logged, even when cancel is asked: the transfer rolls back itself', () => {
    assert.deepEqual(resumeSplit(begun, undefined, { ...marker, cancelRequested: true }), { kind: 'transfer', state: begun });
  });

  it('only rolls forward once split-commit is logged', () => {
    assert.deepEqual(resumeSplit(committed, undefined, { ...marker, cancelRequested: true }), { kind: 'switch', state: committed });
  });

  it('knows a split this task finished: it reports the end again, never begins it anew', () => {
    assert.deepEqual(resumeSplit(null, { taskId: 't1', splitSlot: 8192, outcome: 'completed' }, marker), { kind: 'end', status: 'completed', splitSlot: 8192 });
  });

  it('knows a split this task rolled back, even when a stale routing table still shows its marker', () => {
    assert.deepEqual(resumeSplit(null, { taskId: 't1', splitSlot: 8192, outcome: 'aborted', reason: 'buffer timeout' }, marker), {
      kind: 'end',
      status: 'failed',
      splitSlot: 8192,
      reason: 'buffer timeout',
    });
    assert.deepEqual(resumeSplit(null, { taskId: 't1', splitSlot: 8192, outcome: 'aborted', reason: 'cancelled' }, marker), { kind: 'end', status: 'cancelled', splitSlot: 8192 });
  });
});

describe('where the transfer starts from the target probe', () => {
  it('snapshots when the target has no state of this task, or an unfinished snapshot (restarted by a new split-reset)', () => {
    assert.deepEqual(transferStart(null, 1), { kind: 'snapshot' });
    assert.deepEqual(transferStart(target({ snapshotDone: false, lastSourceIndex: 200 }), 1), { kind: 'snapshot' });
  });

  it('forwards after what a target with the whole snapshot applied', () => {
    assert.deepEqual(transferStart(target(), 1), { kind: 'forward', from: 300, attempt: { attempt: 1, snapshotIndex: 200 } });
    assert.deepEqual(transferStart(target({ attempt: 3 }), 301), { kind: 'forward', from: 300, attempt: { attempt: 3, snapshotIndex: 200 } }, 'the log still holds index 301');
  });

  it('snapshots again when the source log was compacted past what the target applied', () => {
    assert.deepEqual(transferStart(target(), 302), { kind: 'snapshot' });
  });
});

describe('what an answer shows the target took', () => {
  const attempt = { attempt: 1, snapshotIndex: 200 };
  it('numbers a new snapshot after the attempt the target holds', () => {
    assert.equal(nextAttempt(null), 1);
    assert.equal(nextAttempt(target({ attempt: 4 })), 5);
  });

  it('a reset: the target holds that attempt at that snapshot index', () => {
    assert.equal(holdsAttempt(target({ snapshotDone: false, lastSourceIndex: 200 }), attempt), true);
    assert.equal(holdsAttempt(target({ attempt: 2 }), attempt), false, 'another attempt');
    assert.equal(holdsAttempt(target({ snapshotIndex: 250 }), attempt), false, 'the same number, another snapshot');
    assert.equal(holdsAttempt(null, attempt), false);
  });

  it('a chunk: the target expects the chunk after it, or finished with the last one', () => {
    const next = Uint8Array.from([1, 2]);
    assert.equal(chunkTaken(target({ snapshotDone: false, nextCursor: Uint8Array.from([1, 2]) }), attempt, next), true);
    assert.equal(chunkTaken(target({ snapshotDone: false, nextCursor: null }), attempt, next), false, 'the target still expects the first chunk');
    assert.equal(chunkTaken(target({ snapshotDone: true }), attempt, null), true);
    assert.equal(chunkTaken(target({ snapshotDone: false }), attempt, null), false);
  });

  it('a forward: the target applied through its last entry, in the same attempt', () => {
    assert.equal(forwardTaken(target({ lastSourceIndex: 300 }), attempt, 300), true);
    assert.equal(forwardTaken(target({ lastSourceIndex: 310 }), attempt, 300), true, 'a duplicate of what it applied already');
    assert.equal(forwardTaken(target({ lastSourceIndex: 200 }), attempt, 300), false, 'a stale answer: no progress');
    assert.equal(forwardTaken(target({ attempt: 2, lastSourceIndex: 300 }), attempt, 300), false, 'a target that started another snapshot');
    assert.equal(forwardTaken(target({ snapshotDone: false, lastSourceIndex: 300 }), attempt, 300), false);
  });
});

describe('switching after the commit', () => {
  it('is done when the target applied the handoff: no state left, its log owns the moving range', () => {
    assert.deepEqual(switchStart(committed, null, { start: 8192, end: 16384 }, 1), { kind: 'handed-off' });
  });

  it('forwards the rest, or resends a snapshot, when the handoff is not applied yet', () => {
    assert.deepEqual(switchStart(committed, target({ lastSourceIndex: 450 }), { start: 8192, end: 8192 }, 1), {
      kind: 'forward',
      from: 450,
      attempt: { attempt: 1, snapshotIndex: 200 },
    });
    assert.deepEqual(switchStart(committed, target({ lastSourceIndex: 450 }), { start: 8192, end: 8192 }, 600), { kind: 'snapshot' });
    assert.deepEqual(switchStart(committed, null, null, 1), { kind: 'snapshot' }, 'a target that lost its state');
  });
});

describe('catching up', () => {
  it('forwards while the target is behind by the threshold or more', () => {
    assert.deepEqual(catchUpStep(100, 10, false, params), { kind: 'forward' });
  });

  it('starts buffering once the delay falls under the threshold', () => {
    assert.deepEqual(catchUpStep(99, 10, false, params), { kind: 'buffer' });
  });

  it('rolls back a catch-up still lagging past the slow delay after the deadline', () => {
    const step = catchUpStep(1001, 60_001, false, params);
    assert.equal(step.kind, 'abort');
    assert.match((step as { reason: string }).reason, /^catch-up too slow: still 1001 entries behind/);
    assert.deepEqual(catchUpStep(1000, 60_001, false, params), { kind: 'forward' }, 'not more than the slow delay');
    assert.deepEqual(catchUpStep(5000, 60_000, false, params), { kind: 'forward' }, 'not past the deadline');
  });

  it('rolls back on a cancel, even when close enough to buffer', () => {
    assert.deepEqual(catchUpStep(0, 10, true, params), { kind: 'abort', reason: 'cancelled' });
  });
});

describe('buffering', () => {
  it('forwards until the target has every entry proposed before the buffering, then commits', () => {
    assert.deepEqual(bufferingStep(calm, 49, 50, params), { kind: 'forward' });
    assert.deepEqual(bufferingStep(calm, 50, 50, params), { kind: 'commit' });
  });

  it('rolls back on overflow, timeout or cancel, before committing', () => {
    assert.deepEqual(bufferingStep({ ...calm, overflowed: true }, 50, 50, params), { kind: 'abort', reason: 'buffer overflow: more than 10 writes held' });
    assert.deepEqual(bufferingStep({ ...calm, bufferingMs: 5001 }, 50, 50, params), { kind: 'abort', reason: 'buffer timeout: writes held for more than 5000 ms' });
    assert.deepEqual(bufferingStep({ ...calm, bufferingMs: 5000 }, 50, 50, params), { kind: 'commit' }, 'at the timeout, not past it');
    assert.deepEqual(bufferingStep({ ...calm, cancelRequested: true }, 50, 50, params), { kind: 'abort', reason: 'cancelled' });
  });
});

describe("the target's silence", () => {
  const silence = { committed: false, silentMs: 100, why: 'no leader', buffer: calm };

  it('retries a short silence', () => {
    assert.deepEqual(targetSilenceStep(silence, params), { kind: 'retry' });
  });

  it('rolls back once the target has not answered for targetTimeoutMs', () => {
    assert.deepEqual(targetSilenceStep({ ...silence, silentMs: 30_001, why: 'connect ECONNREFUSED' }, params), {
      kind: 'abort',
      reason: "the target's leader did not answer for 30000 ms (connect ECONNREFUSED)",
    });
  });

  it('rolls back on a buffer refusal or a cancel while waiting', () => {
    assert.equal(targetSilenceStep({ ...silence, buffer: { ...calm, overflowed: true } }, params).kind, 'abort');
    assert.deepEqual(targetSilenceStep({ ...silence, buffer: { ...calm, cancelRequested: true } }, params), { kind: 'abort', reason: 'cancelled' });
  });

  it('never rolls back after the commit: retries, and past targetTimeoutMs starts over from a probe of the target', () => {
    const refusing: BufferCondition = { overflowed: true, bufferingMs: 60_000, cancelRequested: true };
    assert.deepEqual(targetSilenceStep({ committed: true, silentMs: 30_000, why: 'no leader', buffer: refusing }, params), { kind: 'retry' });
    assert.deepEqual(targetSilenceStep({ committed: true, silentMs: 10 * 60_000, why: 'no leader', buffer: refusing }, params), {
      kind: 'restart',
      reason: "the target's leader did not answer for 30000 ms (no leader)",
    });
  });
});

describe('reports', () => {
  it('reports every new status at once, the same status once per progress interval', () => {
    assert.equal(reportDue('catching_up', 'snapshot_transfer', 0, params), true);
    assert.equal(reportDue('catching_up', undefined, 0, params), true);
    assert.equal(reportDue('catching_up', 'catching_up', 999, params), false);
    assert.equal(reportDue('catching_up', 'catching_up', 1000, params), true);
  });

  it('ends an aborted task cancelled for a cancel, failed for anything else', () => {
    assert.equal(abortedStatus('cancelled'), 'cancelled');
    assert.equal(abortedStatus('buffer timeout: writes held for more than 5000 ms'), 'failed');
  });

  it('projects the rate so far over what is left, and knows nothing before any progress', () => {
    assert.equal(etaSeconds(250, 1000, 1000), 3, '250 of 1000 in 1 s: 3 s to go');
    assert.equal(etaSeconds(1000, 1000, 4000), 0);
    assert.equal(etaSeconds(0, 1000, 1000), null);
    assert.equal(etaSeconds(10, 1000, 0), null);
    assert.equal(etaSeconds(1200, 1000, 1000), 0, 'past the total: nothing left');
  });
});
