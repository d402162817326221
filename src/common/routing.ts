/**
 * The versioned routing table: which shard owns which part of each keyspace, and where its replicas are.
 * The pilot owns it; nodes receive every new version. Every change gets a new, larger `version`.
 */

/** A node as the routing table knows it. */
export interface RoutingNode {
  readonly id: string;
  /** 40 hex characters, stable for the node's lifetime: the id Redis Cluster clients see. */
  readonly clusterId: string;
  /** Address clients connect to (RESP). */
  readonly host: string;
  readonly port: number;
  /** Internal RPC port (Raft, snapshots, forwarding). */
  readonly busPort: number;
}

/** One shard of a keyspace: the half-open routing range [start, end) and its replicas. */
export interface RoutingShard {
  readonly id: string;
  readonly keyspace: string;
  /** For hash keyspaces, slots: the shard owns slots [start, end). */
  readonly start: number;
  readonly end: number;
  /** Bumped whenever the shard's range or membership changes. */
  readonly epoch: number;
  /** Node id of the leader (the Redis "master"); null while no leader is known. */
  readonly leader: string | null;
  /** Node ids of all replicas, the leader included. */
  readonly replicas: readonly string[];
  /**
   * Raft replica ids of the replicas added after the shard was created, by node id (common/replica-ids.ts);
   * a replica not listed is a founding one, whose id is its node's number. Absent: all are founding.
   */
  readonly replicaIds?: Readonly<Record<string, number>>;
  /** Raft term in which `leader` was reported leading; absent = 0. */
  readonly leaderTerm?: number;
  /** A replica the leader is asked to hand leadership to. */
  readonly transferTo?: string;
  /** Present while the shard takes part in a split; a target serves no slot until the switch. */
  readonly split?: RoutingSplit;
}

export interface RoutingTable {
  readonly version: number;
  readonly nodes: readonly RoutingNode[];
  /** Shards of every keyspace, each keyspace's shards ordered by start. */
  readonly shards: readonly RoutingShard[];
}

export const EMPTY_ROUTING_TABLE: RoutingTable = { version: 0, nodes: [], shards: [] };

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
