/**
 * A split's phases in its three vocabularies, in one table (docs/SPLIT.md): the status the API shows and
 * the pilot records (spelled as the API fixes it), what the source shard's Raft log holds in that status,
 * and the step the source's driver runs. Every translation between them reads this table.
 */
import type { EndedSplit, SourceSplitState } from '../shard/split-state.js';

/** A split task's status, in the order a split that succeeds goes through them (seed 000). */
export const SPLIT_STATUSES = ['preparing', 'snapshot_transfer', 'catching_up', 'buffering', 'switching', 'cleanup', 'completed', 'failed', 'cancelled'] as const;
export type SplitStatus = (typeof SPLIT_STATUSES)[number];

/**
 * What the source shard's log holds of a task: nothing yet, `split-begin`, `split-commit`, or its end
 * (the last `split-cleanup`, or `split-abort`).
 */
export type SourceLogPhase = 'none' | 'begun' | 'committed' | 'completed' | 'aborted';

/** The source driver's steps (split-source.ts): propose `split-begin`; snapshot, catch up, buffer and commit; hand off; clean up; report the end. */
export type DriverStep = 'begin' | 'transfer' | 'switch' | 'cleanup' | 'end';

/** The progress numbers a status moves (SplitProgress): snapshot bytes sent, or source entries the target applied. */
export type PhaseProgress = 'snapshot-bytes' | 'entries-applied';

export interface SplitPhase {
  readonly log: SourceLogPhase;
  readonly step: DriverStep;
  /** The target serves the moved range (it applied `split-handoff`): the routing table gives it the range. */
  readonly targetServes: boolean;
  readonly progress: PhaseProgress | null;
}

/** The table. A task cancelled before `split-begin` is `cancelled` with nothing in the source's log. */
export const SPLIT_PHASES: { readonly [S in SplitStatus]: SplitPhase } = {
  preparing: { log: 'none', step: 'begin', targetServes: false, progress: null },
  snapshot_transfer: { log: 'begun', step: 'transfer', targetServes: false, progress: 'snapshot-bytes' },
  catching_up: { log: 'begun', step: 'transfer', targetServes: false, progress: 'entries-applied' },
  buffering: { log: 'begun', step: 'transfer', targetServes: false, progress: null },
  switching: { log: 'committed', step: 'switch', targetServes: false, progress: null },
  cleanup: { log: 'committed', step: 'cleanup', targetServes: true, progress: null },
  completed: { log: 'completed', step: 'end', targetServes: true, progress: null },
  failed: { log: 'aborted', step: 'end', targetServes: false, progress: null },
  cancelled: { log: 'aborted', step: 'end', targetServes: false, progress: null },
};

/** Statuses after which nothing changes. */
export const SPLIT_FINAL_STATUSES: readonly SplitStatus[] = SPLIT_STATUSES.filter((s) => SPLIT_PHASES[s].step === 'end');

export function isFinalStatus(status: SplitStatus): boolean {
  return SPLIT_PHASES[status].step === 'end';
}

/** From `switching` on, the source has given the range away in its log: the split only rolls forward. */
export function splitRollsForward(status: SplitStatus): boolean {
  const { log } = SPLIT_PHASES[status];
  return log === 'committed' || log === 'completed';
}

/** The task is rolled back: the target shard goes. */
export function splitRolledBack(status: SplitStatus): boolean {
  return SPLIT_PHASES[status].log === 'aborted';
}

/** What the source's log holds of a task, from its split state and the record of the tasks it ended. */
export function sourceLogPhase(state: SourceSplitState | null, ended: EndedSplit | undefined): SourceLogPhase {
  if (state !== null) return state.phase;
  return ended?.outcome ?? 'none';
}

/** The first status in which the source's log stands at `log`: where a new leader of the source picks the split up. */
export function resumeStatus(log: SourceLogPhase): SplitStatus {
  return SPLIT_STATUSES.find((s) => SPLIT_PHASES[s].log === log)!;
}
