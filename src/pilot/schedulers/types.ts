/**
 * What the pilot's schedulers read and what they return. A scheduler is a pure function of a cluster
 * snapshot and a configuration: the clock is `nowMs` in the snapshot, and every order is fixed (ties go to
 * the smaller id), so every pilot replica and every test run decides alike. Executing operators is the
 * driver's job, not theirs.
 */
import type { SlotRange } from '../presplit.js';

/** `down` and `draining` nodes receive no new replica or leader. */
export type SnapshotNodeState = 'up' | 'down' | 'draining';

export interface SnapshotNode {
  readonly id: string;
  readonly state: SnapshotNodeState;
  /** When the node was last heard from, for a `down` node; undefined otherwise. */
  readonly downSinceMs: number | undefined;
}

/** A shard's operations per second over one report interval ending at `atMs`. */
export interface OpsSample {
  readonly atMs: number;
  readonly opsPerSec: number;
}

/** Operations sampled on one slot of a shard over the recent window. */
export interface SlotLoad {
  readonly slot: number;
  readonly ops: number;
}

export interface SnapshotShard {
  readonly id: string;
  readonly keyspace: string;
  /** The shard owns slots [start, end), as in the routing table. */
  readonly slots: SlotRange;
  /** Node ids of every replica, the leader's included. */
  readonly replicas: readonly string[];
  /** Node id of the leader; undefined while none is known. */
  readonly leader: string | undefined;
  readonly bytes: number;
  readonly keys: number;
  /** Oldest first, over the recent window. */
  readonly opsSamples: readonly OpsSample[];
  /** Per-slot sampled load for the load split; absent when the leader sampled none. */
  readonly slotLoad?: readonly SlotLoad[];
  /** Milliseconds since the epoch of the last command served; 0 if none. */
  readonly lastAccessMs: number;
  /** When a split last gave the shard its current range; undefined if none did. */
  readonly splitAtMs: number | undefined;
  /** The shard takes part in a task (split, merge or move) already. */
  readonly inTask: boolean;
}

export type TaskKind = 'split' | 'merge' | 'move';

/** A task the driver is carrying out: counted against the limits. */
export interface TaskInFlight {
  readonly kind: TaskKind;
  readonly shardIds: readonly string[];
  readonly nodeIds: readonly string[];
}

export interface ClusterSnapshot {
  readonly nowMs: number;
  readonly nodes: readonly SnapshotNode[];
  /** Each keyspace's shards ordered by their first slot. */
  readonly shards: readonly SnapshotShard[];
  readonly tasks: readonly TaskInFlight[];
}

export type SchedulerName = 'repair' | 'drain' | 'size-split' | 'load-split' | 'merge' | 'replica-rebalance' | 'leader-rebalance';

interface OperatorBase {
  readonly shardId: string;
  readonly scheduler: SchedulerName;
  /** Why, with the figures that decided it. */
  readonly reason: string;
}

/** The shard splits in two; `atSlot` is the first slot of the new shard. */
export interface SplitOperator extends OperatorBase {
  readonly kind: 'split';
  readonly atSlot: number;
}

/** The shard absorbs its adjacent neighbour `withShardId`. */
export interface MergeOperator extends OperatorBase {
  readonly kind: 'merge';
  readonly withShardId: string;
}

/** A replica change or leadership change on `nodeId`. */
export interface NodeOperator extends OperatorBase {
  readonly kind: 'add-replica' | 'remove-replica' | 'transfer-leader';
  readonly nodeId: string;
}

export type Operator = SplitOperator | MergeOperator | NodeOperator;

/** Something a scheduler cannot fix by an operator and the driver should report instead of retrying. */
export interface Finding {
  readonly kind: 'unsplittable-hot-slot';
  readonly shardId: string;
  readonly slot: number;
  readonly scheduler: SchedulerName;
  readonly reason: string;
}

/** One split phase: a keyspace with fewer than `shardsPerNodeBelow` shards per up node splits shards above `splitAboveBytes`. */
export interface SplitPhase {
  readonly shardsPerNodeBelow: number;
  readonly splitAboveBytes: number;
}

export interface SchedulerConfig {
  /** In order; a keyspace past the last phase splits above `splitForceBytes`. */
  readonly splitPhases: readonly SplitPhase[];
  readonly splitForceBytes: number;
  /** No split makes a keyspace hold more shards than this. */
  readonly shardsPerKeyspaceMax: number;
  /** A shard whose every sample over `splitQpsWindowMs` is above `splitQps` splits by load. */
  readonly splitQps: number;
  readonly splitQpsWindowMs: number;
  /** A slot carrying at least this share of a shard's sampled load cannot be split away from it. */
  readonly hotSlotShareMin: number;
  /** Adjacent shards merge when both hold less than this fraction of the split size, and are cold. */
  readonly mergeSizeFraction: number;
  /** A shard a split created is not merged for this long. */
  readonly mergeAfterSplitDelayMs: number;
  /** Temperature: hot at a mean of at least `hotOpsPerSecMin` over the window; cold when no sample exceeds `coldOpsPerSecMax`. */
  readonly temperatureWindowMs: number;
  readonly hotOpsPerSecMin: number;
  readonly coldOpsPerSecMax: number;
  /** Frozen when nothing was served for this long. */
  readonly frozenAfterMs: number;
  /** Replica moves (add or remove replica) in flight at once. */
  readonly maxMoves: number;
  /** Splits in flight in the cluster at once. */
  readonly maxSplits: number;
  /** Splits and merges in flight involving one node at once. */
  readonly maxSplitsPerNode: number;
  /** A node down this long has its replicas rebuilt elsewhere. */
  readonly downAfterMs: number;
  readonly replicationFactor: number;
}

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** Seed 003's phases: low (< 8 shards per node), high (< 24), then the force threshold. */
export const SPLIT_LOW_PHASE_SHARDS_PER_NODE = 8;
export const SPLIT_LOW_PHASE_BYTES = 512 * MIB;
export const SPLIT_HIGH_PHASE_SHARDS_PER_NODE = 24;
export const SPLIT_HIGH_PHASE_BYTES = 10 * GIB;
export const SPLIT_FORCE_BYTES = 100 * GIB;
export const SHARDS_PER_KEYSPACE_MAX = 256;
/** CockroachDB's load-based split threshold and a window of a few heartbeats. */
export const SPLIT_QPS = 2500;
export const SPLIT_QPS_WINDOW_MS = 10_000;
export const HOT_SLOT_SHARE_MIN = 0.9;
export const MERGE_SIZE_FRACTION = 0.25;
export const MERGE_AFTER_SPLIT_DELAY_MS = 10 * 60_000;
export const TEMPERATURE_WINDOW_MS = 10 * 60_000;
export const HOT_OPS_PER_SEC_MIN = 1000;
export const COLD_OPS_PER_SEC_MAX = 10;
/** Seed 001: a shard untouched for more than 30 days is frozen. */
export const FROZEN_AFTER_MS = 30 * 24 * 3_600_000;
export const MAX_MOVES = 2;
/** Seed 003's outstanding split limits: 1 in the cluster, 1 per node. */
export const MAX_SPLITS = 1;
export const MAX_SPLITS_PER_NODE = 1;
export const DOWN_AFTER_MS = 5 * 60_000;
export const REPLICATION_FACTOR = 3;

export const SCHEDULER_CONFIG_DEFAULT: SchedulerConfig = {
  splitPhases: [
    { shardsPerNodeBelow: SPLIT_LOW_PHASE_SHARDS_PER_NODE, splitAboveBytes: SPLIT_LOW_PHASE_BYTES },
    { shardsPerNodeBelow: SPLIT_HIGH_PHASE_SHARDS_PER_NODE, splitAboveBytes: SPLIT_HIGH_PHASE_BYTES },
  ],
  splitForceBytes: SPLIT_FORCE_BYTES,
  shardsPerKeyspaceMax: SHARDS_PER_KEYSPACE_MAX,
  splitQps: SPLIT_QPS,
  splitQpsWindowMs: SPLIT_QPS_WINDOW_MS,
  hotSlotShareMin: HOT_SLOT_SHARE_MIN,
  mergeSizeFraction: MERGE_SIZE_FRACTION,
  mergeAfterSplitDelayMs: MERGE_AFTER_SPLIT_DELAY_MS,
  temperatureWindowMs: TEMPERATURE_WINDOW_MS,
  hotOpsPerSecMin: HOT_OPS_PER_SEC_MIN,
  coldOpsPerSecMax: COLD_OPS_PER_SEC_MAX,
  frozenAfterMs: FROZEN_AFTER_MS,
  maxMoves: MAX_MOVES,
  maxSplits: MAX_SPLITS,
  maxSplitsPerNode: MAX_SPLITS_PER_NODE,
  downAfterMs: DOWN_AFTER_MS,
  replicationFactor: REPLICATION_FACTOR,
};

/** A scheduler: the operators it proposes for this snapshot, most urgent first. */
export type Scheduler = (snapshot: ClusterSnapshot, config: SchedulerConfig) => Operator[];
