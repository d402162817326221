/**
 * What the pilot, the nodes and the shards share about a split: its statuses, its parameters (seed 000's
 * names and defaults), the marker the routing table carries on a splitting shard, and the report a source
 * shard's leader sends the pilot. docs/SPLIT.md describes the protocol these serve.
 */

/** A split task's status, in the order a split that succeeds goes through them (seed 000). */
export const SPLIT_STATUSES = [
  'preparing',
  'snapshot_transfer',
  'catching_up',
  'buffering',
  'switching',
  'cleanup',
  'completed',
  'failed',
  'cancelled',
] as const;
export type SplitStatus = (typeof SPLIT_STATUSES)[number];

/** Statuses after which nothing changes. */
export const SPLIT_FINAL_STATUSES: readonly SplitStatus[] = ['completed', 'failed', 'cancelled'];

/** From `switching` on, the source has given the range away in its log: the split only rolls forward. */
export function splitRollsForward(status: SplitStatus): boolean {
  return status === 'switching' || status === 'cleanup' || status === 'completed';
}

/** Seed 000's tunables, plus the deadlines of its failure scenarios. */
export interface SplitParams {
  /** Buffering starts once the target is fewer than this many source log entries behind. */
  readonly catchUpThreshold: number;
  /** Longest a write waits in the buffer; past it the split rolls back and buffered writes get TRYAGAIN. */
  readonly bufferTimeoutMs: number;
  /** Most writes held in the buffer; one more and the split rolls back. */
  readonly bufferMaxSize: number;
  /** How often the source's leader reports progress to the pilot. */
  readonly progressIntervalMs: number;
  /** Bytes of data per snapshot chunk sent to the target. */
  readonly snapshotChunkBytes: number;
  /** Catch-up that still lags by more than `catchUpSlowDelay` entries after this long rolls back. */
  readonly catchUpDeadlineMs: number;
  readonly catchUpSlowDelay: number;
  /** The target's leader not answering for this long (crash, partition) rolls the split back. */
  readonly targetTimeoutMs: number;
}

export const SPLIT_PARAMS_DEFAULT: SplitParams = {
  catchUpThreshold: 100,
  bufferTimeoutMs: 5000,
  bufferMaxSize: 10_000,
  progressIntervalMs: 1000,
  snapshotChunkBytes: 1024 * 1024,
  catchUpDeadlineMs: 5 * 60_000,
  catchUpSlowDelay: 1000,
  targetTimeoutMs: 30_000,
};

/**
 * The marker a shard carries in the routing table while it takes part in a split (seed 000's
 * ShardSplitState). The target shard is listed from the start so its replicas start its Raft group, but it
 * serves no slot until the split switches.
 */
export interface RoutingSplit {
  readonly taskId: string;
  readonly role: 'source' | 'target';
  /** The other shard of the split. */
  readonly peer: string;
  /** The first slot that moves; null until the source's leader has chosen it (when the request did not). */
  readonly splitSlot: number | null;
  /** The split's parameters, so every source leader drives it alike. */
  readonly params: SplitParams;
  /** Someone asked to cancel: the source's leader rolls back unless the switch is already logged. */
  readonly cancelRequested?: boolean;
}

/** Progress numbers of a running split (seed 000's SplitProgress, plus what the API shows). */
export interface SplitProgress {
  readonly snapshot_done: boolean;
  /** The source's Raft index the snapshot was taken at; 0 before. */
  readonly snapshot_index: number;
  readonly snapshot_bytes_sent: number;
  /** Bytes of the moving range when the snapshot was taken. */
  readonly snapshot_bytes_total: number;
  readonly source_last_index: number;
  /** The last source index the target has applied (the snapshot index until forwarding starts). */
  readonly target_applied_index: number;
  /** source_last_index − target_applied_index. */
  readonly delay: number;
  readonly buffered_requests: number;
  /** Estimated seconds to the switch; null when unknown. */
  readonly eta_seconds: number | null;
}

/**
 * What a source shard's leader tells the pilot about a split, every `progressIntervalMs` and at every phase
 * change. `status` is the phase the source's log has reached; the pilot records each new one durably.
 */
export interface SplitReport {
  readonly task_id: string;
  /** The reporting node, and the source shard's Raft term it leads in (older terms are ignored). */
  readonly node_id: string;
  readonly term: number;
  readonly status: SplitStatus;
  /** Present once chosen. */
  readonly split_slot?: number;
  /** Why the split failed, with status `failed`. */
  readonly reason?: string;
  readonly progress: SplitProgress;
}

/** The pilot's answer to a report. */
export interface SplitReportResponse {
  /** The task's status as the pilot has recorded it. */
  readonly status: SplitStatus;
  readonly cancel_requested: boolean;
}
