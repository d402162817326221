/**
 * The pilot's driver around its state machine: turns node joins, leaders reported in heartbeats and the
 * operator's replica changes into commands, bootstraps the default keyspace once enough nodes registered,
 * tracks liveness and shard statistics from heartbeats, wakes routing long polls on every new routing
 * version, and records what happened as cluster events. No HTTP here; the routes call in.
 *
 * The state is a Raft group of pilot replicas (see state-driver.ts). Every replica applies the commands,
 * records their events and wakes its long polls; only the serving leader proposes, so only it takes
 * joins, heartbeats and replica changes, and only it runs what depends on its clock: liveness sweeps,
 * leader reports from heartbeats, the bootstrap of the default keyspace.
 */
import type { Environment } from '../common/environment.js';
import type { Logger } from '../common/logger.js';
import type { HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse } from '../common/protocol.js';
import type { RoutingShard, RoutingTable, SplitParams } from '../common/routing.js';
import { SPLIT_PHASES } from '../split/phases.js';
import type { SplitProgress, SplitReport, SplitReportResponse } from '../split/types.js';
import type { CreateSplitCommand, PilotCommand, PilotRejection, ShardLeaderReport } from './commands.js';
import { PilotEventLog, type NewPilotEvent } from './event-log.js';
import { NodeLiveness } from './liveness.js';
import type { PilotPeer } from './pilot-peers.js';
import { RoutingWaiters } from './routing-waiters.js';
import { PilotStateDriver, type DriverRefusal, type PilotDriverEdges, type PilotReplicaStatus, type PilotReplication } from './state-driver.js';
import { progressCommandFor, type SplitTask } from './split-tasks.js';
import { DEFAULT_KEYSPACE, routingTable, type PilotState } from './state.js';

/** How the pilot shapes the cluster. */
export interface PilotConfig {
  /** Bootstrap the default keyspace once this many nodes have registered. */
  readonly expectNodes: number;
  readonly shardsPerNode: number;
  /** Replicas per shard, the leader included; the default keyspace gets as many as there are nodes if fewer. */
  readonly replicas: number;
  /** A node is down after this long without a heartbeat. */
  readonly nodeTimeoutMs: number;
  /** Splits: the parameters new tasks get, and how many may run at once in the cluster and per node. */
  readonly split: { readonly params: SplitParams; readonly maxSplits: number; readonly maxSplitsPerNode: number };
}

/** What a pilot replica runs on: its state driver's edges, and where new nodes' cluster ids come from. */
export interface PilotEdges extends PilotDriverEdges {
  /** A fresh 40-hex cluster id for a new node. */
  readonly newClusterId: () => string;
}

/** Where this replica stands: leading and serving, following a known leader, neither yet, or stopped for good (`reason`). */
export type PilotLeadership =
  | { readonly kind: 'serving' }
  | { readonly kind: 'follower'; readonly leader: PilotPeer }
  | { readonly kind: 'noLeader' }
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * How far past a shard's recorded leader term a reported term may be. Each election adds one (pre-vote
 * keeps a partitioned replica from inflating terms), and the pilot hears of leaders every second or so.
 */
export const LEADER_TERM_STEP_MAX = 10_000;

/** How long a single pilot may take to elect itself and catch up before `open` gives up. */
const SINGLE_REPLICA_READY_MS = 30_000;

/** One pilot replica: the replicated state (through the driver) and what the leader learns from heartbeats. */
export class Pilot {
  /** Heartbeat knowledge: who is up, and the shard statistics nodes reported. Kept while leading. */
  readonly liveness: NodeLiveness;
  /** Routing long polls waiting for a newer version. */
  readonly waiters: RoutingWaiters;
  /** Recent cluster events, newest last. */
  readonly events = new PilotEventLog();
  private driver!: PilotStateDriver;
  /** The latest report per split task, with the reporter's term. */
  private readonly splitReports = new Map<string, { readonly term: number; readonly progress: SplitProgress }>();
  /** The last bootstrap check; the next one starts after it, so each sees the state the previous left. */
  private bootstrapChain: Promise<void> = Promise.resolve();

  private readonly env: Environment;
  private readonly logger: Logger;
  private readonly newClusterId: () => string;

  private constructor(
    readonly config: PilotConfig,
    edges: PilotEdges,
  ) {
    this.env = edges.env;
    this.logger = edges.logger;
    this.newClusterId = edges.newClusterId;
    this.liveness = new NodeLiveness(config.nodeTimeoutMs, this.env.now());
    this.waiters = new RoutingWaiters(this.env);
  }

  /**
   * Opens this replica's share of the pilot group in `edges.store`. A single replica elects itself at once:
   * `open` waits for it to serve and bootstraps the default keyspace if it is due. Replicas of a larger
   * group serve once a quorum has elected a leader; `open` does not wait for that.
   */
  static async open(config: PilotConfig, edges: PilotEdges, replication: PilotReplication): Promise<Pilot> {
    const pilot = new Pilot(config, edges);
    pilot.driver = await PilotStateDriver.open(replication, edges, {
      onApplied: (command, before, after) => pilot.onApplied(command, before, after),
      onRestored: (before, after) => pilot.onRestored(before, after),
      onLeadership: (serving) => pilot.onLeadership(serving),
    });
    const { state } = pilot;
    edges.logger.info({ routing_version: state.routingVersion, nodes: state.nodes.length, shards: state.shards.length, pilot: replication.selfId }, 'pilot state recovered');
    if (replication.peers.length === 1) {
      const leadership = await pilot.awaitLeadership(SINGLE_REPLICA_READY_MS);
      // A refused replica stays up to say why, rather than exit and refuse again at every restart.
      if (leadership.kind !== 'serving' && leadership.kind !== 'refused') {
        await pilot.close();
        throw new Error(`the single pilot replica did not start serving within ${SINGLE_REPLICA_READY_MS} ms`);
      }
      await pilot.bootstrapIfDue();
    }
    return pilot;
  }

  /** The replicated state as of the last command durable on this replica. */
  get state(): PilotState {
    return this.driver.state;
  }

  /** Leads the pilot group and has caught up: it takes proposals and runs what depends on its clock. */
  get serving(): boolean {
    return this.driver.serving;
  }

  /** This replica's view of the pilot group. */
  replication(): PilotReplicaStatus {
    return this.driver.status();
  }

  /** A single replica started on port 0 learns its HTTP port only once it listens. */
  setOwnHttpPort(port: number): void {
    this.driver.setOwnHttpPort(port);
  }

  /**
   * Whether this replica serves requests; while it is the leader still catching up, or while no leader
   * is known, waits up to `waitMs` for that to settle.
   */
  async awaitLeadership(waitMs: number): Promise<PilotLeadership> {
    const deadlineMs = this.env.now() + waitMs;
    for (;;) {
      const refused = this.driver.refused;
      if (refused !== undefined) return { kind: 'refused', reason: refused };
      if (this.driver.serving) return { kind: 'serving' };
      const leader = this.driver.leader();
      if (leader !== undefined && leader.id !== this.driver.selfId) return { kind: 'follower', leader };
      const leftMs = deadlineMs - this.env.now();
      if (leftMs <= 0) return { kind: 'noLeader' };
      await this.driver.waitForChange(leftMs);
    }
  }

  /** Wall-clock time in milliseconds, from the environment. */
  now(): number {
    return this.env.now();
  }

  /**
   * Registers a new node or records a known node's restart, then answers with its id and the routing table.
   * A node id keeps the address it registered with: other nodes reach its replicas there, so a rejoin
   * from elsewhere is refused rather than redirecting them.
   */
  async join(request: JoinRequest): Promise<JoinResponse | PilotRejection | DriverRefusal> {
    const atMs = this.env.now();
    const nodeProcess = { host: request.host, port: request.port, busPort: request.bus_port, metricsPort: request.metrics_port, pid: request.pid };
    const knownId = request.node_id;
    const incarnation = this.state.incarnation;
    if (request.cluster_incarnation !== undefined && request.cluster_incarnation !== incarnation) {
      const message =
        `${knownId ?? 'this node'} belongs to cluster ${request.cluster_incarnation}, but this pilot runs ${incarnation === undefined ? 'a new cluster' : `cluster ${incarnation}`}: ` +
        `its data was reset or lost, or the node was pointed at another cluster. Restore the pilot's data dir to bring the old cluster back, ` +
        `or empty the node's data dir (its data is lost) to join this cluster as a new node`;
      this.logger.warn({ node_id: knownId, address: `${request.host}:${request.port}`, incarnation: request.cluster_incarnation }, 'node join refused: another cluster');
      return { ok: false, reason: 'other-cluster', message };
    }
    const bound = knownId === undefined ? undefined : this.state.nodes.find((n) => n.id === knownId);
    if (bound !== undefined && (bound.host !== request.host || bound.port !== request.port || bound.busPort !== request.bus_port)) {
      const message =
        `${bound.id} is registered at ${bound.host}:${bound.port} (bus ${bound.busPort}); a rejoin from ${request.host}:${request.port} (bus ${request.bus_port}) is refused. ` +
        `A node keeps its address: start it there again, or remove ${bound.id} from the cluster first (the pilot has no route to remove a node yet) and start the new one with an empty data dir`;
      this.logger.warn({ node_id: bound.id, address: `${request.host}:${request.port}`, bus_port: request.bus_port, pid: request.pid }, 'node join refused: another address');
      return { ok: false, reason: 'address-bound', message };
    }
    const result =
      knownId === undefined
        ? await this.driver.propose({ kind: 'register-node', clusterId: this.newClusterId(), incarnation: this.newClusterId(), ...nodeProcess, atMs })
        : await this.driver.propose({ kind: 'update-node', nodeId: knownId, ...nodeProcess, atMs });
    if (!result.ok) {
      this.logger.warn({ reason: result.reason, address: `${request.host}:${request.port}`, node_id: request.node_id }, `node join refused: ${result.message}`);
      return result;
    }
    this.liveness.recordJoin(result.nodeId, atMs);
    this.logger.info({ node_id: result.nodeId, address: `${request.host}:${request.port}`, pid: request.pid }, knownId === undefined ? 'node registered' : 'node rejoined');
    // The node whose join completes the expected set learns the bootstrapped table in this answer.
    await this.bootstrapIfDue();
    const founded = this.state.incarnation;
    return { node_id: result.nodeId, routing: routingTable(this.state), ...(founded === undefined ? {} : { cluster_incarnation: founded }) };
  }

  /**
   * Records a heartbeat and the leaderships it reports; undefined for an unknown node, which should join
   * again. A report that changes the routing table is applied before the answer, so the answer carries
   * the table that already names the new leader.
   */
  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse | undefined> {
    if (!this.state.nodes.some((n) => n.id === request.node_id)) return undefined;
    this.liveness.recordHeartbeat(request.node_id, request.shards, this.env.now());
    if (request.leaders !== undefined && request.leaders.length > 0) await this.recordLeaders(request.node_id, request.leaders);
    const table = routingTable(this.state);
    return request.routing_version < table.version ? { routing: table } : {};
  }

  /** Proposes a shard membership change or a leadership transfer the operator asked for. */
  async changeShardReplicas(
    shardId: string,
    action: 'add' | 'remove' | 'transfer_leader',
    nodeId: string,
    epoch: number | undefined,
  ): Promise<{ readonly ok: true; readonly shard: RoutingShard } | PilotRejection | DriverRefusal> {
    // A founding replica that first sees its shard after a change starts empty and waits for a leader
    // that, with the other founders gone or not yet started, may never exist: so the membership changes
    // only once the group has elected its first leader (a node reported one).
    const current = this.state.shards.find((s) => s.id === shardId);
    if (action !== 'transfer_leader' && current !== undefined && current.leaderTerm === undefined) {
      return { ok: false, reason: 'unavailable', message: `${shardId} has not elected its first leader yet; change its replicas once a node reports one` };
    }
    const command: PilotCommand =
      action === 'transfer_leader'
        ? { kind: 'transfer-shard-leader', shardId, nodeId, ...(epoch === undefined ? {} : { epoch }) }
        : { kind: 'change-shard-replicas', shardId, action, nodeId, ...(epoch === undefined ? {} : { epoch }) };
    const result = await this.driver.propose(command);
    if (!result.ok) return result;
    const shard = this.state.shards.find((s) => s.id === shardId)!;
    this.logger.info({ shard: shardId, action, node_id: nodeId, replicas: shard.replicas, epoch: shard.epoch }, 'shard replica change requested');
    return { ok: true, shard };
  }

  /** Starts a split task; omitted choices are the state machine's (seed 000's defaults). */
  async createSplit(request: {
    readonly sourceShard: string;
    readonly splitSlot?: number;
    readonly targetShardId?: string;
    readonly targetNodes?: readonly string[];
  }): Promise<SplitTask | PilotRejection | DriverRefusal> {
    const { params, maxSplits, maxSplitsPerNode } = this.config.split;
    const command: CreateSplitCommand = { kind: 'create-split', ...request, params, maxSplits, maxSplitsPerNode, atMs: this.env.now() };
    const result = await this.driver.propose(command);
    if (!result.ok) return result;
    const task = this.splitTask(result.taskId)!;
    this.logger.info({ task: task.id, source: task.sourceShard, target: task.targetShard, split_slot: task.splitSlot, target_nodes: task.targetNodes }, 'split requested');
    return task;
  }

  async cancelSplit(taskId: string): Promise<SplitTask | PilotRejection | DriverRefusal> {
    const result = await this.driver.propose({ kind: 'cancel-split', taskId, atMs: this.env.now() });
    if (!result.ok) return result;
    this.logger.info({ task: taskId }, 'split cancel requested');
    return this.splitTask(taskId)!;
  }

  splitTask(taskId: string): SplitTask | undefined {
    return (this.state.splitTasks ?? []).find((t) => t.id === taskId);
  }

  /** The latest progress a source leader reported for a task; kept in memory by the serving leader only. */
  splitProgress(taskId: string): SplitProgress | undefined {
    return this.splitReports.get(taskId)?.progress;
  }

  /**
   * A source shard's leader reports a split: its progress is kept, and a phase, split slot or failure the
   * task has not recorded yet is proposed. Reports of an older Raft term than the last one taken are stale.
   */
  async reportSplit(report: SplitReport): Promise<SplitReportResponse | PilotRejection | DriverRefusal> {
    const task = this.splitTask(report.task_id);
    if (task === undefined) return { ok: false, reason: 'unknown-split', message: `no split task ${report.task_id}` };
    const last = this.splitReports.get(task.id);
    if (last === undefined || report.term >= last.term) this.splitReports.set(task.id, { term: report.term, progress: reportedProgress(report, last?.progress) });
    const command = progressCommandFor(task, report, last?.term, this.env.now());
    if (command !== undefined) {
      const result = await this.driver.propose(command);
      // A refused phase (out of order, say) leaves the task as recorded; the reporter learns it below.
      if (!result.ok && result.reason !== 'split-switched') return result;
      if (result.ok) this.logger.info({ task: task.id, status: report.status, reason: report.reason, node: report.node_id }, 'split phase');
    }
    const now = this.splitTask(task.id)!;
    return { status: now.status, cancel_requested: now.cancelRequested };
  }

  /**
   * The routing table once its version exceeds `afterVersion`, or the current one after `waitMs`;
   * undefined when too many polls are waiting already.
   */
  async pollRouting(afterVersion: number | undefined, waitMs: number, signal: AbortSignal): Promise<RoutingTable | undefined> {
    if (afterVersion !== undefined && this.state.routingVersion <= afterVersion) {
      const waited = this.waiters.wait(afterVersion, waitMs, signal);
      if (waited === undefined) return undefined;
      await waited;
    }
    return routingTable(this.state);
  }

  /**
   * On the serving leader: logs and records as events the nodes that went down or came back since the
   * previous sweep, and bootstraps the default keyspace if an earlier attempt did not get through.
   */
  sweepLiveness(): void {
    if (!this.driver.serving) return;
    if (this.bootstrapDue()) void this.bootstrapIfDue();
    const atMs = this.env.now();
    const changes = this.liveness.sweep(
      this.state.nodes.map((n) => n.id),
      atMs,
    );
    for (const { nodeId, up } of changes) {
      if (up) {
        this.logger.info({ node_id: nodeId }, 'node up');
        this.events.record({ kind: 'node-up', at_ms: atMs, node_id: nodeId });
      } else {
        this.logger.warn({ node_id: nodeId, timeout_ms: this.config.nodeTimeoutMs }, 'node down');
        this.events.record({ kind: 'node-down', at_ms: atMs, node_id: nodeId, timeout_ms: this.config.nodeTimeoutMs });
      }
    }
  }

  /** Stops the replica: proposals in flight fail, the store closes. Release `waiters` first when serving HTTP. */
  async close(): Promise<void> {
    await this.driver.close();
  }

  /**
   * Proposes the reported leaderships that are news: another node than the recorded leader, or the same
   * one in a newer term (so a late report of an older term cannot win later). The state machine checks
   * the terms again when it applies them, since another heartbeat may have overtaken this one. Only a
   * replica of the shard is believed, and only for a term at most LEADER_TERM_STEP_MAX past the recorded
   * one: a term far ahead would outrank every real leader to come and pin the routing table on the reporter.
   */
  private async recordLeaders(nodeId: string, reports: NonNullable<HeartbeatRequest['leaders']>): Promise<void> {
    const leaders: ShardLeaderReport[] = [];
    for (const { shard_id: shardId, term } of reports) {
      const shard = this.state.shards.find((s) => s.id === shardId);
      const recordedTerm = shard?.leaderTerm ?? 0;
      if (shard === undefined || term <= recordedTerm || leaders.some((l) => l.shardId === shardId)) continue;
      if (!shard.replicas.includes(nodeId) || term > recordedTerm + LEADER_TERM_STEP_MAX) {
        this.logger.warn(
          { shard: shardId, node_id: nodeId, term, recorded_term: recordedTerm, replicas: shard.replicas },
          'leader report not believed: not a replica of the shard, or a term too far ahead',
        );
        continue;
      }
      leaders.push({ shardId, nodeId, term });
    }
    if (leaders.length === 0) return;
    const result = await this.driver.propose({ kind: 'set-shard-leaders', leaders });
    if (!result.ok) this.logger.warn({ node_id: nodeId, reason: result.reason }, `leader report refused: ${result.message}`);
    else if (result.shardIds.length > 0) this.logger.info({ node_id: nodeId, shards: result.shardIds }, 'shard leadership recorded');
  }

  private bootstrapDue(): boolean {
    const { state, config } = this;
    return !state.keyspaces.some((k) => k.name === DEFAULT_KEYSPACE) && state.nodes.length >= config.expectNodes;
  }

  /** Bootstraps the default keyspace if it is due; checks run one after another, each on the newest state. */
  private bootstrapIfDue(): Promise<void> {
    const check = (): Promise<void> => this.bootstrapNow();
    this.bootstrapChain = this.bootstrapChain.then(check, check);
    return this.bootstrapChain;
  }

  private async bootstrapNow(): Promise<void> {
    if (!this.driver.serving || !this.bootstrapDue()) return;
    const { state, config } = this;
    // Fewer nodes than replicas (a one-node cluster) still get a keyspace, with a replica on each node.
    const replicas = Math.min(config.replicas, state.nodes.length);
    const result = await this.driver.propose({
      kind: 'bootstrap-keyspace',
      keyspace: DEFAULT_KEYSPACE,
      shardsPerNode: config.shardsPerNode,
      replicas,
      atMs: this.env.now(),
    });
    // The leader may have changed under the check; a new leader bootstraps once it serves.
    if (!result.ok) {
      if (result.reason !== 'keyspace-exists') this.logger.warn({ reason: result.reason }, `bootstrap refused: ${result.message}`);
      return;
    }
    this.logger.info({ keyspace: result.keyspace, shards: result.shardIds.length, nodes: this.state.nodes.length, replicas }, 'keyspace bootstrapped');
  }

  /**
   * Leading starts with a clean slate of heartbeat knowledge (every node gets a node timeout and a request
   * timeout of grace, as after a restart) and the bootstrap check; losing the lead answers held long polls at once, so nodes
   * ask the new leader.
   */
  private onLeadership(serving: boolean): void {
    if (serving) {
      this.liveness.reset(this.env.now());
      void this.bootstrapIfDue();
    } else {
      this.waiters.releaseAll();
    }
  }

  /** The state jumped to a snapshot's: one routing change, whatever happened in between. */
  private onRestored(before: PilotState, after: PilotState): void {
    const atMs = this.env.now();
    this.logger.info({ routing_version: after.routingVersion, previous_version: before.routingVersion }, 'pilot state restored from a snapshot');
    if (after.routingVersion === before.routingVersion) return;
    this.events.record({ kind: 'routing-version-changed', at_ms: atMs, routing_version: after.routingVersion, previous_version: before.routingVersion, cause: 'snapshot' });
    this.waiters.notify(after.routingVersion);
  }

  private onApplied(command: PilotCommand, before: PilotState, after: PilotState): void {
    // Recorded here, from what was applied, so every accepted command is an event exactly once and in
    // the order it took effect, whichever code path proposed it.
    const atMs = this.env.now();
    for (const event of commandEvents(command, before, after, atMs)) this.events.record(event);
    if (after.routingVersion === before.routingVersion) return;
    this.logger.info({ routing_version: after.routingVersion, previous_version: before.routingVersion, cause: command.kind }, 'routing version changed');
    this.events.record({ kind: 'routing-version-changed', at_ms: atMs, routing_version: after.routingVersion, previous_version: before.routingVersion, cause: command.kind });
    this.waiters.notify(after.routingVersion);
  }
}

/** The events of an accepted command, described from the states around it. */
function commandEvents(command: PilotCommand, before: PilotState, after: PilotState, atMs: number): NewPilotEvent[] {
  switch (command.kind) {
    case 'register-node': {
      // The state machine appends the new node and gives it the id; the command does not carry one.
      const node = after.nodes[after.nodes.length - 1]!;
      return [{ kind: 'node-registered', at_ms: atMs, node_id: node.id, address: `${node.host}:${node.port}` }];
    }
    case 'update-node':
      return [{ kind: 'node-rejoined', at_ms: atMs, node_id: command.nodeId, address: `${command.host}:${command.port}`, pid: command.pid }];
    case 'bootstrap-keyspace':
      return [{ kind: 'keyspace-bootstrapped', at_ms: atMs, keyspace: command.keyspace, shard_count: after.shards.filter((s) => s.keyspace === command.keyspace).length }];
    case 'set-shard-leaders': {
      // A newer term of the same leader changes the table but is no leader change.
      const events: NewPilotEvent[] = [];
      for (const { shardId } of command.leaders) {
        const previous = before.shards.find((s) => s.id === shardId);
        const shard = after.shards.find((s) => s.id === shardId);
        if (previous === undefined || shard === undefined || shard.leader === previous.leader || shard.leader === null) continue;
        events.push({ kind: 'shard-leader-changed', at_ms: atMs, shard_id: shardId, from: previous.leader, to: shard.leader, term: shard.leaderTerm ?? 0 });
      }
      return events;
    }
    case 'change-shard-replicas': {
      const shard = after.shards.find((s) => s.id === command.shardId)!;
      return [
        { kind: 'shard-replicas-changed', at_ms: atMs, shard_id: shard.id, action: command.action, node_id: command.nodeId, replicas: [...shard.replicas], epoch: shard.epoch },
      ];
    }
    case 'transfer-shard-leader':
      return [{ kind: 'shard-leader-transfer-requested', at_ms: atMs, shard_id: command.shardId, node_id: command.nodeId }];
    case 'import-state':
      // The routing version it brings is the event.
      return [];
    case 'create-split':
    case 'split-progress':
    case 'cancel-split':
      return splitEvents(before, after, atMs);
  }
}

/** A split task whose status changed (or that appeared) between the two states. */
function splitEvents(before: PilotState, after: PilotState, atMs: number): NewPilotEvent[] {
  const previous = new Map((before.splitTasks ?? []).map((t) => [t.id, t.status]));
  return (after.splitTasks ?? [])
    .filter((t) => previous.get(t.id) !== t.status)
    .map((t) => ({ kind: 'split-status-changed', at_ms: atMs, task_id: t.id, source_shard: t.sourceShard, target_shard: t.targetShard, status: t.status, reason: t.reason }));
}

/**
 * The progress to show for a report. After the switch the transfer's figures are final: a report from
 * cleanup (perhaps by a leader that took over and never saw the transfer) keeps them, with nothing left
 * to catch up or hold.
 */
function reportedProgress(report: SplitReport, before: SplitProgress | undefined): SplitProgress {
  const switched = SPLIT_PHASES[report.status].targetServes;
  return switched && before !== undefined ? { ...before, delay: 0, buffered_requests: 0 } : report.progress;
}
