import type { NodeId } from './node-id.js';

/** A group's membership: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  /** Sorted ascending. */
  readonly voters: readonly NodeId[];
  /** Sorted ascending; disjoint from `voters`. */
  readonly learners: readonly NodeId[];
}

/** The membership from `index` on, as the membership change at `index` left it. */
export interface ConfStateChange {
  readonly index: number;
  readonly confState: ConfState;
}

/** What a snapshot stands for: the log up to `index` (whose entry has `term`), and the membership then. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/**
 * A state-machine snapshot. `data` is opaque to Raft. A transport may ship it in chunks (or stream it
 * from a storage read transaction instead of holding it in memory) as long as the receiving side
 * reassembles it before stepping the `MsgSnap` into its RawNode; Raft only needs the metadata to be
 * exact.
 */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** The membership of a node that knows no group yet (a node about to be added). */
export const EMPTY_CONF_STATE: ConfState = Object.freeze({ voters: Object.freeze([]), learners: Object.freeze([]) });

/** The snapshot of an empty log (index 0, term 0, no members). */
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  metadata: Object.freeze({ index: 0, term: 0, confState: EMPTY_CONF_STATE }),
  data: new Uint8Array(0),
});

/**
 * The snapshot every founding member of a new group starts from: index 1, term 1, the given voters.
 * Because the initial membership lives in a snapshot and not in log entries, a node added later always
 * receives it (its empty log is "compacted" relative to the leader's first index 2), so it learns the
 * membership without replaying bootstrap entries. The matching hard state is term 1, commit 1.
 */
export function bootstrapSnapshot(voters: readonly NodeId[]): Snapshot {
  return {
    metadata: { index: 1, term: 1, confState: { voters: [...voters].sort((a, b) => a - b), learners: [] } },
    data: new Uint8Array(0),
  };
}
