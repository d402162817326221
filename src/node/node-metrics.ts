/**
 * A node's Prometheus metrics: commands by name with their latency (including the wait for durability),
 * connections, the size and traffic of each hosted shard, and the splits it drives. Served on the node's
 * metrics port.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CommandSpec } from '../commands/types.js';
import { FRAME_REJECT_REASONS, type TransportCounters } from '../transport/transport-counters.js';
import type { Reply } from '../resp/reply.js';
import type { CommandObserver } from './command-dispatcher.js';
import { FORWARD_REASONS, type ForwardReason } from './forward-decision.js';

export class NodeMetrics implements CommandObserver {
  readonly registry = new Registry();
  private readonly commands = new Counter({ name: 'cleave_node_commands_total', help: 'Commands processed, by command', labelNames: ['command'], registers: [this.registry] });
  private readonly errors = new Counter({
    name: 'cleave_node_command_errors_total',
    help: 'Error replies, by command and error prefix',
    labelNames: ['command', 'error'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'cleave_node_command_duration_seconds',
    help: 'Time from a command being read to its reply being ready, by command',
    labelNames: ['command'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly connections = new Gauge({ name: 'cleave_node_connected_clients', help: 'Open client connections', registers: [this.registry] });
  /** Read at scrape time, so sizes are current rather than as of the last heartbeat. */
  private shardSizes: () => Iterable<{ id: string; keys: number; bytes: number }> = () => [];
  readonly routingVersion = new Gauge({ name: 'cleave_node_routing_version', help: 'Routing table version known to this node', registers: [this.registry] });
  /** Split traffic and pauses seen by this node as a split's source leader (docs/SPLIT.md). */
  readonly splitSnapshotBytes = new Counter({ name: 'cleave_node_split_snapshot_bytes_total', help: 'Snapshot bytes sent to split targets', registers: [this.registry] });
  private readonly splitDelay = new Gauge({
    name: 'cleave_node_split_catch_up_delay',
    help: 'Source log entries a split target is behind, by source shard',
    labelNames: ['shard'],
    registers: [this.registry],
  });
  readonly splitWritePause = new Histogram({
    name: 'cleave_node_split_write_pause_seconds',
    help: 'Time a write was held in a split buffer before its answer',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly refusedReplicas = new Counter({
    name: 'cleave_node_refused_replicas_total',
    help: 'Shard replicas stopped because an entry of their log or their data failed to decode or apply, by shard',
    labelNames: ['shard'],
    registers: [this.registry],
  });
  /** Commands run on the node serving their slot instead of being redirected (forward-decision.ts). */
  private readonly forwarded = new Counter({
    name: 'cleave_node_commands_forwarded_total',
    help: 'Key commands forwarded over the node bus to the node serving their slot instead of answered -MOVED, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  /** Children per reason, made once: a forward is on the request path. */
  private readonly forwardedBy = new Map<ForwardReason, Counter.Internal>(FORWARD_REASONS.map((reason) => [reason, this.forwarded.labels(reason)]));
  private bufferedWrites: () => number = () => 0;
  /** Read at scrape time from the bus's own counters (undefined until the node has joined). */
  private busCounters: () => TransportCounters | undefined = () => undefined;
  /** Labelled children cached per command: label lookup is too slow for every request. */
  private readonly children = new Map<string, { count: Counter.Internal; latency: Histogram.Internal<string> }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const metrics = this;
    new Gauge({
      name: 'cleave_node_shard_keys',
      help: 'Keys stored per shard replica',
      labelNames: ['shard'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const shard of metrics.shardSizes()) this.labels(shard.id).set(shard.keys);
      },
    });
    new Gauge({
      name: 'cleave_node_shard_bytes',
      help: 'Bytes stored per shard replica',
      labelNames: ['shard'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const shard of metrics.shardSizes()) this.labels(shard.id).set(shard.bytes);
      },
    });
    new Counter({
      name: 'cleave_bus_frames_rejected_total',
      help: 'Frames from peers on the node bus refused on arrival, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        const counters = metrics.busCounters();
        this.reset();
        for (const reason of FRAME_REJECT_REASONS) this.labels(reason).inc(counters?.framesRejected[reason] ?? 0);
      },
    });
    new Gauge({
      name: 'cleave_node_split_buffered_writes',
      help: 'Writes held in split buffers',
      registers: [this.registry],
      collect() {
        this.set(metrics.bufferedWrites());
      },
    });
  }

  /** Where the buffered writes gauge reads from. */
  trackSplitBuffer(count: () => number): void {
    this.bufferedWrites = count;
  }

  /** The catch-up delay of a split driven from `sourceShard`; undefined once there is none. */
  splitCatchUpDelay(sourceShard: string, delay: number | undefined): void {
    if (delay === undefined) this.splitDelay.remove(sourceShard);
    else this.splitDelay.labels(sourceShard).set(delay);
  }

  /** Where the bus counters are read from. */
  trackBus(counters: () => TransportCounters | undefined): void {
    this.busCounters = counters;
  }

  /** Where the shard size gauges read from. */
  trackShards(sizes: () => Iterable<{ id: string; keys: number; bytes: number }>): void {
    this.shardSizes = sizes;
  }

  onCommand(spec: CommandSpec, startedAtNs: bigint, result: Reply | Promise<Reply>): void {
    let child = this.children.get(spec.name);
    if (child === undefined) {
      child = { count: this.commands.labels(spec.name), latency: this.latency.labels(spec.name) };
      this.children.set(spec.name, child);
    }
    child.count.inc();
    const observe = (reply: Reply): void => {
      child.latency.observe(Number(process.hrtime.bigint() - startedAtNs) / 1e9);
      if (reply.kind === 'error') this.errors.labels(spec.name, reply.message.split(' ', 1)[0]!).inc();
    };
    if (result instanceof Promise) result.then(observe, () => undefined);
    else observe(result);
  }

  onForward(reason: ForwardReason): void {
    this.forwardedBy.get(reason)!.inc();
  }

  /** Serves `GET /metrics` on host:port. */
  async serve(host: string, port: number): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"only /metrics is served here"}}');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return server;
  }
}
