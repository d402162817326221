/**
 * The shape of the pilot's replicated state: plain types, no logic. The commands (commands.ts), the split
 * tasks (split-tasks.ts) and the state machine (state.ts) all speak of it, so it depends on none of them.
 */
import type { RoutingShard } from '../common/routing.js';
import type { SplitParams } from '../common/routing.js';
import type { SplitStatus } from '../split/phases.js';

/** Where a node process listens, and which process it is. */
export interface NodeProcess {
  /** Address clients connect to (RESP). */
  readonly host: string;
  readonly port: number;
  /** Internal RPC port (Raft, snapshots, forwarding). */
  readonly busPort: number;
  /** Port of the node's Prometheus `/metrics`; 0 when it serves none. */
  readonly metricsPort: number;
  readonly pid: number;
}

/** A split task as the pilot records it (seed 000's SplitTask). */
export interface SplitTask {
  /** `split_1`, `split_2`, ... */
  readonly id: string;
  readonly keyspace: string;
  readonly sourceShard: string;
  readonly targetShard: string;
  /** The first slot that moves; null until the source's leader has chosen it. */
  readonly splitSlot: number | null;
  readonly targetNodes: readonly string[];
  readonly status: SplitStatus;
  /** Why it failed; null otherwise. */
  readonly reason: string | null;
  readonly cancelRequested: boolean;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  /** When each status was reached. */
  readonly phases: Readonly<Partial<Record<SplitStatus, number>>>;
  readonly params: SplitParams;
}

/** A registered node. */
export interface PilotNode extends NodeProcess {
  /** `node1`, `node2`, ... in registration order. */
  readonly id: string;
  readonly clusterId: string;
  readonly registeredAtMs: number;
  /** When the node last joined (registered or restarted). */
  readonly joinedAtMs: number;
}

/** A keyspace; only hash keyspaces (slots) exist so far. */
export interface PilotKeyspace {
  readonly name: string;
  readonly kind: 'hash';
  readonly createdAtMs: number;
}

/** Everything the pilot replicates; immutable, so each command yields a new state. */
export interface PilotState {
  /** Bumped by every command that changes the routing table. */
  readonly routingVersion: number;
  /** The number in the id of the next node to register. Ids are never reused. */
  readonly nextNodeNumber: number;
  /**
   * The generation of the next replica id (common/replica-ids.ts) given to a node added to a shard;
   * never given twice. Absent in states from before replica ids: 1 (founding replicas have generation 0).
   */
  readonly nextReplicaGeneration?: number;
  /** The number in the id of the next shard to create. Ids are never reused. */
  readonly nextShardNumber: number;
  /** In registration order, which is id order. */
  readonly nodes: readonly PilotNode[];
  /** In creation order. */
  readonly keyspaces: readonly PilotKeyspace[];
  /** Grouped by keyspace in keyspace order, each keyspace's shards ordered by start. */
  readonly shards: readonly RoutingShard[];
  /** Split tasks, oldest first: every outstanding one and the newest finished ones. Absent in states from before splits. */
  readonly splitTasks?: readonly SplitTask[];
  /** The number in the id of the next split task. */
  readonly nextSplitNumber?: number;
  /**
   * Ids of shards that are gone (a rolled-back split's target): never given again, so a node that missed
   * the removal cannot resume the old log under a new shard of the same name.
   */
  readonly retiredShardIds?: readonly string[];
  /**
   * The cluster's own random id, founded by the first node's registration (absent in states from before
   * it existed until a node registers). Nodes keep it, so a pilot whose data was reset can tell them apart.
   */
  readonly incarnation?: string;
}
