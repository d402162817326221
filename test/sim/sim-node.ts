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
 * Clients are served as the node's dispatcher serves them: a write is proposed as a shard command with
 * the node's time, a read waits for a ReadIndex barrier then runs against the replica.
 *
 * A crash ends the incarnation: its timers stop, its scheduled work is skipped, the persist in flight
 * never resolves (so nothing staged after the last fsync leaves), its clients learn nothing more, and
 * the disk's durable image is all that remains for the next incarnation.
 */
import type { RoutingShard } from '../../src/common/routing.js';
import type { CommandSpec } from '../../src/commands/types.js';
import { MEMBERSHIP_CHECK_TICKS, nextMembershipStep, shouldDropReplica } from '../../src/node/membership-step.js';
import { MultiRaft, RaftRequestError, type GroupStateMachine, type RaftRequestFailure } from '../../src/node/multi-raft.js';
import { nodeIdOf, raftIdOf, type PeerMessage } from '../../src/node/peer-message.js';
import { NONE, type Entry, type NodeId, type Role } from '../../src/raft/index.js';
import type { Reply } from '../../src/resp/reply.js';
import { encodeShardCommand } from '../../src/shard/shard-command.js';
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
  /** How long an unwanted replica may wait to learn of its removal (the node's is 60 s). */
  readonly unwantedGraceMs: number;
  /** Virtual ms from a commit to its fsync, drawn per batch. */
  readonly fsyncDelayMsMax: number;
}

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
}

/** What a node needs from the simulation around it. */
export interface SimNodeEnv {
  readonly seed: number;
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<Buffer>;
  readonly checker: ClusterChecker;
  readonly config: SimNodeConfig;
  readonly counters: SimNodeCounters;
  /** A group's leader or this member's role changed (the node's heartbeat to the pilot). */
  onLeaderChange(node: SimNode, groupId: string, leaderId: NodeId, role: Role, term: number): void;
  trace(line: string): void;
}

/** How a client request ended at the node. */
export type ServeOutcome =
  | { readonly kind: 'reply'; readonly reply: Reply }
  | { readonly kind: 'failed'; readonly reason: RaftRequestFailure; readonly leaderId: NodeId }
  /** The node crashed with the request in flight: the client's connection dropped. */
  | { readonly kind: 'crashed' };

/** One node incarnation; see the module comment. */
export class SimNode {
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

  constructor(
    private readonly env: SimNodeEnv,
    readonly name: string,
    image: DiskImage,
    readonly incarnation: number,
  ) {
    const { config, scheduler } = env;
    this.raftId = raftIdOf(name);
    this.random = seededRandom(mixSeed(env.seed, this.raftId, incarnation));
    this.disk = new SimDisk(scheduler, { fsyncDelayMs: () => 1 + Math.floor(this.random() * config.fsyncDelayMsMax) }, image);
    // As ShardGroups derives its Raft settings, with the seeded random instead of Math.random.
    const electionTicks = Math.max(3, Math.round(config.electionTimeoutMs / config.tickMs / 1.5));
    this.multiRaft = new MultiRaft(
      {
        id: this.raftId,
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
    env.network.attach(name, (from, frame) => this.onFrame(from, frame));
    // Nodes do not tick in lockstep: each starts at its own offset within a tick.
    this.tickEvent = scheduler.after(1 + Math.floor(this.random() * config.tickMs), () => this.tick());
  }

  /** Follows a routing table, as ShardGroups.sync: starts groups of shards listing this node, drops unwanted ones. */
  sync(view: readonly RoutingShard[]): void {
    if (!this.alive) return;
    const first = !this.synced;
    this.synced = true;
    this.view = view;
    for (const shard of view) {
      if (shard.replicas.includes(this.name) && !this.multiRaft.hasGroup(shard.id)) this.startGroup(shard);
    }
    if (first) this.resumeUnlisted();
    this.dropUnwanted();
  }

  isLeader(shardId: string): boolean {
    return this.multiRaft.leadership(shardId)?.role === 'leader';
  }

  /** Serves one key command as the dispatcher does: writes are proposed, reads wait for a ReadIndex barrier. */
  serve(shardId: string, spec: CommandSpec, argv: readonly Buffer[], isWrite: boolean): Promise<ServeOutcome> {
    return new Promise((resolve) => {
      const settle = (outcome: ServeOutcome): void => {
        if (this.pending.delete(settle)) resolve(outcome);
      };
      const nowMs = this.env.scheduler.now();
      this.pending.set(settle, { atMs: nowMs, isWrite });
      const replica = this.replicas.get(shardId);
      const work: Promise<Reply> = isWrite
        ? (this.multiRaft.propose(shardId, encodeShardCommand({ kind: 'command', nowMs, argv })) as Promise<Reply>)
        : this.multiRaft.readBarrier(shardId).then(() => {
            if (replica === undefined) throw new RaftRequestError('removed', NONE);
            return replica.read(spec, argv, this.env.scheduler.now(), this.random, 2);
          });
      work.then(
        (reply) => settle({ kind: 'reply', reply }),
        (error: unknown) => {
          if (error instanceof RaftRequestError) settle({ kind: 'failed', reason: error.reason, leaderId: error.leaderId });
          else {
            this.env.checker.fail(`${this.name}: a client request failed with ${String(error)}`);
            settle({ kind: 'crashed' });
          }
        },
      );
    });
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

  private onFrame(from: string, frame: Buffer): void {
    if (!this.alive) return;
    const messages = decodeFrameBody(frame.subarray(FRAME_HEADER_BYTES)) as PeerMessage[];
    const fromId = raftIdOf(from);
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
    }
    this.tickEvent = this.env.scheduler.after(this.env.config.tickMs, () => this.tick());
  }

  /** As ShardGroups after a restart: replicas on disk the table no longer lists run until they are dropped. */
  private resumeUnlisted(): void {
    for (const groupId of this.disk.raftGroupIds()) {
      const shard = this.view.find((s) => s.id === groupId);
      if (shard === undefined || this.multiRaft.hasGroup(groupId)) continue;
      if (this.disk.openRaftLog(groupId).lastIndex() === 0) continue;
      this.startGroup(shard);
    }
  }

  private startGroup(shard: RoutingShard): void {
    const data = this.disk.openShard(shard.id);
    const log = this.disk.openRaftLog(shard.id);
    const fresh = log.lastIndex() === 0;
    // Founding members bootstrap; a member added later starts empty and gets the leader's snapshot.
    const founding = fresh && shard.epoch === 1;
    if (founding) log.bootstrap(shard.replicas.map(raftIdOf));
    const replica = new ShardReplica(shard.id, data);
    this.replicas.set(shard.id, replica);
    this.logs.set(shard.id, log);
    this.multiRaft.addGroup(shard.id, log, new RecordingMachine(this, shard.id, replica, log));
    const voters = this.multiRaft.confState(shard.id)?.voters ?? [];
    const alone = voters.length === 1 && voters[0] === this.raftId;
    if ((founding && shard.leader === this.name) || alone) this.multiRaft.campaign(shard.id);
    this.env.counters.groupsStarted++;
    this.env.trace(`${this.name} starts ${shard.id} (${founding ? 'founding' : fresh ? 'empty' : `applied ${log.appliedIndex()}`})`);
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
      const conf = this.multiRaft.confState(shardId);
      const member = conf !== undefined && (conf.voters.includes(this.raftId) || conf.learners.includes(this.raftId));
      const unwanted = { shardExists: shard !== undefined, member, unwantedForMs: now - since, leaderSilentMs };
      if (shouldDropReplica(unwanted, { graceMs: this.env.config.unwantedGraceMs, silenceMs: this.env.config.electionTimeoutMs })) {
        this.unwantedSince.delete(shardId);
        this.multiRaft.removeGroup(shardId);
        this.replicas.delete(shardId);
        this.logs.delete(shardId);
        void this.disk.dropShard(shardId);
        this.env.counters.groupsDropped++;
        this.env.trace(`${this.name} drops ${shardId} (${member ? 'unlisted and unspoken to past the grace' : 'no longer a member'})`);
      }
    }
  }

  private reconcileMembership(shard: RoutingShard): void {
    const status = this.multiRaft.status(shard.id);
    if (status === undefined) return;
    const transferTo = shard.transferTo === undefined ? undefined : raftIdOf(shard.transferTo);
    const step = nextMembershipStep(status, shard.replicas.map(raftIdOf), this.raftId, transferTo);
    if (step === undefined) return;
    if (step.kind === 'transferLeadership') {
      if (this.multiRaft.transferLeadership(shard.id, step.to)) this.env.counters.transfersRequested++;
      this.env.trace(`${this.name} hands ${shard.id} to ${nodeIdOf(step.to)}`);
      return;
    }
    const result = this.multiRaft.proposeConfChange(shard.id, { type: step.kind, nodeId: step.nodeId, context: new Uint8Array(0) });
    if (!result.ok) return;
    this.env.counters.membershipChangesProposed++;
    this.env.trace(`${this.name} proposes ${step.kind} ${nodeIdOf(step.nodeId)} in ${shard.id}`);
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
    this.node.onApplied(this.shardId, entry, reply);
    return reply;
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
