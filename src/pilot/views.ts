/** The pilot's state and heartbeat knowledge as the HTTP API shows them. */
import { replicaIdOf } from '../common/replica-ids.js';
import type { RoutingShard } from '../common/routing.js';
import type { SplitProgress } from '../split/types.js';
import type { ClusterView, NodeView, PilotReplicationView, ShardView, SplitTaskView } from './api-schemas.js';
import type { NodeLiveness } from './liveness.js';
import { pilotUrlOf } from './pilot-peers.js';
import type { SplitTask } from './split-tasks.js';
import type { PilotReplicaStatus } from './state-driver.js';
import { DEFAULT_KEYSPACE, type PilotNode, type PilotState } from './state.js';

/** Cluster summary: `bootstrapping` until the default keyspace exists, then `ok` or `degraded`. */
export function clusterView(state: PilotState, liveness: NodeLiveness, nowMs: number): ClusterView {
  const up = state.nodes.filter((n) => liveness.isUp(n.id, nowMs)).length;
  const down = state.nodes.length - up;
  const bootstrapped = state.keyspaces.some((k) => k.name === DEFAULT_KEYSPACE);
  return {
    state: !bootstrapped ? 'bootstrapping' : down > 0 ? 'degraded' : 'ok',
    routing_version: state.routingVersion,
    nodes: { total: state.nodes.length, up, down },
    shards: { total: state.shards.length },
    keyspaces: state.keyspaces.map((k) => ({
      name: k.name,
      kind: k.kind,
      shard_count: state.shards.filter((s) => s.keyspace === k.name).length,
      created_at_ms: k.createdAtMs,
    })),
  };
}

/** A node with its liveness and how many shard replicas and leaders it holds. */
export function nodeView(state: PilotState, node: PilotNode, liveness: NodeLiveness, nowMs: number): NodeView {
  const lastSeenMs = liveness.lastSeen(node.id);
  return {
    id: node.id,
    cluster_id: node.clusterId,
    pid: node.pid,
    address: `${node.host}:${node.port}`,
    bus_port: node.busPort,
    metrics_port: node.metricsPort,
    state: liveness.isUp(node.id, nowMs) ? 'up' : 'down',
    shard_count: state.shards.filter((s) => s.replicas.includes(node.id)).length,
    leader_count: state.shards.filter((s) => s.leader === node.id).length,
    // A clock step backwards must not show a negative age.
    last_heartbeat_ms_ago: lastSeenMs === undefined ? null : Math.max(0, nowMs - lastSeenMs),
    registered_at_ms: node.registeredAtMs,
    joined_at_ms: node.joinedAtMs,
  };
}

/** A shard with its Redis-style slot range and the latest reported statistics. */
export function shardView(shard: RoutingShard, liveness: NodeLiveness, nowMs: number): ShardView {
  const reported = liveness.shardStats(shard.id, shard.leader);
  return {
    id: shard.id,
    keyspace: shard.keyspace,
    slot_range: { start: shard.start, end: shard.end },
    slots: slotsText(shard.start, shard.end),
    epoch: shard.epoch,
    leader: shard.leader,
    leader_term: shard.leaderTerm ?? 0,
    replicas: [...shard.replicas],
    replica_ids: Object.fromEntries(shard.replicas.map((id) => [id, replicaIdOf(shard, id)])),
    followers: shard.replicas.filter((id) => id !== shard.leader),
    ...(shard.transferTo === undefined ? {} : { transfer_to: shard.transferTo }),
    keys: reported?.stats.keys ?? 0,
    bytes: reported?.stats.bytes ?? 0,
    ops_per_sec: reported?.stats.ops_per_sec ?? 0,
    last_access_ms: reported?.stats.last_access_ms ?? 0,
    stats_age_ms: reported === undefined ? null : Math.max(0, nowMs - reported.atMs),
  };
}

/** The half-open range [start, end) as Redis writes slot ranges: inclusive `start-last`, or one slot. */
export function slotsText(start: number, end: number): string {
  return end - start === 1 ? String(start) : `${start}-${end - 1}`;
}

/** A Raft role as the API spells it. */
const ROLE_NAMES = { leader: 'leader', follower: 'follower', candidate: 'candidate', preCandidate: 'pre-candidate' } as const;

/** The pilot group as one replica sees it. */
export function pilotReplicationView(status: PilotReplicaStatus): PilotReplicationView {
  const leaderId = status.leader?.id ?? null;
  return {
    id: status.selfId,
    role: ROLE_NAMES[status.role],
    serving: status.serving,
    leader: leaderId,
    leader_url: status.leader === undefined ? null : pilotUrlOf(status.leader),
    term: status.term,
    commit_index: status.commitIndex,
    applied_index: status.appliedIndex,
    replicas: status.replicas.map(({ peer, matchIndex, recentlyActive }) => ({
      id: peer.id,
      url: pilotUrlOf(peer),
      bus_address: `${peer.host.includes(':') ? `[${peer.host}]` : peer.host}:${peer.busPort}`,
      role: leaderId === null ? null : peer.id === leaderId ? ('leader' as const) : ('follower' as const),
      match_index: matchIndex,
      recently_active: recentlyActive,
    })),
  };
}

/** A split task with the progress its source's leader last reported. */
export function splitTaskView(task: SplitTask, progress: SplitProgress | undefined): SplitTaskView {
  return {
    task_id: task.id,
    source_shard: task.sourceShard,
    target_shard: task.targetShard,
    split_slot: task.splitSlot,
    target_nodes: [...task.targetNodes],
    status: task.status,
    reason: task.reason,
    cancel_requested: task.cancelRequested,
    created_at_ms: task.createdAtMs,
    updated_at_ms: task.updatedAtMs,
    phases: { ...task.phases },
    progress: progress ?? null,
    params: { ...task.params },
  };
}
