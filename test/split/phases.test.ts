/** The one table of a split's phases (src/split/phases.ts): the API's statuses, the source log's phases and the driver's steps agree. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isFinalStatus,
  resumeStatus,
  sourceLogPhase,
  SPLIT_FINAL_STATUSES,
  SPLIT_PHASES,
  SPLIT_STATUSES,
  splitRolledBack,
  splitRollsForward,
  type SourceLogPhase,
} from '../../src/split/phases.js';
import type { SourceSplitState } from '../../src/shard/split-state.js';

const begun: SourceSplitState = { role: 'source', taskId: 't1', target: 'shard_0002', splitSlot: 8192, end: 16384, phase: 'begun', commitIndex: 0 };

describe('the split phase table', () => {
  it('lists the statuses in the order a split that succeeds goes through them, its log only moving forward', () => {
    const success = SPLIT_STATUSES.slice(0, SPLIT_STATUSES.indexOf('completed') + 1);
    assert.deepEqual(
      success.map((s) => SPLIT_PHASES[s].log),
      ['none', 'begun', 'begun', 'begun', 'committed', 'committed', 'completed'],
    );
    assert.deepEqual(
      success.map((s) => SPLIT_PHASES[s].step),
      ['begin', 'transfer', 'transfer', 'transfer', 'switch', 'cleanup', 'end'],
    );
  });

  it('ends with completed, failed and cancelled, and rolls back with failed and cancelled only', () => {
    assert.deepEqual(SPLIT_FINAL_STATUSES, ['completed', 'failed', 'cancelled']);
    assert.deepEqual(SPLIT_STATUSES.filter(isFinalStatus), ['completed', 'failed', 'cancelled']);
    assert.deepEqual(SPLIT_STATUSES.filter(splitRolledBack), ['failed', 'cancelled']);
  });

  it('rolls only forward once split-commit is logged, and gives the target the range from cleanup on', () => {
    assert.deepEqual(SPLIT_STATUSES.filter(splitRollsForward), ['switching', 'cleanup', 'completed']);
    assert.deepEqual(
      SPLIT_STATUSES.filter((s) => SPLIT_PHASES[s].targetServes),
      ['cleanup', 'completed'],
    );
  });

  it('resumes at the first status of what the source log holds', () => {
    const logs: SourceLogPhase[] = ['none', 'begun', 'committed', 'completed', 'aborted'];
    assert.deepEqual(logs.map(resumeStatus), ['preparing', 'snapshot_transfer', 'switching', 'completed', 'failed']);
  });

  it('reads the log phase from the split state, else from the record of ended tasks', () => {
    assert.equal(sourceLogPhase(null, undefined), 'none');
    assert.equal(sourceLogPhase(begun, undefined), 'begun');
    assert.equal(sourceLogPhase({ ...begun, phase: 'committed', commitIndex: 9 }, undefined), 'committed');
    assert.equal(sourceLogPhase(null, { taskId: 't1', splitSlot: 8192, outcome: 'aborted', reason: 'cancelled' }), 'aborted');
    assert.equal(sourceLogPhase(null, { taskId: 't1', splitSlot: 8192, outcome: 'completed' }), 'completed');
  });

  it('counts progress with snapshot bytes while transferring and applied entries while catching up', () => {
    assert.deepEqual(
      SPLIT_STATUSES.filter((s) => SPLIT_PHASES[s].progress !== null).map((s) => [s, SPLIT_PHASES[s].progress]),
      [
        ['snapshot_transfer', 'snapshot-bytes'],
        ['catching_up', 'entries-applied'],
      ],
    );
  });
});
