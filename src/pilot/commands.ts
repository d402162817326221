import type { SplitParams } from '../common/routing.js';
import type { SplitStatus } from '../split/phases.js';
import type { NodeProcess, PilotState } from './pilot-state.js';

/**
 * The commands of the pilot's state machine and their results. A command is plain data: everything that is
 * not a function of the state (ids chosen at random, wall-clock times) is chosen by the driver that proposes
 * it, so every replica that applies the same commands in the same order reaches the same state.
 */

/** A node starts for the first time: the state machine gives it the next id (`node1`, `node2`, ...). */
export interface RegisterNodeCommand extends NodeProcess {
  readonly kind: 'register-node';
  /** 40 lowercase hex characters, chosen by the driver: the id Redis Cluster clients see. */
  readonly clusterId: string;
  /** Random, chosen by the driver: becomes the cluster's incarnation if it has none yet. */
  readonly incarnation?: string;
  readonly atMs: number;
}

/** A known node started again, perhaps with a new address or process. */
export interface UpdateNodeCommand extends NodeProcess {
  readonly kind: 'update-node';
  readonly nodeId: string;
  readonly atMs: number;
}

/**
 * Creates a hash keyspace presplit into `shardsPerNode × nodes` shards over the registered nodes, each
 * shard on `replicas` distinct nodes.
 */
export interface BootstrapKeyspaceCommand {
  readonly kind: 'bootstrap-keyspace';
  readonly keyspace: string;
  readonly shardsPerNode: number;
  readonly replicas: number;
  readonly atMs: number;
}

/** One shard's leader as a node reported it: `nodeId` leads `shardId` in Raft term `term`. */
export interface ShardLeaderReport {
  readonly shardId: string;
  readonly nodeId: string;
  readonly term: number;
}

/**
 * Records who leads shards, as nodes reported in heartbeats. An entry takes effect only when its term is
 * newer than the one recorded, so a late report of an older term cannot undo a newer one; entries that do
 * not take effect are skipped, not refused, because another report may have overtaken the batch.
 */
export interface SetShardLeadersCommand {
  readonly kind: 'set-shard-leaders';
  readonly leaders: readonly ShardLeaderReport[];
}

/**
 * Changes a shard's desired replica set by one node. The shard's Raft leader reconciles the group to it;
 * `epoch`, when given, is the shard epoch the operator saw, and a shard that has moved on refuses.
 */
export interface ChangeShardReplicasCommand {
  readonly kind: 'change-shard-replicas';
  readonly shardId: string;
  readonly action: 'add' | 'remove';
  readonly nodeId: string;
  readonly epoch?: number;
}

/** Asks a shard's Raft leader to hand leadership to the replica `nodeId`. */
export interface TransferShardLeaderCommand {
  readonly kind: 'transfer-shard-leader';
  readonly shardId: string;
  readonly nodeId: string;
  readonly epoch?: number;
}

/**
 * Carries a whole state into an empty group: the state a pilot recovered from the command log it kept
 * before its state was a Raft group. Refused once the group holds anything, so it can only ever be the
 * group's first change.
 */
export interface ImportStateCommand {
  readonly kind: 'import-state';
  readonly state: PilotState;
}

/**
 * Starts splitting a shard (seed 000's TriggerSplit). Omitted choices are the state machine's: the next
 * shard id, and the nodes with the fewest replicas, as many as the source has. The limits are the pilot's
 * flags, carried in the command so that every replica judges alike.
 */
export interface CreateSplitCommand {
  readonly kind: 'create-split';
  readonly sourceShard: string;
  readonly splitSlot?: number;
  readonly targetShardId?: string;
  readonly targetNodes?: readonly string[];
  readonly params: SplitParams;
  readonly maxSplits: number;
  readonly maxSplitsPerNode: number;
  readonly atMs: number;
}

/** A phase the source shard's log has reached, as its leader reported it. */
export interface SplitProgressCommand {
  readonly kind: 'split-progress';
  readonly taskId: string;
  readonly status: SplitStatus;
  readonly splitSlot?: number;
  readonly reason?: string;
  readonly atMs: number;
}

/** Asks the source's leader to roll back, which it does unless the switch is already in its log. */
export interface CancelSplitCommand {
  readonly kind: 'cancel-split';
  readonly taskId: string;
  readonly atMs: number;
}

/** Every command of the pilot's state machine. */
export type PilotCommand =
  | RegisterNodeCommand
  | UpdateNodeCommand
  | BootstrapKeyspaceCommand
  | SetShardLeadersCommand
  | ChangeShardReplicasCommand
  | TransferShardLeaderCommand
  | ImportStateCommand
  | CreateSplitCommand
  | SplitProgressCommand
  | CancelSplitCommand;

/** What each command answers when it is accepted, by command kind. */
export interface PilotCommandAccepted {
  readonly 'register-node': { readonly ok: true; readonly nodeId: string };
  /** `routingChanged` is false when only the process id or metrics port changed. */
  readonly 'update-node': { readonly ok: true; readonly nodeId: string; readonly routingChanged: boolean };
  readonly 'bootstrap-keyspace': { readonly ok: true; readonly keyspace: string; readonly shardIds: readonly string[] };
  /** The shards whose recorded leader or term changed; empty when every entry was stale. */
  readonly 'set-shard-leaders': { readonly ok: true; readonly shardIds: readonly string[] };
  readonly 'change-shard-replicas': { readonly ok: true; readonly shardId: string };
  readonly 'transfer-shard-leader': { readonly ok: true; readonly shardId: string };
  readonly 'import-state': { readonly ok: true; readonly routingVersion: number };
  readonly 'create-split': { readonly ok: true; readonly taskId: string; readonly sourceShard: string; readonly targetShard: string };
  /** `changed` is false when the report repeated what was recorded. */
  readonly 'split-progress': { readonly ok: true; readonly taskId: string; readonly changed: boolean };
  readonly 'cancel-split': { readonly ok: true; readonly taskId: string };
}

/** Why the state machine refused a command; a refused command leaves the state unchanged. */
export type PilotRejectionReason =
  | 'invalid-argument'
  | 'cluster-id-taken'
  | 'address-in-use'
  | 'address-bound'
  | 'other-cluster'
  | 'unknown-node'
  | 'keyspace-exists'
  | 'not-enough-nodes'
  | 'unknown-shard'
  | 'stale-epoch'
  | 'already-replica'
  | 'not-a-replica'
  | 'last-replica'
  | 'too-many-replicas'
  | 'already-leader'
  | 'state-not-empty'
  | 'unknown-split'
  | 'already-splitting'
  | 'too-many-splits'
  | 'shard-exists'
  | 'split-switched';

/** A refused command, with a message for logs and API errors. */
export interface PilotRejection {
  readonly ok: false;
  readonly reason: PilotRejectionReason;
  readonly message: string;
}

/** The result of applying `C`: its accepted answer or a rejection. */
export type PilotCommandResult<C extends PilotCommand = PilotCommand> = PilotCommandAccepted[C['kind']] | PilotRejection;
