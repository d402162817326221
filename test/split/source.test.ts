/**
 * The source leader's split driver against a target whose answers do not show what was asked: it makes
 * progress when the target does, and otherwise rolls the split back by `targetTimeoutMs` or at a cancel,
 * never looping on answers that skip what it sent. One source replica with a log in memory, a real
 * target replica behind a wire that may rewrite its answers, and virtual time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SplitParams } from '../../src/common/routing.js';
import type { ShardCommand } from '../../src/shard/shard-command.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import { SPLIT_PARAMS_DEFAULT } from '../../src/split/types.js';
import { END, SOURCE, SPLIT_SLOT, SplitSourceHarness as Harness, TARGET, type OkAnswer } from '../support/split-source-harness.js';

/** The driver's pause between two attempts at a request the target did not take (split-source.ts). */
const RETRY_MS = 100;
const PARAMS: SplitParams = { ...SPLIT_PARAMS_DEFAULT, targetTimeoutMs: 3_000, progressIntervalMs: 500 };

/** Keys on the source before the split, and writes to the moving range once catch-up begins. */
function splitUnderWrites(params: SplitParams = PARAMS): Harness {
  const harness = new Harness(params);
  harness.writeMoving(20);
  harness.onReport.catching_up = () => harness.writeMoving(5);
  return harness;
}

/** Answers to `split-forward` as the target stood after the snapshot: progress that skips what was sent. */
function staleForwards(harness: Harness, times = Number.POSITIVE_INFINITY): void {
  let afterSnapshot: OkAnswer | undefined;
  let stale = 0;
  harness.answer = (command, fresh) => {
    if (command?.kind === 'split-ingest' && command.next === null) afterSnapshot = fresh;
    if (command?.kind !== 'split-forward' || afterSnapshot === undefined || stale >= times) return fresh;
    stale++;
    return afterSnapshot;
  };
}

describe('a split driver and the progress its target answers', () => {
  it('completes the split when one answer is stale and the next shows progress', async () => {
    const harness = splitUnderWrites();
    staleForwards(harness, 1);
    assert.equal(await harness.drive(60_000), true, 'the driver ended');
    assert.equal(harness.lastStatus, 'completed');
    assert.equal(harness.splitEntries('split-commit').length, 1);
    assert.deepEqual(harness.target.ownedRange(), { start: SPLIT_SLOT, end: END });
    assert.equal(harness.target.data.keyCount, 25, 'the target holds every moving key, the forwarded ones included');
    assert.equal(harness.buffer.handedOver(SOURCE, 't1'), true, 'the node redirects the moved slots to the target from the handoff on');
  });

  it('completes the split when the first split-reset is delivered again after forwarding began', async () => {
    const harness = splitUnderWrites();
    let reset: ShardCommand | undefined;
    let redelivered: SplitApplyResult | undefined;
    harness.answer = (command, fresh) => {
      if (command?.kind === 'split-reset') reset = command;
      if (command?.kind === 'split-forward' && reset !== undefined && redelivered === undefined) redelivered = harness.applyOnTarget(reset);
      return fresh;
    };
    assert.equal(await harness.drive(60_000), true, 'the driver ended');
    assert.equal(redelivered?.ok, false, 'the target refused the stale reset');
    assert.equal(harness.lastStatus, 'completed');
    assert.equal(harness.target.data.keyCount, 25);
  });

  it('rolls back by targetTimeoutMs when every answer skips what was forwarded', async () => {
    const harness = splitUnderWrites();
    staleForwards(harness);
    assert.equal(await harness.drive(PARAMS.targetTimeoutMs + 5_000), true, 'the driver ended');
    const aborts = harness.splitEntries('split-abort');
    assert.equal(aborts.length, 1);
    assert.match(aborts[0]!.kind === 'split-abort' ? aborts[0]!.reason : '', /target/);
    assert.equal(harness.lastStatus, 'failed');
    assert.equal(harness.splitEntries('split-commit').length, 0);
    assert.deepEqual(harness.source.ownedRange(), { start: 0, end: END }, 'the source keeps its whole range');
    const forwards = harness.sent.get('split-forward') ?? 0;
    assert.ok(forwards <= PARAMS.targetTimeoutMs / RETRY_MS + 2, `${forwards} forwards: one per retry interval, not a spin`);
  });

  it('after the commit, ends the driver by targetTimeoutMs when every answer skips what was forwarded', async () => {
    // A leader resuming a committed split whose target holds the snapshot and nothing forwarded after it.
    const harness = new Harness(PARAMS);
    harness.writeMoving(20);
    harness.propose({ kind: 'split-begin', taskId: 't1', start: 0, splitSlot: SPLIT_SLOT, end: END, target: TARGET });
    const snapshotIndex = harness.log.length;
    harness.applyOnTarget({ kind: 'split-reset', taskId: 't1', source: SOURCE, splitSlot: SPLIT_SLOT, end: END, snapshotIndex, attempt: 1, sourceClockMs: 0 });
    const chunk = harness.source.openRangeSnapshot(SPLIT_SLOT, END).chunk(null, 1 << 20);
    harness.applyOnTarget({ kind: 'split-ingest', taskId: 't1', snapshotIndex, attempt: 1, cursor: null, entries: chunk.entries, next: chunk.next });
    // Entries too large to ride with the handoff: they go as split-forwards.
    harness.writeMoving(3, 200 * 1024);
    harness.propose({ kind: 'split-commit', taskId: 't1' });
    const stale: OkAnswer = { kind: 'ok', result: null, state: harness.target.splitState(), owned: harness.target.ownedRange() };
    harness.answer = (command, fresh) => (command?.kind === 'split-forward' ? stale : fresh);

    assert.equal(await harness.drive(PARAMS.targetTimeoutMs + 5_000), true, 'the driver ended');
    assert.equal(harness.splitEntries('split-abort').length, 0, 'a committed split never rolls back');
    const source = harness.source.splitState();
    assert.equal(source?.role === 'source' && source.phase, 'committed');
    assert.equal(harness.buffer.handedOver(SOURCE, 't1'), false, 'no handoff seen: the moved slots are answered TRYAGAIN, not sent to a target that sends them back');
    const forwards = harness.sent.get('split-forward') ?? 0;
    assert.ok(forwards <= PARAMS.targetTimeoutMs / RETRY_MS + 2, `${forwards} forwards: one per retry interval, not a spin`);
  });

  it('rolls back at a cancel while the target answers stale progress, long before the target timeout', async () => {
    const harness = splitUnderWrites({ ...PARAMS, targetTimeoutMs: 10 * 60_000 });
    staleForwards(harness);
    harness.onReport.catching_up = () => {
      harness.writeMoving(5);
      harness.cancelRequested = true;
    };
    assert.equal(await harness.drive(5 * PARAMS.progressIntervalMs), true, 'the driver ended');
    assert.deepEqual(harness.splitEntries('split-abort'), [{ kind: 'split-abort', taskId: 't1', reason: 'cancelled' }]);
    assert.equal(harness.lastStatus, 'cancelled');
  });
});
