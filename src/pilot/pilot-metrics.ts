/**
 * The pilot's Prometheus metrics: process defaults, HTTP requests by route, and cluster gauges read from the
 * pilot's state and heartbeats at scrape time. One registry per pilot, so several pilots (tests, the local
 * cluster) can share a process.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SPLIT_FINAL_STATUSES, SPLIT_STATUSES } from '../split/phases.js';
import type { SplitProgress } from '../split/types.js';
import type { ShardStats } from '../common/protocol.js';
import type { Pilot } from './pilot.js';

/** Label for requests that matched no route, so unknown paths cannot grow the label set without bound. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The pilot's metric registry and the one metric the HTTP layer feeds by hand. */
export interface PilotMetrics {
  readonly registry: Registry;
  /** Records one answered request; `route` is the route pattern, not the raw URL. */
  observeRequest(method: string, route: string, status: number, durationSeconds: number): void;
}

/** Registers the pilot's metrics in a fresh registry. */
export function createPilotMetrics(pilot: Pilot): PilotMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'cleave_pilot_http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'cleave_pilot_http_request_duration_seconds',
    help: 'HTTP request latency, by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'cleave_pilot_nodes',
    help: 'Registered nodes, by liveness.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const now = pilot.now();
      const up = pilot.state.nodes.filter((n) => pilot.liveness.isUp(n.id, now)).length;
      this.set({ state: 'up' }, up);
      this.set({ state: 'down' }, pilot.state.nodes.length - up);
    },
  });
  new Gauge({
    name: 'cleave_pilot_shards',
    help: 'Shards, by keyspace.',
    labelNames: ['keyspace'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const k of pilot.state.keyspaces) this.set({ keyspace: k.name }, pilot.state.shards.filter((s) => s.keyspace === k.name).length);
    },
  });
  new Gauge({
    name: 'cleave_pilot_routing_version',
    help: 'Current routing table version.',
    registers: [registry],
    collect() {
      this.set(pilot.state.routingVersion);
    },
  });
  new Gauge({
    name: 'cleave_pilot_routing_waiters',
    help: 'Routing long polls being held.',
    registers: [registry],
    collect() {
      this.set(pilot.waiters.size);
    },
  });
  new Gauge({
    name: 'cleave_pilot_raft_serving',
    help: '1 while this pilot replica leads the pilot group and serves requests, else 0.',
    registers: [registry],
    collect() {
      this.set(pilot.replication().serving ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cleave_pilot_raft_term',
    help: 'Raft term of the pilot group, as this replica knows it.',
    registers: [registry],
    collect() {
      this.set(pilot.replication().term);
    },
  });
  new Gauge({
    name: 'cleave_pilot_raft_applied_index',
    help: "Last entry of the pilot group's log whose effects this replica shows.",
    registers: [registry],
    collect() {
      this.set(pilot.replication().appliedIndex);
    },
  });
  splitMetrics(registry, pilot);
  shardStatGauge(registry, pilot, 'cleave_pilot_shard_keys', 'Keys per shard, as last reported.', (s) => s.keys);
  shardStatGauge(registry, pilot, 'cleave_pilot_shard_bytes', 'Bytes per shard, as last reported.', (s) => s.bytes);
  shardStatGauge(registry, pilot, 'cleave_pilot_shard_ops_per_second', 'Commands per second per shard, as last reported.', (s) => s.ops_per_sec);
  return {
    registry,
    observeRequest(method, route, status, durationSeconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, durationSeconds);
    },
  };
}

/**
 * Splits: how long each phase took and why splits failed, observed once per task and phase as the tasks
 * the state keeps reach them (after a restart, the kept history is observed again); the progress of the
 * splits under way as their sources last reported it.
 */
function splitMetrics(registry: Registry, pilot: Pilot): void {
  const observed = new Set<string>();
  const phases = new Histogram({
    name: 'cleave_split_phase_seconds',
    help: 'Time spent in each phase of a split, by phase (completed splits and rolled-back ones alike).',
    labelNames: ['phase'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [registry],
    collect: () => observe(),
  });
  const failures = new Counter({
    name: 'cleave_split_failures_total',
    help: 'Splits rolled back, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect: () => observe(),
  });
  const seen = (key: string): boolean => {
    if (observed.has(key)) return true;
    observed.add(key);
    return false;
  };
  function observe(): void {
    for (const task of pilot.state.splitTasks ?? []) {
      const times = SPLIT_STATUSES.flatMap((status) => (task.phases[status] === undefined ? [] : [[status, task.phases[status]!] as const]));
      for (let i = 0; i + 1 < times.length; i++) {
        const [phase, startMs] = times[i]!;
        if (!seen(`${task.id}/${phase}`)) phases.observe({ phase }, Math.max(0, times[i + 1]![1] - startMs) / 1000);
      }
      // The reason's first words: the numbers in it would make a label per value.
      if (task.status === 'failed' && !seen(`${task.id}/failed`)) failures.inc({ reason: (task.reason ?? 'unknown').split(':')[0]!.slice(0, 60) });
    }
  }
  const progressGauge = (name: string, help: string, read: (p: SplitProgress) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['task', 'source', 'target'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const task of pilot.state.splitTasks ?? []) {
          const progress = pilot.splitProgress(task.id);
          if (progress !== undefined && !SPLIT_FINAL_STATUSES.includes(task.status))
            this.set({ task: task.id, source: task.sourceShard, target: task.targetShard }, read(progress));
        }
      },
    });
  };
  progressGauge('cleave_split_buffered_requests', 'Writes held by a split under way.', (p) => p.buffered_requests);
  progressGauge('cleave_split_snapshot_bytes_sent', 'Snapshot bytes a split under way has sent to its target.', (p) => p.snapshot_bytes_sent);
  progressGauge('cleave_split_catch_up_delay', 'Source log entries the target of a split under way is behind.', (p) => p.delay);
}

/** A per-shard gauge of one reported statistic; shards nobody reported yet are left out, not shown as 0. */
function shardStatGauge(registry: Registry, pilot: Pilot, name: string, help: string, read: (stats: ShardStats) => number): void {
  new Gauge({
    name,
    help,
    labelNames: ['keyspace', 'shard'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const shard of pilot.state.shards) {
        const reported = pilot.liveness.shardStats(shard.id, shard.leader);
        if (reported !== undefined) this.set({ keyspace: shard.keyspace, shard: shard.id }, read(reported.stats));
      }
    },
  });
}
