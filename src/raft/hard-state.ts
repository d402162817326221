/**
 * The state Raft must persist before it sends any message that depends on it (Raft paper, Figure 2:
 * "persistent state on all servers"), plus the commit index so a restart need not re-learn it.
 */
export interface HardState {
  readonly term: number;
  /** The peer this node voted for in `term`, or NONE. */
  readonly vote: number;
  readonly commit: number;
}

/** The hard state of a node that has never run. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** Whether two hard states are equal field by field. */
export function hardStateEquals(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Whether `hs` is the state of a node that has never run. */
export function isEmptyHardState(hs: HardState): boolean {
  return hardStateEquals(hs, EMPTY_HARD_STATE);
}
