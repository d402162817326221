/**
 * What the pilot, the nodes and the split's drivers share about a split: the default parameters (seed
 * 000's), the report a source shard's leader sends the pilot, and the requests it sends the target's
 * leader with their answers. The statuses are in phases.ts; the marker the routing table carries on a
 * splitting shard, with the parameters in it, is part of the table (common/routing.ts). docs/SPLIT.md
 * describes the protocol.
 */
import type { SplitParams } from '../common/routing.js';
import type { OwnedRange, ShardSplitState, SplitApplyResult } from '../shard/split-state.js';
import type { SplitStatus } from './phases.js';

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

/** What a split's source leader sends a target replica: a split entry to propose, or null to ask its state. */
export interface SplitRequest {
  readonly shard: string;
  readonly command: Uint8Array | null;
}

/** What the target's leader answered to a split request. */
export type TargetAnswer =
  | { readonly kind: 'ok'; readonly result: SplitApplyResult | null; readonly state: ShardSplitState | null; readonly owned: OwnedRange | null }
  | { readonly kind: 'notLeader' }
  | { readonly kind: 'unreachable'; readonly reason: string };
