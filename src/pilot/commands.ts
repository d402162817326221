/**
 * The commands of the pilot's state machine and their results. A command is plain data: everything that is
 * not a function of the state (ids chosen at random, wall-clock times) is chosen by the driver that proposes
 * it, so every replica that applies the same commands in the same order reaches the same state.
 */

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

/** A node starts for the first time: the state machine gives it the next id (`node1`, `node2`, ...). */
export interface RegisterNodeCommand extends NodeProcess {
  readonly kind: 'register-node';
  /** 40 lowercase hex characters, chosen by the driver: the id Redis Cluster clients see. */
  readonly clusterId: string;
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

/** Every command of the pilot's state machine. */
export type PilotCommand = RegisterNodeCommand | UpdateNodeCommand | BootstrapKeyspaceCommand;

/** What each command answers when it is accepted, by command kind. */
export interface PilotCommandAccepted {
  readonly 'register-node': { readonly ok: true; readonly nodeId: string };
  /** `routingChanged` is false when only the process id or metrics port changed. */
  readonly 'update-node': { readonly ok: true; readonly nodeId: string; readonly routingChanged: boolean };
  readonly 'bootstrap-keyspace': { readonly ok: true; readonly keyspace: string; readonly shardIds: readonly string[] };
}

/** Why the state machine refused a command; a refused command leaves the state unchanged. */
export type PilotRejectionReason =
  | 'invalid-argument'
  | 'cluster-id-taken'
  | 'address-in-use'
  | 'unknown-node'
  | 'keyspace-exists'
  | 'not-enough-nodes';

/** A refused command, with a message for logs and API errors. */
export interface PilotRejection {
  readonly ok: false;
  readonly reason: PilotRejectionReason;
  readonly message: string;
}

/** The result of applying `C`: its accepted answer or a rejection. */
export type PilotCommandResult<C extends PilotCommand = PilotCommand> = PilotCommandAccepted[C['kind']] | PilotRejection;
