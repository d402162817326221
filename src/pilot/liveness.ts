/**
 * What the pilot learns from heartbeats: when each node was last heard from and the statistics of the shard
 * replicas it reported. Driver state, not replicated: after a pilot restart or leader change it is rebuilt
 * from the next heartbeats, and until then every node gets `timeoutMs` and a node's pilot request timeout
 * of grace from `startedAtMs` (the start, or the `reset` when a replica took the lead).
 */
import { PILOT_REQUEST_TIMEOUT_MS, type ShardStats } from '../common/protocol.js';

/** One node's latest report. */
interface NodeReport {
  readonly atMs: number;
  readonly shards: ReadonlyMap<string, ShardStats>;
}

/** A shard's statistics as a replica reported them, and when. */
export interface ReportedShardStats {
  readonly stats: ShardStats;
  readonly nodeId: string;
  readonly atMs: number;
}

/** A node whose liveness changed since the previous sweep. */
export interface LivenessChange {
  readonly nodeId: string;
  readonly up: boolean;
}

/** Liveness and shard statistics of every node, from joins and heartbeats. */
export class NodeLiveness {
  private readonly lastSeenMs = new Map<string, number>();
  private readonly reports = new Map<string, NodeReport>();
  /** Liveness as of the last sweep, to report changes once. */
  private readonly sweptUp = new Map<string, boolean>();

  constructor(
    private readonly timeoutMs: number,
    private startedAtMs: number,
  ) {}

  /** Forgets everything, as if started at `startedAtMs`: what a replica heard before it led is stale. */
  reset(startedAtMs: number): void {
    this.startedAtMs = startedAtMs;
    this.lastSeenMs.clear();
    this.reports.clear();
    this.sweptUp.clear();
  }

  /** A join counts as a sign of life; the node's old report belongs to its previous process. */
  recordJoin(nodeId: string, atMs: number): void {
    this.lastSeenMs.set(nodeId, atMs);
    this.reports.delete(nodeId);
  }

  /** Records a heartbeat; its shard list replaces the node's previous one. */
  recordHeartbeat(nodeId: string, shards: readonly ShardStats[], atMs: number): void {
    this.lastSeenMs.set(nodeId, atMs);
    this.reports.set(nodeId, { atMs, shards: new Map(shards.map((s) => [s.shard_id, s])) });
  }

  /** When the node last joined or sent a heartbeat to this pilot process; undefined if never. */
  lastSeen(nodeId: string): number | undefined {
    return this.lastSeenMs.get(nodeId);
  }

  /**
   * Heard from within the timeout. A node not heard from since the start (or since this replica took the
   * lead) gets a request timeout more: its heartbeats may hang on a paused former leader until then.
   */
  isUp(nodeId: string, nowMs: number): boolean {
    const seenMs = this.lastSeenMs.get(nodeId);
    return seenMs === undefined ? nowMs - this.startedAtMs <= this.timeoutMs + PILOT_REQUEST_TIMEOUT_MS : nowMs - seenMs <= this.timeoutMs;
  }

  /** The leader's latest report of the shard if it has one, else the freshest from another replica. */
  shardStats(shardId: string, leaderId: string | null): ReportedShardStats | undefined {
    let best: ReportedShardStats | undefined;
    for (const [nodeId, report] of this.reports) {
      const stats = report.shards.get(shardId);
      if (stats === undefined) continue;
      if (nodeId === leaderId) return { stats, nodeId, atMs: report.atMs };
      if (best === undefined || report.atMs > best.atMs) best = { stats, nodeId, atMs: report.atMs };
    }
    return best;
  }

  /** The nodes of `nodeIds` whose liveness changed since the previous sweep (first sweep: the down ones). */
  sweep(nodeIds: readonly string[], nowMs: number): LivenessChange[] {
    const changes: LivenessChange[] = [];
    for (const nodeId of nodeIds) {
      const up = this.isUp(nodeId, nowMs);
      if ((this.sweptUp.get(nodeId) ?? true) !== up) changes.push({ nodeId, up });
      this.sweptUp.set(nodeId, up);
    }
    return changes;
  }
}
