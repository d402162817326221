/**
 * What a split's source leader does next (docs/SPLIT.md), decided from what its Raft log, the routing
 * marker and the target's last answer say — no I/O, no clock: the driver (split-source.ts) passes times
 * and states in, and carries the answer out. One function per point where the driver has to choose.
 */
import type { RoutingSplit, SplitParams } from '../common/routing.js';
import { resumeStatus, sourceLogPhase, SPLIT_PHASES, type SplitStatus } from './phases.js';
import { sameCursor } from '../shard/split-machine.js';
import type { EndedSplit, OwnedRange, SourceSplitState, TargetSplitState } from '../shard/split-state.js';

/** The reason a cancelled split is rolled back with; any other reason makes the task `failed`. */
export const CANCELLED = 'cancelled';

/** Where a leader of the source picks a split up: the driver's step at the first status the source's log stands at (phases.ts). */
export type SplitResume =
  | { readonly kind: 'begin' }
  /** `split-begin` is logged: snapshot and catch-up (or resume them), then buffer and commit. */
  | { readonly kind: 'transfer'; readonly state: SourceSplitState }
  /** `split-commit` is logged: the split only rolls forward. */
  | { readonly kind: 'switch'; readonly state: SourceSplitState }
  /**
   * The task is over: this task already split the shard or was rolled back (the pilot may not have heard;
   * a stale table may still show its marker), or it was cancelled before anything was logged. The end is
   * reported again; `reason` comes with `failed`.
   */
  | { readonly kind: 'end'; readonly status: SplitStatus; readonly splitSlot?: number; readonly reason?: string };

export function resumeSplit(state: SourceSplitState | null, ended: EndedSplit | undefined, marker: RoutingSplit): SplitResume {
  const log = sourceLogPhase(state, ended);
  const step = SPLIT_PHASES[resumeStatus(log)].step;
  if (state !== null && (step === 'transfer' || step === 'switch')) return { kind: step, state };
  if (ended === undefined) return marker.cancelRequested === true ? { kind: 'end', status: 'cancelled' } : { kind: 'begin' };
  // Over: a rollback's reason tells a cancel from a failure.
  const reason = ended.reason ?? 'rolled back';
  const status = log === 'aborted' ? abortedStatus(reason) : resumeStatus(log);
  return { kind: 'end', status, splitSlot: ended.splitSlot, ...(status === 'failed' ? { reason } : {}) };
}

/** Which snapshot of the task the target's log holds: requests of one attempt are answered for by its state only. */
export interface SnapshotAttempt {
  readonly attempt: number;
  readonly snapshotIndex: number;
}

/** The attempt a new snapshot is sent as: the one after what the target holds for the task. */
export function nextAttempt(target: TargetSplitState | null): number {
  return (target?.attempt ?? 0) + 1;
}

/** The target holds snapshot `attempt` (its reset took). */
export function holdsAttempt(target: TargetSplitState | null, attempt: SnapshotAttempt): target is TargetSplitState {
  return target !== null && target.attempt === attempt.attempt && target.snapshotIndex === attempt.snapshotIndex;
}

/** The target took the chunk of `attempt` whose successor is `next` (null: the last). */
export function chunkTaken(target: TargetSplitState | null, attempt: SnapshotAttempt, next: Uint8Array | null): boolean {
  if (!holdsAttempt(target, attempt)) return false;
  return next === null ? target.snapshotDone : !target.snapshotDone && sameCursor(target.nextCursor, next);
}

/**
 * The target holds `attempt` with every source entry through `through` applied: an answer that shows less
 * (a stale answer, a target that started another snapshot) is no progress, however `ok` it is.
 */
export function forwardTaken(target: TargetSplitState | null, attempt: SnapshotAttempt, through: number): boolean {
  return holdsAttempt(target, attempt) && target.snapshotDone && target.lastSourceIndex >= through;
}

/** How the data moves on from what the target holds: a fresh snapshot, or forwarding `attempt` after `from`. */
export type TransferStart = { readonly kind: 'snapshot' } | { readonly kind: 'forward'; readonly from: number; readonly attempt: SnapshotAttempt };

/**
 * A target that finished this task's snapshot gets the log after what it applied — unless the source's
 * log no longer holds that (compacted before this leader set its floor): then the snapshot starts over
 * with a new `split-reset`, as it does when the target never finished one.
 */
export function transferStart(target: TargetSplitState | null, logFirstIndex: number): TransferStart {
  if (target === null || !target.snapshotDone || target.lastSourceIndex + 1 < logFirstIndex) return { kind: 'snapshot' };
  return { kind: 'forward', from: target.lastSourceIndex, attempt: { attempt: target.attempt, snapshotIndex: target.snapshotIndex } };
}

/** What the target's answer to a probe says about a committed split (the switching phase). */
export type SwitchStart =
  /** The target applied `split-handoff`: it serves the range. */
  { readonly kind: 'handed-off' } | TransferStart;

export function switchStart(state: SourceSplitState, target: TargetSplitState | null, owned: OwnedRange | null, logFirstIndex: number): SwitchStart {
  if (handedOff(state, target, owned)) return { kind: 'handed-off' };
  return transferStart(target, logFirstIndex);
}

/** The target serves the moving range: its split state is done with and its log owns `[splitSlot, end)`. */
export function handedOff(state: SourceSplitState, target: TargetSplitState | null, owned: OwnedRange | null): boolean {
  return target === null && owned !== null && owned.start === state.splitSlot && owned.end === state.end;
}

export type CatchUpStep = { readonly kind: 'forward' } | { readonly kind: 'buffer' } | { readonly kind: 'abort'; readonly reason: string };

/** After a forwarded batch: go on, start buffering once close enough, or give up on a catch-up too slow. */
export function catchUpStep(delay: number, elapsedMs: number, cancelRequested: boolean, params: SplitParams): CatchUpStep {
  if (cancelRequested) return { kind: 'abort', reason: CANCELLED };
  if (delay < params.catchUpThreshold) return { kind: 'buffer' };
  if (elapsedMs > params.catchUpDeadlineMs && delay > params.catchUpSlowDelay) {
    return { kind: 'abort', reason: `catch-up too slow: still ${delay} entries behind after ${params.catchUpDeadlineMs} ms` };
  }
  return { kind: 'forward' };
}

/** What the buffer says while writes are held: whether the split must roll back. */
export interface BufferCondition {
  readonly overflowed: boolean;
  readonly bufferingMs: number;
  readonly cancelRequested: boolean;
}

/** Why the buffer forces a rollback (seed 000: a buffer timeout, more writes than it holds, a cancel); undefined if it does not. */
export function bufferRefusal(buffer: BufferCondition, params: SplitParams): string | undefined {
  if (buffer.overflowed) return `buffer overflow: more than ${params.bufferMaxSize} writes held`;
  if (buffer.bufferingMs > params.bufferTimeoutMs) return `buffer timeout: writes held for more than ${params.bufferTimeoutMs} ms`;
  if (buffer.cancelRequested) return CANCELLED;
  return undefined;
}

export type BufferingStep = { readonly kind: 'forward' } | { readonly kind: 'commit' } | { readonly kind: 'abort'; readonly reason: string };

/**
 * While writes are held: `split-commit` once the target has every entry proposed before the buffering
 * began (`heldFrom`), forwarding until then; a refusal of the buffer rolls back first.
 */
export function bufferingStep(buffer: BufferCondition, targetApplied: number, heldFrom: number, params: SplitParams): BufferingStep {
  const reason = bufferRefusal(buffer, params);
  if (reason !== undefined) return { kind: 'abort', reason };
  return targetApplied >= heldFrom ? { kind: 'commit' } : { kind: 'forward' };
}

/** What the source knows when the target's leader did not take a request: no answer, or one that does not show it. */
export interface TargetSilence {
  /** `split-commit` is in the source's log: nothing rolls back any more. */
  readonly committed: boolean;
  /** Since the target last took a request. */
  readonly silentMs: number;
  /** Why the last attempt failed (no leader, unreachable, not taken). */
  readonly why: string;
  readonly buffer: BufferCondition;
}

export type SilenceStep =
  | { readonly kind: 'retry' }
  | { readonly kind: 'abort'; readonly reason: string }
  /** After the commit: this driver stops, and the next run starts over from what a probe of the target finds. */
  | { readonly kind: 'restart'; readonly reason: string };

export function targetSilenceStep(silence: TargetSilence, params: SplitParams): SilenceStep {
  const silent = silence.silentMs > params.targetTimeoutMs ? `the target's leader did not answer for ${params.targetTimeoutMs} ms (${silence.why})` : undefined;
  if (silence.committed) return silent === undefined ? { kind: 'retry' } : { kind: 'restart', reason: silent };
  if (silence.buffer.cancelRequested) return { kind: 'abort', reason: CANCELLED };
  if (silent !== undefined) return { kind: 'abort', reason: silent };
  const reason = bufferRefusal(silence.buffer, params);
  return reason === undefined ? { kind: 'retry' } : { kind: 'abort', reason };
}

/** The status a task ends with after `split-abort {reason}`. */
export function abortedStatus(reason: string): 'failed' | 'cancelled' {
  return reason === CANCELLED ? 'cancelled' : 'failed';
}

/** A report is sent at every new status, else once per progress interval. */
export function reportDue(status: SplitStatus, lastStatus: SplitStatus | undefined, sinceLastMs: number, params: SplitParams): boolean {
  return status !== lastStatus || sinceLastMs >= params.progressIntervalMs;
}

/**
 * Seconds until `done` reaches `total` at the rate so far; null while nothing is done (no rate yet) or
 * when there is nothing left to estimate.
 */
export function etaSeconds(done: number, total: number, elapsedMs: number): number | null {
  if (done <= 0 || elapsedMs <= 0) return null;
  return Math.max(0, Math.round(((total - done) * elapsedMs) / done / 100) / 10);
}
