/**
 * A data node's core: its shard groups over a store and a bus, the routing view it follows, the split
 * buffer and routing overlay, the command dispatcher and the active expiry cycle. No sockets, no pilot
 * and no clock of its own: the process (node-server.ts) gives it the real store, bus and environment and
 * serves its dispatcher to TCP clients; the simulation gives it a store over a fake LMDB, a bus over its
 * lossy network and virtual time, and so runs the code that ships.
 */
import type { Cancel, Environment } from '../common/environment.js';
import type { Logger } from '../common/logger.js';
import type { ShardStats } from '../common/protocol.js';
import { EMPTY_ROUTING_TABLE, type RoutingTable } from '../common/routing.js';
import type { SplitReport, SplitReportResponse } from '../split/types.js';
import { error, type Reply } from '../resp/reply.js';
import type { ShardReplica } from '../shard/shard-replica.js';
import type { NodeStore } from '../storage/node-store.js';
import type { FaultInjector } from '../transport/fault-injector.js';
import type { PeerBus } from '../transport/peer-bus.js';
import type { ClientConnection } from './client-connection.js';
import { CommandDispatcher, type DispatchTarget } from './command-dispatcher.js';
import { LeadershipWaits } from './leadership-waits.js';
import type { NodeStats } from './node-context.js';
import type { NodeMetrics } from './node-metrics.js';
import { RoutingView, withKnownLeaders } from './routing-view.js';
import { ShardGroups, type ShardGroupLimits, type ShardGroupsOptions } from './shard-groups.js';
import { SplitBuffer } from '../split/split-buffer.js';
import { flushPlan } from '../split/split-overlay.js';
import { SPLIT_TRYAGAIN, SplitRouting } from '../split/split-routing.js';

export interface NodeCoreOptions {
  /** Where clients reach the node (what CLUSTER SLOTS and MOVED name). */
  readonly host: string;
  readonly port: number;
  readonly requirepass: string | undefined;
  readonly logger: Logger;
  /** Length of a Raft tick. */
  readonly tickMs: number;
  /** Mean time a follower waits without hearing from its leader before it campaigns. */
  readonly electionTimeoutMs: number;
  /** The shard groups' sizes and timeouts; the defaults when absent. */
  readonly limits?: ShardGroupLimits;
  /** Tells the pilot how a split goes; undefined when the report or its answer was lost. */
  readonly reportSplit: (report: SplitReport) => Promise<SplitReportResponse | undefined>;
  /** A shard's leader or this replica's role changed (the node heartbeats at once when it gained one). */
  readonly onLeaderChange?: (shardId: string) => void;
  /** The bus's fault rules, served by DEBUG PARTITION/HEAL; undefined when that command is off. */
  readonly debugFaults?: () => FaultInjector | undefined;
  readonly watchMachine?: ShardGroupsOptions['watchMachine'];
  /** Hears each answer given for a slot a split moved away (the simulation's clients check them). */
  readonly onSplitRedirect?: (reply: Reply) => void;
}

/**
 * Active expiry, as Redis's cycle: how often, how many keys with a TTL a shard examines per batch (as
 * Redis: 20), and the time budget of one cycle.
 */
const EXPIRY_CYCLE_MS = 100;
const EXPIRY_KEYS_PER_CYCLE = 20;
const EXPIRY_CYCLE_BUDGET_MS = 10;
const NO_CLUSTER_ID = '0'.repeat(40);

export class NodeCore {
  readonly splitBuffer: SplitBuffer;
  readonly dispatcher: CommandDispatcher;
  readonly connections = new Map<number, ClientConnection>();
  readonly stats: NodeStats = { commandsProcessed: 0, connectionsReceived: 0, opsPerSec: 0 };
  readonly startedAtMs: number;
  /** Set by `start`: the node's shard groups. */
  groups: ShardGroups | undefined;
  private id: string | undefined;
  /** The pilot's newest table; the view overlays on it the leaders this node's Raft groups know. */
  private table: RoutingTable;
  private view: RoutingView;
  /** When the view last changed: redirects are forwarded for a while after (forward-decision.ts). */
  private routingChangedAtMs = 0;
  private readonly splitRouting: SplitRouting;
  /** Requests waiting for a leadership transfer away from this node to end. */
  private readonly leadershipWaits: LeadershipWaits;
  /** Shards whose leader changed since the last view rebuild. */
  private readonly leadersChanged = new Set<string>();
  private viewRebuildScheduled = false;
  private readonly expiryCursors = new Map<string, { slot: number; key: Buffer } | undefined>();
  private readonly stopExpiry: Cancel;

  constructor(
    private readonly options: NodeCoreOptions,
    private readonly env: Environment,
    private readonly store: NodeStore,
    private readonly metrics?: NodeMetrics,
  ) {
    this.startedAtMs = env.now();
    this.id = store.getMeta('node_id') as string | undefined;
    this.table = (store.getMeta('routing') as RoutingTable | undefined) ?? EMPTY_ROUTING_TABLE;
    this.view = new RoutingView(this.table, this.id);
    this.leadershipWaits = new LeadershipWaits(env);
    this.splitBuffer = new SplitBuffer((waitedMs) => metrics?.splitWritePause.observe(waitedMs / 1000));
    this.splitRouting = new SplitRouting({
      routing: () => this.view,
      replica: (shardId) => this.groups?.replicas.get(shardId),
      buffer: this.splitBuffer,
      now: () => env.now(),
      splitTargetLeader: (shardId) => this.groups?.splitTargetLeader(shardId),
    });
    this.dispatcher = new CommandDispatcher(this.dispatchTarget(), metrics, env);
    this.stopExpiry = env.every(EXPIRY_CYCLE_MS, () => this.expiryCycle());
  }

  /** The node's id, undefined until the pilot registered it. */
  get selfId(): string | undefined {
    return this.id;
  }

  /** The routing table as this node follows it. */
  get routing(): RoutingView {
    return this.view;
  }

  /** The pilot gave this node its id (at its first join, or again after the pilot's data was reset). */
  async setSelfId(id: string): Promise<void> {
    if (this.id === id) return;
    this.id = id;
    await this.store.putMeta('node_id', id);
    this.rebuildView();
  }

  /** Starts the shard groups over `bus`, once the node has an id; the bus is the caller's to close. */
  start(bus: PeerBus): ShardGroups {
    if (this.groups !== undefined) return this.groups;
    const selfId = this.id;
    if (selfId === undefined) throw new Error('assertion failed: a node starts its shard groups once it has an id');
    const { logger } = this.options;
    this.groups = new ShardGroups(
      {
        store: this.store,
        selfId,
        logger,
        tickMs: this.options.tickMs,
        electionTimeoutMs: this.options.electionTimeoutMs,
        ...(this.options.limits === undefined ? {} : { limits: this.options.limits }),
        ...(this.options.watchMachine === undefined ? {} : { watchMachine: this.options.watchMachine }),
        onLeaderChange: (shardId) => this.onLeaderChange(shardId),
        onRefused: (shardId) => this.metrics?.refusedReplicas.labels(shardId).inc(),
        splits: {
          buffer: this.splitBuffer,
          report: (report) => this.options.reportSplit(report),
          movedToTarget: (targetShard, slot) => this.splitRedirect(this.splitRouting.movedTo(targetShard, slot)),
          observer: {
            snapshotBytesSent: (bytes) => this.metrics?.splitSnapshotBytes.inc(bytes),
            catchUpDelay: (sourceShard, delay) => this.metrics?.splitCatchUpDelay(sourceShard, delay),
          },
        },
        serveForwarded: async (argv, protocol) => {
          try {
            return await this.dispatcher.dispatchForwarded(argv, protocol);
          } catch (err) {
            // A bug, not bad input: the sending node answers its client, this node serves on.
            logger.error({ err, command: argv[0]?.toString() }, 'forwarded command failed');
            return error('ERR internal error');
          }
        },
      },
      this.env,
      bus,
    );
    this.groups.sync(this.view);
    this.rebuildView();
    return this.groups;
  }

  /** Follows a newer routing table: stores it, rebuilds the view, starts and stops groups to match. */
  applyRouting(next: RoutingTable): void {
    if (next.version <= this.table.version) return;
    this.table = next;
    // Disk trouble: the table applies in memory all the same, and a restarted node gets it from the pilot.
    this.store.putMeta('routing', next).catch((err: unknown) => this.options.logger.error({ version: next.version, err }, 'storing the routing table failed'));
    this.rebuildView();
    this.groups?.sync(this.view);
    this.options.logger.info({ version: next.version, led: this.view.ledShards().map((s) => s.id) }, 'routing table updated');
  }

  /** The version of the newest routing table this node follows. */
  get routingVersion(): number {
    return this.table.version;
  }

  /** Each hosted replica's statistics over the last `intervalMs`, for the heartbeat; sets the node's ops/s. */
  shardStats(intervalMs: number): ShardStats[] {
    const out: ShardStats[] = [];
    let ops = 0;
    for (const replica of this.groups?.replicas.values() ?? []) {
      const taken = replica.takeOps();
      ops += taken;
      out.push({
        shard_id: replica.id,
        keys: replica.data.keyCount,
        bytes: replica.data.byteCount,
        ops_per_sec: Math.round((taken * 1000) / intervalMs),
        last_access_ms: replica.lastAccessMs,
      });
    }
    this.stats.opsPerSec = Math.round((ops * 1000) / intervalMs);
    return out;
  }

  /** Stops the expiry cycle and the groups, and answers every write a split still holds. */
  close(): void {
    this.stopExpiry();
    this.splitBuffer.releaseAll(this.env.now(), SPLIT_TRYAGAIN);
    this.groups?.close();
  }

  /** The pilot's table with each hosted shard's leader as this node's Raft group knows it. */
  private rebuildView(): void {
    const known = this.groups;
    const selfId = this.id;
    this.view = new RoutingView(known === undefined || selfId === undefined ? this.table : withKnownLeaders(this.table, selfId, (shardId) => known.leaderOf(shardId)), selfId);
    this.routingChangedAtMs = this.env.now();
    this.metrics?.routingVersion.set(this.table.version);
  }

  private onLeaderChange(shardId: string): void {
    this.options.onLeaderChange?.(shardId);
    this.leadersChanged.add(shardId);
    if (this.viewRebuildScheduled) return;
    this.viewRebuildScheduled = true;
    this.env.soon(() => {
      this.viewRebuildScheduled = false;
      this.rebuildView();
      // A leader stepping down knows no leader for a moment: the waits go on until one is known.
      for (const changed of this.leadersChanged) if (this.groups?.leaderOf(changed) !== null) this.leadershipWaits.changed(changed);
      this.leadersChanged.clear();
    });
  }

  private splitRedirect(reply: Reply): Reply {
    this.options.onSplitRedirect?.(reply);
    return reply;
  }

  private ledReplicas(): ShardReplica[] {
    const out: ShardReplica[] = [];
    for (const shard of this.view.ledShards()) {
      const replica = this.groups?.replicas.get(shard.id);
      if (replica !== undefined) out.push(replica);
    }
    return out;
  }

  /** The node as its command dispatcher sees it. */
  private dispatchTarget(): DispatchTarget {
    const notRunning = (): Promise<never> => Promise.reject(new Error('shard replicas are not running yet'));
    // The getter reads the id as it changes.
    const core = this;
    const { options } = this;
    return {
      get selfId() {
        return core.id;
      },
      host: options.host,
      port: options.port,
      requirepass: options.requirepass,
      startedAtMs: this.startedAtMs,
      stats: this.stats,
      connections: this.connections,
      routing: () => this.view,
      ledReplicas: () => this.ledReplicas(),
      clusterId: () => (this.id === undefined ? undefined : this.view.node(this.id)?.clusterId) ?? NO_CLUSTER_ID,
      replica: (shardId) => this.groups?.replicas.get(shardId),
      write: (shardId, argv, nowMs) => this.groups?.write(shardId, argv, nowMs) ?? notRunning(),
      readBarrier: (shardId) => this.groups?.readBarrier(shardId) ?? notRunning(),
      splitTargetOwning: (slot) => this.splitRouting.splitTargetOwning(slot),
      holdWrite: (shardId, slot) => this.splitRouting.holdWrite(shardId, slot),
      movedAway: (shardId, slot) => this.splitRedirect(this.splitRouting.movedAway(shardId, slot)),
      forward: (node, argv, protocol) => this.groups?.forward(node, argv, protocol) ?? Promise.resolve({ kind: 'not-sent' }),
      routingChangedAtMs: () => this.routingChangedAtMs,
      // Raft gives up a transfer after an election timeout; the wait is bounded a little beyond.
      leaderSettled: (shardId) => this.leadershipWaits.wait(shardId, 2 * options.electionTimeoutMs),
      leaderSilent: (shardId) => this.groups?.leaderSilent(shardId) ?? false,
      settled: () => this.store.commitAll(),
      debugFaults: () => options.debugFaults?.(),
      flushLed: async () => {
        const known = this.groups;
        if (known === undefined) return 'flushed';
        const ledTargets = this.view.splitTargets.filter((t) => known.isLeader(t.id)).map((t) => t.id);
        const plan = flushPlan(
          this.view.ledShards().map((s) => s.id),
          ledTargets,
          (id) => known.replicas.get(id)?.splitState() ?? null,
        );
        if (plan === 'switching') return plan;
        const nowMs = this.env.now();
        await Promise.all(plan.map((id) => known.flush(id, nowMs)));
        return 'flushed';
      },
    };
  }

  /**
   * One cycle of active expiry: each led shard walks its expiry index 20 keys at a time and keeps going
   * while a quarter or more of a batch was due, within a time budget. The deletes go through the log,
   * proposed by the leader, so every replica deletes the same keys. Writes a split held past its buffer
   * timeout are answered here too: never applied, the client retries.
   */
  private expiryCycle(): void {
    const startedAtMs = this.env.now();
    this.splitBuffer.expire(startedAtMs, SPLIT_TRYAGAIN);
    const groups = this.groups;
    if (groups === undefined) return;
    for (const shard of this.view.ledShards()) {
      const replica = groups.replicas.get(shard.id);
      if (replica === undefined) continue;
      const due: Buffer[] = [];
      for (;;) {
        const nowMs = replica.readNowMs(this.env.now());
        const batch = replica.data.scanExpiring(this.expiryCursors.get(shard.id), EXPIRY_KEYS_PER_CYCLE);
        let dueInBatch = 0;
        for (const entry of batch) {
          if (entry.expireAtMs <= nowMs) {
            due.push(entry.key);
            dueInBatch++;
          }
        }
        this.expiryCursors.set(shard.id, batch.length < EXPIRY_KEYS_PER_CYCLE ? undefined : batch[batch.length - 1]);
        if (batch.length < EXPIRY_KEYS_PER_CYCLE || dueInBatch * 4 < batch.length || this.env.now() - startedAtMs >= EXPIRY_CYCLE_BUDGET_MS) break;
      }
      groups.expire(shard.id, this.env.now(), due);
    }
  }
}
