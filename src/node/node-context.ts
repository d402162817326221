/** What server commands (PING, CLUSTER, SCAN, ...) may see of the node that runs them. */
import type { ShardReplica } from '../shard/shard-replica.js';
import type { ClientConnection } from './client-connection.js';
import type { RoutingView } from './routing-view.js';
import type { Reply } from '../resp/reply.js';
import type { FaultInjector } from '../transport/fault-injector.js';

export interface NodeStats {
  commandsProcessed: number;
  connectionsReceived: number;
  /** Commands per second over the last second. */
  opsPerSec: number;
}

export interface NodeContext {
  /** The node's id, undefined until the pilot has registered it. */
  readonly selfId: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly requirepass: string | undefined;
  readonly startedAtMs: number;
  readonly stats: NodeStats;
  readonly connections: ReadonlyMap<number, ClientConnection>;
  /** The newest routing table this node knows. */
  routing(): RoutingView;
  /** Replicas of the default keyspace's shards this node leads, in slot order (opened on demand). */
  ledReplicas(): ShardReplica[];
  /**
   * Resolves once everything applied so far is on disk, for the scans that read only durable data. Data
   * and Raft logs commit together, so applied data never gets ahead of its applied index on disk.
   */
  settled(): Promise<void>;
  /**
   * Deletes every key of the shards this node leads, through their Raft logs; 'switching' (nothing done)
   * while a split of one of them is between its switch and the end of its cleanup.
   */
  flushLed(): Promise<'flushed' | 'switching'>;
  /** The bus's fault rules when the node runs with --enable-debug-command; undefined otherwise. */
  debugFaults(): FaultInjector | undefined;
  /** The 40-hex id Redis Cluster clients see for this node. */
  clusterId(): string;
}

/** A server command: runs on the node, not on one shard. */
export type ServerHandler = (ctx: NodeContext, conn: ClientConnection, argv: readonly Buffer[]) => Reply | Promise<Reply>;
