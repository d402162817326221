/**
 * Messages between nodes and the pilot. Nodes join once per start, then heartbeat; the pilot answers each
 * heartbeat with the newest routing table when the node's copy is older (commands ride on heartbeat
 * replies, as in PD), and a long poll lets a node learn a new version at once.
 */
import type { RoutingTable } from './routing.js';

export interface JoinRequest {
  /** Present when the node already has an id (it restarted); absent on its first start. */
  readonly node_id?: string;
  readonly host: string;
  readonly port: number;
  readonly bus_port: number;
  readonly metrics_port: number;
  readonly pid: number;
  /** The incarnation of the cluster the node's data belongs to, from an earlier join's answer. */
  readonly cluster_incarnation?: string;
}

export interface JoinResponse {
  readonly node_id: string;
  readonly routing: RoutingTable;
  /** The cluster's incarnation; absent only for a cluster from before incarnations whose nodes all predate them. */
  readonly cluster_incarnation?: string;
}

/** Statistics of one shard replica, as a node reports them. */
export interface ShardStats {
  readonly shard_id: string;
  readonly keys: number;
  readonly bytes: number;
  /** Commands per second over the last report interval. */
  readonly ops_per_sec: number;
  /** Milliseconds since the epoch of the last command served, 0 if none. */
  readonly last_access_ms: number;
}

export interface HeartbeatRequest {
  readonly node_id: string;
  readonly pid: number;
  readonly routing_version: number;
  readonly shards: readonly ShardStats[];
  /** Shards this node leads, with the Raft term of its leadership. */
  readonly leaders?: readonly { readonly shard_id: string; readonly term: number }[];
}

export interface HeartbeatResponse {
  /** Present when the node's routing version is older than the pilot's. */
  readonly routing?: RoutingTable;
}

/**
 * How long a node waits for the pilot to answer a request before it asks another replica: a pilot that
 * takes the lead from a paused one hears from the nodes only after this.
 */
export const PILOT_REQUEST_TIMEOUT_MS = 5000;
