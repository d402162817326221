/**
 * One incarnation of a simulated cleave node: the real MultiRaft driver and ShardReplica state machines
 * over a SimDisk, wired to the simulated network and the virtual-time scheduler exactly as ShardGroups
 * wires them to LMDB, the transport and timers:
 * - `host.persist` is one `disk.commitAll()` per loop turn; `host.send` hands a turn's messages to the
 *   network only after it (the driver's ordering), encoded with the transport's frame codec, so what
 *   arrives is what a real peer decodes; `host.schedule` is an event at the same virtual instant;
 * - a tick every `tickMs`; every MEMBERSHIP_CHECK_TICKS ticks a leader takes one step towards the
 *   routing table's replicas (nextMembershipStep, shared with ShardGroups), and replicas the table no
 *   longer lists are dropped (shouldDropReplica);
 * - groups start as ShardGroups starts them: a founding member (epoch 1, empty log) bootstraps with the
 *   shard's replicas as voters and campaigns if the pilot named it leader or it is the only voter; any
 *   other member starts empty and waits for the leader's snapshot.
 * Clients are served by the node's own CommandDispatcher over the node's routing view (a write is
 * proposed as a shard command with the virtual time, a read waits for a ReadIndex barrier), so MOVED,
 * TRYAGAIN and the split buffer answer as they do on a real node. Splits run as on a node too: the
 * source's leader runs the real SplitSource driver every SPLIT_CHECK_TICKS, its requests to the target
 * travel the simulated network (lost, delayed, partitioned like Raft's messages) and are answered by
 * answerSplitRequest, and its reports go to the simulation's pilot.
 *
 * A crash ends the incarnation: its timers stop, its scheduled work is skipped, the persist in flight
 * never resolves (so nothing staged after the last fsync leaves), its clients learn nothing more, and
 * the disk's durable image is all that remains for the next incarnation.
 */
import type { Logger } from '../../src/common/logger.js';
import { nodeNumberOf, nodeNumberOfReplica, replicaIdOf } from '../../src/common/replica-ids.js';
import { SlicedApply } from '../../src/common/sliced-apply.js';
import { EMPTY_ROUTING_TABLE, type RoutingShard, type RoutingTable } from '../../src/common/routing.js';
import type { SplitReport, SplitReportResponse } from '../../src/split/types.js';
import { ClientConnection } from '../../src/node/client-connection.js';
import { CommandDispatcher, type DispatchTarget } from '../../src/node/command-dispatcher.js';
import { MEMBERSHIP_CHECK_TICKS, nextMembershipStep, shouldDropReplica } from '../../src/node/membership-step.js';
import { MultiRaft, type GroupStateMachine } from '../../src/multiraft/multi-raft.js';
import { nodeIdOf } from '../../src/multiraft/peer-message.js';
import { peerBatchCheck } from '../../src/multiraft/peer-message-check.js';
import { RoutingView } from '../../src/node/routing-view.js';
import { SplitBuffer } from '../../src/split/split-buffer.js';
import { SPLIT_TRYAGAIN, SplitRouting } from '../../src/split/split-routing.js';
import { SplitSource, splitGroupsHost, type SplitSourceHost } from '../../src/split/split-source.js';
import { answerSplitRequest, requestTargetLeader, splitTargetHost, SPLIT_CHECK_TICKS, SPLIT_REQUEST_TIMEOUT_MS } from '../../src/split/split-target.js';
import type { SplitRequest, TargetAnswer } from '../../src/split/types.js';
import { isSplitRequest, isTargetAnswer } from '../../src/split/split-wire-check.js';
import type { Entry, NodeId, Role } from '../../src/raft/index.js';
import type { Reply } from '../../src/resp/reply.js';
import { encodeShardCommand, type ShardCommand } from '../../src/shard/shard-command.js';
import { ShardReplica } from '../../src/shard/shard-replica.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import type { ShardSnapshotChunk, ShardSnapshotReader } from '../../src/storage/types.js';
import { decodeFrameBody, encodeFrameBytes, FRAME_HEADER_BYTES } from '../../src/transport/frame-codec.js';
import { seededRandom } from '../support/seeded-random.js';
import type { ClusterChecker } from './cluster-checker.js';
import { SimDisk, type CrashableRaftLog, type DiskImage } from './crashable-storage.js';
import type { EventId, Scheduler } from './scheduler.js';
import type { SimNetwork } from './sim-network.js';

/** The node settings a simulation picks (ShardGroups' constants, scaled to a short virtual run). */
export interface SimNodeConfig {
  readonly tickMs: number;
  readonly electionTimeoutMs: number;
  /** Proposals and reads unanswered this long fail with an unknown outcome (the node's is 10 s). */
  readonly requestTimeoutMs: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotIdleMs: number;
  readonly compactAfterEntries: number;
  readonly compactKeepEntries: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly maxInflightMsgs?: number;
  readonly maxSizePerMsgBytes?: number;
  /** How long an unwanted learner may wait to learn of its removal (the node's is 60 s). */
  readonly unwantedGraceMs: number;
  /** Virtual ms from a commit to its fsync, drawn per batch. */
  readonly fsyncDelayMsMax: number;
}

/**
 * What the simulated network carries: Raft frames (encoded as the transport encodes them), and a split
 * source's requests to a target replica with their answers (the transport's request/response).
 */
export type SimWire =
  | Buffer
  | { readonly t: 'split-request'; readonly id: number; readonly request: SplitRequest }
  | { readonly t: 'split-answer'; readonly id: number; readonly answer: TargetAnswer };

/** Counters of what the simulated nodes did, for the run's summary and the scenario tests. */
export interface SimNodeCounters {
  snapshotChunksReceived: number;
  snapshotsRestored: number;
  /** Most chunks one pulled snapshot took. */
  snapshotChunksMax: number;
  membershipChangesProposed: number;
  transfersRequested: number;
  groupsStarted: number;
  groupsDropped: number;
  splitDriversStarted: number;
  splitSnapshotBytes: number;
}

/** What a node needs from the simulation around it. */
export interface SimNodeEnv {
  readonly seed: number;
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<SimWire>;
  readonly checker: ClusterChecker;
  readonly config: SimNodeConfig;
  readonly counters: SimNodeCounters;
  /** A group's leader or this member's role changed (the node's heartbeat to the pilot). */
  onLeaderChange(node: SimNode, groupId: string, leaderId: NodeId, role: Role, term: number): void;
  /** A split source's leader reports to the pilot; undefined when the report or its answer was lost. */
  reportSplit(node: SimNode, report: SplitReport): Promise<SplitReportResponse | undefined>;
  trace(line: string): void;
}

/** How a client request ended at the node. */
export type ServeOutcome =
  | { readonly kind: 'reply'; readonly reply: Reply }
  /** The node crashed with the request in flight: the client's connection dropped. */
  | { readonly kind: 'crashed' };

/** A promise that never settles: what a crashed process's pending work waits for. */
const NEVER = new Promise<never>(() => {});
/** Errors that say the code is wrong, not that the cluster misbehaved: a split driver hitting one fails the run. */
const BUG_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

/** One node incarnation; see the module comment. */
export class SimNode {
  /** The node's number: its peer id, and the Raft id of its founding replicas. */
  readonly raftId: NodeId;
  readonly disk: SimDisk;
  readonly multiRaft: MultiRaft;
  readonly replicas = new Map<string, ShardReplica>();
  alive = true;
  /** The snapshots this incarnation restored, with the chunks it pulled for each. */
  readonly restores: { readonly shardId: string; readonly index: number; readonly chunks: number }[] = [];
  private readonly logs = new Map<string, CrashableRaftLog>();
  private readonly random: () => number;
  private ticks = 0;
  private tickEvent: EventId;
  /** When this node first saw each shard it runs no longer list it (virtual ms). */
  private readonly unwantedSince = new Map<string, number>();
  /** Settles each client request in flight here, with when it arrived; a crash settles them all as 'crashed'. */
  private readonly pending = new Map<(outcome: ServeOutcome) => void, { readonly atMs: number; readonly isWrite: boolean }>();
  /** The routing table's shards as this node last heard of them: it acts on this view, which may lag the pilot's. */
  private view: readonly RoutingShard[] = [];
  private synced = false;
  /** Snapshot chunks received per group since its last restore. */
  private readonly chunksSinceRestore = new Map<string, number>();
  /** The routing view the dispatcher routes by (the table as this node last heard of it). */
  private routingView: RoutingView;
  private readonly dispatcher: CommandDispatcher;
  /** Every client request arrives on this one connection: the dispatcher keeps no state per request. */
  private readonly connection: ClientConnection;
  private readonly splitBuffer = new SplitBuffer();
  /** The MOVED replies this node gave for slots a split moved away: clients tell them from leader redirects. */
  private readonly splitRedirects = new WeakSet<Reply>();
  private readonly splitRouting: SplitRouting;
  /** Source shards whose split driver runs here. */
  private readonly splitDrivers = new Set<string>();
  /** The target replica that answered last, per target shard. */
  private readonly targetLeaders = new Map<string, string>();
  /** Split requests sent and not yet answered, by request id. */
  private readonly splitRequests = new Map<number, (answer: TargetAnswer) => void>();
  private nextSplitRequestId = 1;
  private readonly logger: Logger;

  constructor(
    private readonly env: SimNodeEnv,
    readonly name: string,
    image: DiskImage,
    readonly incarnation: number,
  ) {
    const { config, scheduler } = env;
    this.raftId = nodeNumberOf(name);
    this.random = seededRandom(mixSeed(env.seed, this.raftId, incarnation));
    this.disk = new SimDisk(scheduler, { fsyncDelayMs: () => 1 + Math.floor(this.random() * config.fsyncDelayMsMax) }, image);
    // As ShardGroups derives its Raft settings, with the seeded random instead of Math.random.
    const electionTicks = Math.max(3, Math.round(config.electionTimeoutMs / config.tickMs / 1.5));
    this.multiRaft = new MultiRaft(
      {
        id: this.raftId,
        peerOf: nodeNumberOfReplica,
        electionTicks,
        heartbeatTicks: 1,
        random: this.random,
        requestTimeoutTicks: Math.ceil(config.requestTimeoutMs / config.tickMs),
        snapshotChunkBytes: config.snapshotChunkBytes,
        snapshotIdleTicks: Math.ceil(config.snapshotIdleMs / config.tickMs),
        compactAfterEntries: config.compactAfterEntries,
        compactKeepEntries: config.compactKeepEntries,
        maxUncommittedEntriesBytes: config.maxUncommittedEntriesBytes,
        ...(config.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: config.maxInflightMsgs }),
        ...(config.maxSizePerMsgBytes === undefined ? {} : { maxSizePerMsgBytes: config.maxSizePerMsgBytes }),
      },
      {
        send: (to, messages) => {
          if (this.alive) env.network.deliver(name, nodeIdOf(to), encodeFrameBytes(messages));
        },
        persist: () => this.disk.commitAll(),
        // A dead process runs nothing: work scheduled before the crash is skipped.
        schedule: (fn) => void scheduler.after(0, () => (this.alive ? fn() : undefined)),
        onLeaderChange: (groupId, leaderId, role, term) => env.onLeaderChange(this, groupId, leaderId, role, term),
        onFatal: (error) => env.checker.fail(`${name}: persist failed: ${String(error)}`),
      },
    );
    env.network.attach(name, (from, wire) => this.onWire(from, wire));
    this.routingView = new RoutingView(EMPTY_ROUTING_TABLE, name);
    this.splitRouting = new SplitRouting({
      routing: () => this.routingView,
      replica: (shardId) => this.replicas.get(shardId),
      buffer: this.splitBuffer,
      now: () => scheduler.now(),
      splitTargetLeader: (shardId) => this.targetLeaders.get(shardId),
    });
    this.dispatcher = new CommandDispatcher(this.dispatchTarget(), undefined, { now: () => scheduler.now(), random: this.random });
    this.connection = new ClientConnection(0, undefined as never, false, 0, () => {});
    this.logger = simLogger(this);
    // Nodes do not tick in lockstep: each starts at its own offset within a tick.
    this.tickEvent = scheduler.after(1 + Math.floor(this.random() * config.tickMs), () => this.tick());
  }

  /** Follows a routing table, as ShardGroups.sync: starts groups of shards listing this node, drops unwanted ones. */
  sync(table: RoutingTable): void {
    if (!this.alive || table.version < this.routingView.version) return;
    const first = !this.synced;
    this.synced = true;
    this.view = table.shards;
    this.routingView = new RoutingView(table, this.name);
    this.startHosted();
    if (first) this.resumeUnlisted();
    this.dropUnwanted();
    this.driveSplits();
  }

  isLeader(shardId: string): boolean {
    return this.multiRaft.leadership(shardId)?.role === 'leader';
  }

  /** Serves one client command through the node's dispatcher. */
  serve(argv: readonly Buffer[], isWrite: boolean): Promise<ServeOutcome> {
    return new Promise((resolve) => {
      const settle = (outcome: ServeOutcome): void => {
        if (this.pending.delete(settle)) resolve(outcome);
      };
      this.pending.set(settle, { atMs: this.env.scheduler.now(), isWrite });
      Promise.resolve(this.dispatcher.dispatch(this.connection, argv)).then(
        (reply) => settle({ kind: 'reply', reply }),
        (error: unknown) => {
          this.env.checker.fail(`${this.name}: a client request failed with ${error instanceof Error ? error.stack : String(error)}`);
          settle({ kind: 'crashed' });
        },
      );
    });
  }

  /** `reply` is a redirect this node gave for a slot a split moved away. */
  isSplitRedirect(reply: Reply): boolean {
    return this.splitRedirects.has(reply);
  }

  private splitRedirect(reply: Reply): Reply {
    this.splitRedirects.add(reply);
    return reply;
  }

  /** Client writes in flight at this node. */
  get pendingWrites(): number {
    let writes = 0;
    for (const { isWrite } of this.pending.values()) if (isWrite) writes++;
    return writes;
  }

  /** When the oldest client request in flight here arrived (undefined if none). */
  oldestPendingMs(): number | undefined {
    let oldest: number | undefined;
    for (const { atMs } of this.pending.values()) oldest = oldest === undefined ? atMs : Math.min(oldest, atMs);
    return oldest;
  }

  /** The power goes out: returns what the disk kept. */
  crash(): DiskImage {
    this.alive = false;
    this.env.scheduler.cancel(this.tickEvent);
    for (const settle of [...this.pending.keys()]) settle({ kind: 'crashed' });
    return this.disk.crash();
  }

  /** The group's Raft log on this node (undefined if it does not run the group). */
  raftLog(shardId: string): CrashableRaftLog | undefined {
    return this.multiRaft.hasGroup(shardId) ? this.logs.get(shardId) : undefined;
  }

  private onWire(from: string, wire: SimWire): void {
    if (!this.alive) return;
    if (!Buffer.isBuffer(wire)) return this.onSplitWire(from, wire);
    const frame = wire;
    const messages = decodeFrameBody(frame.subarray(FRAME_HEADER_BYTES));
    // A real node's bus drops a batch that fails this check: the cluster must never refuse its own traffic.
    if (!peerBatchCheck(this.raftId)(messages, from)) return this.env.checker.fail(`${this.name}: a batch from ${from} fails the bus's check`);
    const fromId = nodeNumberOf(from);
    for (const message of messages) {
      if (message.t === 'snap-chunk' && this.multiRaft.hasGroup(message.g)) {
        this.env.counters.snapshotChunksReceived++;
        this.chunksSinceRestore.set(message.g, (this.chunksSinceRestore.get(message.g) ?? 0) + 1);
      }
      this.multiRaft.receive(fromId, message);
    }
  }

  private tick(): void {
    if (!this.alive) return;
    this.ticks++;
    this.multiRaft.tick();
    if (this.ticks % MEMBERSHIP_CHECK_TICKS === 0) {
      for (const shard of this.view) if (this.isLeader(shard.id)) this.reconcileMembership(shard);
      this.dropUnwanted();
      this.startHosted();
    }
    if (this.ticks % SPLIT_CHECK_TICKS === 0) {
      this.driveSplits();
      this.splitBuffer.expire(this.env.scheduler.now(), SPLIT_TRYAGAIN);
    }
    this.tickEvent = this.env.scheduler.after(this.env.config.tickMs, () => this.tick());
  }

  /** The node as its dispatcher sees it: the simulated groups, the routing view, the split answers. */
  private dispatchTarget(): DispatchTarget {
    return {
      selfId: this.name,
      host: this.name,
      port: 0,
      requirepass: undefined,
      startedAtMs: 0,
      stats: { commandsProcessed: 0, connectionsReceived: 0, opsPerSec: 0 },
      connections: new Map(),
      routing: () => this.routingView,
      ledReplicas: () => [],
      clusterId: () => '0'.repeat(40),
      settled: () => Promise.resolve(),
      flushLed: () => Promise.resolve('flushed' as const),
      debugFaults: () => undefined,
      replica: (shardId) => this.replicas.get(shardId),
      write: (shardId, argv, nowMs) => this.multiRaft.propose(shardId, encodeShardCommand({ kind: 'command', nowMs, argv })) as Promise<Reply>,
      readBarrier: (shardId) => this.multiRaft.readBarrier(shardId),
      splitTargetOwning: (slot) => this.splitRouting.splitTargetOwning(slot),
      holdWrite: (shardId, slot) => this.splitRouting.holdWrite(shardId, slot),
      movedAway: (shardId, slot) => this.splitRedirect(this.splitRouting.movedAway(shardId, slot)),
      // Not simulated: a forward is never sent, so every redirect is answered (after one wait for the leadership to move).
      forward: () => Promise.resolve({ kind: 'not-sent' }),
      routingChangedAtMs: () => Number.NEGATIVE_INFINITY,
      // A tick later the transfer has moved on, or the retry is answered as before.
      leaderSettled: () => (this.alive ? this.env.scheduler.sleep(this.env.config.tickMs).then(() => (this.alive ? undefined : NEVER)) : NEVER),
      leaderSilent: (shardId) => this.multiRaft.leaderSilent(shardId),
    };
  }

  /** As ShardGroups: a driver for each split whose source this node leads and that has none running. */
  private driveSplits(): void {
    for (const shard of this.view) {
      if (shard.split?.role !== 'source' || this.splitDrivers.has(shard.id) || !this.isLeader(shard.id)) continue;
      this.splitDrivers.add(shard.id);
      this.env.counters.splitDriversStarted++;
      void new SplitSource(this.splitHost(), shard).run().finally(() => this.splitDrivers.delete(shard.id));
    }
  }

  /** The driver's host: this incarnation's groups, the network to the target, the pilot; all silent once crashed. */
  private splitHost(): SplitSourceHost {
    const { scheduler } = this.env;
    return {
      selfId: this.name,
      logger: this.logger,
      buffer: this.splitBuffer,
      ...splitGroupsHost(this.multiRaft, this.replicas),
      report: (report) => (this.alive ? this.env.reportSplit(this, report) : NEVER),
      movedToTarget: (target, slot) => this.splitRedirect(this.splitRouting.movedTo(target, slot)),
      observer: { snapshotBytesSent: (bytes) => void (this.env.counters.splitSnapshotBytes += bytes), catchUpDelay: () => {} },
      sendToTarget: (target, command) => this.sendToTarget(target, command),
      now: () => scheduler.now(),
      sleep: (ms) => (this.alive ? scheduler.sleep(ms).then(() => (this.alive ? undefined : NEVER)) : NEVER),
    };
  }

  private sendToTarget(target: string, command: ShardCommand | null): Promise<TargetAnswer> {
    if (!this.alive) return NEVER;
    const request: SplitRequest = { shard: target, command: command === null ? null : encodeShardCommand(command) };
    return requestTargetLeader(
      this.view.find((s) => s.id === target),
      this.targetLeaders.get(target),
      (node) => (node === this.name ? this.answerSplit(request) : this.requestSplit(node, request)),
      (node) => (node === undefined ? this.targetLeaders.delete(target) : this.targetLeaders.set(target, node)),
    );
  }

  /** One request over the network; fails after the transport's timeout, and never settles once this node crashed. */
  private requestSplit(node: string, request: SplitRequest): Promise<TargetAnswer> {
    const id = this.nextSplitRequestId++;
    return new Promise((resolve, reject) => {
      this.splitRequests.set(id, resolve);
      this.env.network.deliver(this.name, node, { t: 'split-request', id, request });
      this.env.scheduler.after(SPLIT_REQUEST_TIMEOUT_MS, () => {
        if (this.alive && this.splitRequests.delete(id)) reject(new Error(`split request to ${node} timed out`));
      });
    });
  }

  private answerSplit(request: SplitRequest): Promise<TargetAnswer> {
    return answerSplitRequest(splitTargetHost(this.multiRaft, this.replicas), request);
  }

  private onSplitWire(from: string, wire: Exclude<SimWire, Buffer>): void {
    // The checks a real node's bus applies to split requests and answers.
    if (wire.t === 'split-answer' ? !isTargetAnswer(wire.answer) : !isSplitRequest(wire.request)) return this.env.checker.fail(`${this.name}: a ${wire.t} from ${from} fails the bus's check`);
    if (wire.t === 'split-answer') {
      const resolve = this.splitRequests.get(wire.id);
      this.splitRequests.delete(wire.id);
      resolve?.(wire.answer);
      return;
    }
    void this.answerSplit(wire.request).then((answer) => {
      if (this.alive) this.env.network.deliver(this.name, from, { t: 'split-answer', id: wire.id, answer });
    });
  }

  /** As ShardGroups after a restart: replicas on disk the table no longer lists run until they are dropped. */
  private resumeUnlisted(): void {
    for (const groupId of this.disk.raftGroupIds()) {
      const shard = this.view.find((s) => s.id === groupId);
      if (shard === undefined || this.multiRaft.hasGroup(groupId)) continue;
      if (this.disk.openRaftLog(groupId).lastIndex() === 0) continue;
      this.startGroup(shard, (this.disk.getMeta(`replica_id.${groupId}`) as number | undefined) ?? this.raftId);
    }
  }

  /** As ShardGroups.startHosted: groups of shards listing this node, each under the replica id the table gives it. */
  private startHosted(): void {
    for (const shard of this.view) {
      if (!shard.replicas.includes(this.name)) continue;
      const running = this.multiRaft.selfId(shard.id);
      const wanted = replicaIdOf(shard, this.name);
      if (running === wanted) continue;
      if (running !== undefined) {
        if (this.multiRaft.ownMembership(shard.id) !== 'none') continue;
        this.env.trace(`${this.name} runs ${shard.id} on as replica ${wanted}, no longer ${running}`);
        this.multiRaft.removeGroup(shard.id);
      }
      this.startGroup(shard, wanted);
    }
  }

  private startGroup(shard: RoutingShard, replicaId: NodeId): void {
    const data = this.disk.openShard(shard.id);
    const log = this.disk.openRaftLog(shard.id);
    const fresh = log.lastIndex() === 0;
    // Founding members bootstrap; a member added later starts empty and gets the leader's snapshot.
    const founding = fresh && shard.epoch === 1;
    if (founding) log.bootstrap(shard.replicas.map((n) => replicaIdOf(shard, n)));
    const metaName = `replica_id.${shard.id}`;
    if ((this.disk.getMeta(metaName) ?? this.raftId) !== replicaId) void this.disk.putMeta(metaName, replicaId);
    const replica = this.replicas.get(shard.id) ?? new ShardReplica(shard.id, data);
    this.replicas.set(shard.id, replica);
    this.logs.set(shard.id, log);
    this.multiRaft.addGroup(shard.id, log, new RecordingMachine(this, shard.id, replica, log), replicaId);
    const voters = this.multiRaft.confState(shard.id)?.voters ?? [];
    const alone = voters.length === 1 && voters[0] === replicaId;
    if ((founding && shard.leader === this.name) || alone) this.multiRaft.campaign(shard.id);
    this.env.counters.groupsStarted++;
    this.env.trace(`${this.name} starts ${shard.id} as replica ${replicaId} (${founding ? 'founding' : fresh ? 'empty' : `applied ${log.appliedIndex()}`})`);
  }

  /** As ShardGroups.dropUnwanted, on virtual time. */
  private dropUnwanted(): void {
    const now = this.env.scheduler.now();
    for (const shardId of this.multiRaft.groupIds()) {
      const shard = this.view.find((s) => s.id === shardId);
      if (shard !== undefined && shard.replicas.includes(this.name)) {
        this.unwantedSince.delete(shardId);
        continue;
      }
      const since = this.unwantedSince.get(shardId) ?? now;
      this.unwantedSince.set(shardId, since);
      const leaderSilentMs = (this.multiRaft.ticksSinceLeaderContact(shardId) ?? 0) * this.env.config.tickMs;
      const membership = this.multiRaft.ownMembership(shardId) ?? 'none';
      const unwanted = { shardExists: shard !== undefined, membership, unwantedForMs: now - since, leaderSilentMs };
      if (shouldDropReplica(unwanted, { graceMs: this.env.config.unwantedGraceMs, silenceMs: this.env.config.electionTimeoutMs })) {
        this.unwantedSince.delete(shardId);
        this.multiRaft.removeGroup(shardId);
        this.replicas.delete(shardId);
        this.logs.delete(shardId);
        void this.disk.dropShard(shardId);
        this.env.counters.groupsDropped++;
        this.env.trace(`${this.name} drops ${shardId} (${shard === undefined ? 'shard gone' : membership === 'learner' ? 'an unlisted learner unspoken to past the grace' : 'no longer a member'})`);
      }
    }
  }

  private reconcileMembership(shard: RoutingShard): void {
    const status = this.multiRaft.status(shard.id);
    if (status === undefined) return;
    const transferTo = shard.transferTo === undefined ? undefined : replicaIdOf(shard, shard.transferTo);
    const step = nextMembershipStep(status, shard.replicas.map((n) => replicaIdOf(shard, n)), status.id, transferTo);
    if (step === undefined) return;
    if (step.kind === 'transferLeadership') {
      if (this.multiRaft.transferLeadership(shard.id, step.to)) this.env.counters.transfersRequested++;
      this.env.trace(`${this.name} hands ${shard.id} to ${nodeIdOf(step.to)}`);
      return;
    }
    const result = this.multiRaft.proposeConfChange(shard.id, { type: step.kind, nodeId: step.nodeId, context: new Uint8Array(0) });
    if (!result.ok) return;
    this.env.counters.membershipChangesProposed++;
    this.env.trace(`${this.name} proposes ${step.kind} ${nodeIdOf(step.nodeId)} (replica ${step.nodeId}) in ${shard.id}`);
  }

  /** Called by a group's state machine after a snapshot restore. */
  onRestored(shardId: string, index: number): void {
    const chunks = this.chunksSinceRestore.get(shardId) ?? 0;
    this.chunksSinceRestore.delete(shardId);
    this.restores.push({ shardId, index, chunks });
    this.env.counters.snapshotsRestored++;
    this.env.counters.snapshotChunksMax = Math.max(this.env.counters.snapshotChunksMax, chunks);
    this.env.checker.onRestore();
    this.env.trace(`${this.name} restores ${shardId} from a snapshot at ${index} (${chunks} chunks pulled)`);
  }

  /** The checker's view of an apply on this node. */
  onApplied(shardId: string, entry: Entry, reply: Reply | SplitApplyResult): void {
    this.env.checker.onApply(shardId, this.name, entry, reply);
  }

  fail(message: string): void {
    this.env.checker.fail(message);
  }

  trace(line: string): void {
    this.env.trace(line);
  }
}

/**
 * The shard's state machine with the checker listening: every applied entry and its reply are recorded,
 * and applied indexes must only grow within an incarnation.
 */
class RecordingMachine implements GroupStateMachine {
  /** Highest index applied by this incarnation, starting from what the disk says was applied. */
  private lastApplied: number;

  constructor(
    private readonly node: SimNode,
    private readonly shardId: string,
    private readonly replica: ShardReplica,
    private readonly log: CrashableRaftLog,
  ) {
    this.lastApplied = log.appliedIndex();
  }

  apply(entry: Entry): unknown {
    if (entry.index <= this.lastApplied) {
      this.node.fail(`${this.node.name} applies ${this.shardId} entry ${entry.index} again (applied through ${this.lastApplied})`);
    }
    this.lastApplied = entry.index;
    const reply = this.replica.apply(entry);
    if (!(reply instanceof SlicedApply)) {
      this.node.onApplied(this.shardId, entry, reply);
      return reply;
    }
    const { slices } = reply;
    const onApplied = (result: Reply): void => this.node.onApplied(this.shardId, entry, result);
    return new SlicedApply(
      (function* (): Generator<void, unknown, void> {
        for (let step = slices.next(); ; step = slices.next()) {
          if (step.done === true) {
            onApplied(step.value as Reply);
            return step.value;
          }
          yield;
        }
      })(),
    );
  }

  openSnapshot(): ShardSnapshotReader {
    return this.replica.openSnapshot();
  }

  restore(chunks: readonly ShardSnapshotChunk[]): void {
    this.replica.restore(chunks);
    // The driver records the snapshot in the log before it restores the data.
    this.lastApplied = this.log.appliedIndex();
    this.node.onRestored(this.shardId, this.lastApplied);
  }
}

/** A seed for one node incarnation's random, spread so that neighbouring seeds do not correlate. */
function mixSeed(seed: number, raftId: number, incarnation: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (raftId * 0x27d4eb2f), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (incarnation * 0x165667b1), 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The split driver's logger: its lines go to the trace, and an error that says the code is wrong fails the run. */
function simLogger(node: SimNode): Logger {
  const log =
    (level: string) =>
    (fields: Record<string, unknown>, message?: string): void => {
      const err = fields['err'];
      if (BUG_ERRORS.some((kind) => err instanceof kind)) node.fail(`${node.name}: split driver: ${(err as Error).stack}`);
      const { err: _err, ...rest } = fields;
      node.trace(`${node.name} ${level} ${message ?? ''} ${JSON.stringify(rest)}${err instanceof Error ? ` (${err.message})` : ''}`);
    };
  return { info: log('info'), warn: log('warn'), error: log('error'), debug: () => {} } as unknown as Logger;
}
