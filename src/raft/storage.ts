import type { HardState } from './hard-state.js';
import type { Entry } from './log-entry.js';
import type { ConfState, Snapshot } from './snapshot.js';

/** Why storage could not answer: the index is below the first kept entry, or above the last one. */
export type StorageError = 'compacted' | 'unavailable';

/**
 * The read-only view Raft has of the persisted log, hard state and latest snapshot (etcd's `Storage`).
 * The driver writes to it (from each Ready) and compacts it; Raft only reads, synchronously. An LMDB
 * implementation fits because LMDB reads are synchronous.
 *
 * Storage keeps entries (firstIndex .. lastIndex) and the term of the entry just before them
 * (firstIndex - 1, the latest snapshot's index), so the leader can always check log matching at the
 * boundary.
 */
export interface RaftLogStorage {
  /**
   * The persisted hard state and the membership as of the applied index the driver passes in
   * `RaftConfig.applied` (or as of the snapshot, when it passes none).
   */
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /**
   * Entries [lo, hi), as many as fit in `maxSizeBytes` but at least one. 'compacted' when lo is at or
   * below the snapshot index. hi must be ≤ lastIndex() + 1.
   */
  entries(lo: number, hi: number, maxSizeBytes: number): readonly Entry[] | StorageError;
  /** The term of entry `index`, for firstIndex() - 1 ≤ index ≤ lastIndex(). */
  term(index: number): number | StorageError;
  /** Index of the first entry kept (snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry persisted (the snapshot index when no entry follows it). */
  lastIndex(): number;
  /**
   * The latest snapshot, to send to a follower whose next entry is compacted. This is the hook for the
   * application's snapshot: the driver may build it lazily (e.g. metadata now, data streamed in chunks by
   * the transport). 'temporarilyUnavailable' makes the leader retry on a later heartbeat response.
   */
  snapshot(): Snapshot | 'temporarilyUnavailable';
}
