/**
 * A shard's part in a split, as its Raft log has decided it (docs/SPLIT.md). Stored with the shard's data,
 * in the same transaction as the applied index, and carried by the shard's Raft snapshots.
 */

/** The shard being split: `[splitSlot, end)` moves to `target`. */
export interface SourceSplitState {
  readonly role: 'source';
  readonly taskId: string;
  readonly target: string;
  readonly splitSlot: number;
  readonly end: number;
  /** `begun` until `split-commit` is applied; from `committed` on the moving range is no longer served here. */
  readonly phase: 'begun' | 'committed';
  /** The source log index of `split-commit`; 0 before. Forwarding ends there. */
  readonly commitIndex: number;
}

/** The shard receiving `[splitSlot, end)` from `source`. */
export interface TargetSplitState {
  readonly role: 'target';
  readonly taskId: string;
  readonly source: string;
  readonly splitSlot: number;
  readonly end: number;
  /** The source index the snapshot was taken at. */
  readonly snapshotIndex: number;
  /** Which snapshot of the task this is: a reset starts a higher one, and chunks of another are skipped (0: unnumbered). */
  readonly attempt: number;
  /** Cursor of the next snapshot chunk expected; null = the first, until `snapshotDone`. */
  readonly nextCursor: Uint8Array | null;
  readonly snapshotDone: boolean;
  /** The last source index whose effects are applied here (the snapshot index before forwarding). */
  readonly lastSourceIndex: number;
  /** `split-handoff` applied: the shard owns `[splitSlot, end)`. */
  readonly handedOff: boolean;
  /** Bytes of snapshot data ingested so far. */
  readonly bytesIngested: number;
}

export type ShardSplitState = SourceSplitState | TargetSplitState;

/** What a split entry's apply answers its proposer: the state after it, and whether it took effect. */
export type SplitApplyResult =
  | { readonly ok: true; readonly state: ShardSplitState | null }
  /** Refused or skipped (a duplicate, a stale task, out of order); the state is unchanged. */
  | { readonly ok: false; readonly reason: string; readonly state: ShardSplitState | null };

/**
 * The slots a shard's own log says it serves, kept after the split ends: a request routed by a stale
 * routing table must never be applied by a shard that gave its slots away. null: the shard has never
 * taken part in a split, and serves what the routing table gives it.
 */
export interface OwnedRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A split this shard's log has finished with, as its source: a task never begins again once its
 * rollback or its cleanup is logged, even when a leader acting on an old routing table asks it to.
 */
export interface EndedSplit {
  readonly taskId: string;
  readonly splitSlot: number;
  readonly outcome: 'completed' | 'aborted';
  /** Why it was rolled back (`cancelled` for a cancel). */
  readonly reason?: string;
}
