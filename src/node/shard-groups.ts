/**
 * The shard replicas a node hosts, each a member of its shard's Raft group, driven by one MultiRaft over
 * the node's LMDB environment and the node-to-node transport.
 *
 * The routing table says which shards list this node as a replica (the pilot's desired placement). The
 * node starts a group for each: a founding member (shard epoch 1, empty log) bootstraps it with the
 * shard's replicas as voters, any other member starts empty and receives a snapshot from the leader.
 * The leader of each group moves the Raft membership towards the desired replicas one change at a time —
 * add a learner, promote it once caught up, remove a member no longer wanted, hand leadership away
 * before removing itself — so the pilot only states intent and every step is a committed log entry.
 *
 * A replica is a member under the replica id the routing table gives it (common/replica-ids.ts). When
 * the table gives this node's replica a new id (the pilot removed and added it again), the node runs it
 * on under the new id, as a new member the leader adds as a learner, once it may stop running the old
 * id as it would stop a replica the table no longer lists (shouldDropReplica).
 */
import { nodeNumberOf, nodeNumberOfReplica, replicaIdOf } from '../common/replica-ids.js';
import type { Cancel, Environment } from '../common/environment.js';
import type { RoutingShard } from '../common/routing.js';
import type { Logger } from '../common/logger.js';
import { NONE, type NodeId, type Role } from '../raft/index.js';
import type { Reply } from '../resp/reply.js';
import { encodeShardCommand, type ShardCommand } from '../shard/shard-command.js';
import { ShardReplica } from '../shard/shard-replica.js';
import type { NodeStore } from '../storage/node-store.js';
import type { PeerBus } from '../transport/peer-bus.js';
import { TransportError } from '../transport/transport-error.js';
import type { ProtocolVersion } from '../resp/writer.js';
import { failedForward, type ForwardOutcome } from './forward-decision.js';
import { argvOf, forwardedReply, isForwardRequest, type ForwardRequest } from './forward-wire-check.js';
import { MEMBERSHIP_CHECK_TICKS, nextMembershipStep, shouldDropReplica } from './membership-step.js';
import { MultiRaft, type GroupFaultError, type GroupStateMachine } from '../multiraft/multi-raft.js';
import { isNodeId, nodeIdOf } from '../multiraft/peer-message.js';
import { peerBatchCheck } from '../multiraft/peer-message-check.js';
import type { RoutingView } from './routing-view.js';
import { SplitSource, splitGroupsHost, type SplitSourceHost } from '../split/split-source.js';
import { answerSplitRequest, requestTargetLeader, splitTargetHost, SPLIT_CHECK_TICKS, SPLIT_REQUEST_TIMEOUT_MS } from '../split/split-target.js';
import type { SplitRequest, TargetAnswer } from '../split/types.js';
import { isSplitRequest, isTargetAnswer } from '../split/split-wire-check.js';

export interface ShardGroupsOptions {
  readonly store: NodeStore;
  readonly selfId: string;
  readonly logger: Logger;
  /** Length of a Raft tick. */
  readonly tickMs: number;
  /** Mean time without a leader before a follower campaigns. */
  readonly electionTimeoutMs: number;
  /** A group's leader changed as this node sees it. */
  readonly onLeaderChange: (shardId: string) => void;
  /** This node stopped running a replica whose log or data failed to decode or apply. */
  readonly onRefused: (shardId: string) => void;
  /** What split source drivers need from the node beyond the groups: the buffer, the pilot, redirects. */
  readonly splits: Pick<SplitSourceHost, 'buffer' | 'report' | 'movedToTarget' | 'observer'>;
  /** Runs a key command another node forwarded, as a client's here; never throws. */
  readonly serveForwarded: (argv: readonly Buffer[], protocol: ProtocolVersion) => Promise<Reply>;
  /** Sizes and timeouts; SHARD_GROUP_LIMITS_DEFAULT when absent (the simulation scales them down). */
  readonly limits?: ShardGroupLimits;
  /**
   * Wraps each replica's state machine before its group starts, to watch every apply and restore (the
   * simulation's checkers); the process passes none.
   */
  readonly watchMachine?: (shardId: string, machine: GroupStateMachine, appliedIndex: () => number) => GroupStateMachine;
}

/** The sizes and timeouts of a node's shard groups. */
export interface ShardGroupLimits {
  /** Proposals and reads unanswered this long fail with an unknown outcome. */
  readonly requestTimeoutMs: number;
  readonly snapshotChunkBytes: number;
  /** A snapshot transfer idle this long is abandoned (and restarted by Raft). */
  readonly snapshotIdleMs: number;
  readonly compactAfterEntries: number;
  readonly compactKeepEntries: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly maxInflightMsgs?: number;
  readonly maxSizePerMsgBytes?: number;
  /** How long a learner no longer wanted may wait to learn of its removal before it drops its copy. */
  readonly unwantedGraceMs: number;
}

export const SHARD_GROUP_LIMITS_DEFAULT: ShardGroupLimits = {
  requestTimeoutMs: 10_000,
  snapshotChunkBytes: 1024 * 1024,
  snapshotIdleMs: 30_000,
  compactAfterEntries: 20_000,
  compactKeepEntries: 5_000,
  maxUncommittedEntriesBytes: 256 * 1024 * 1024,
  unwantedGraceMs: 60_000,
};

/**
 * How long a forwarded command may take on the serving node beyond that node's own bound on a write (the
 * request timeout) before its outcome is called unknown, so the serving node's answer comes first when it has one.
 */
export const FORWARD_MARGIN_MS = 1_000;
/**
 * Bus requests in flight at once: split requests, and forwarded commands, of which a node serving many
 * pipelining clients on stale slot maps has many. Beyond it a forward is not sent and the client redirected.
 */
export const BUS_REQUESTS_OUTSTANDING_MAX = 16_384;

export class ShardGroups {
  readonly replicas = new Map<string, ShardReplica>();
  /** The groups' driver: the node's status views and the simulation's checkers read it. */
  readonly multiRaft: MultiRaft;
  /** This node's number: its peer id on the bus, and the Raft id of its founding replicas. */
  private readonly nodeNumber: NodeId;
  private readonly limits: ShardGroupLimits;
  private readonly stopTicks: Cancel;
  private ticks = 0;
  /** Set by close(): a drop landing after it starts nothing. */
  private closed = false;
  private view: RoutingView | undefined;
  /** When this node first saw each shard it runs no longer list it as a replica. */
  private readonly unwantedSince = new Map<string, number>();
  /** Groups whose leader is proposing an expiry batch: one at a time per shard. */
  private readonly expiring = new Set<string>();
  /** Split drivers running on this node, by source shard. */
  private readonly splitDrivers = new Map<string, Promise<void>>();
  /** The target replica that last answered as leader, by target shard. */
  private readonly targetLeaders = new Map<string, string>();
  /** Replicas stopped because their log or data failed: not started again before the node restarts. */
  private readonly refused = new Set<string>();

  /**
   * The node's groups over `bus`, on `env`'s clock and timers. The caller owns the bus: it tells the
   * groups of unreachable peers (`reportUnreachable`) and closes it after `close()`.
   */
  constructor(
    private readonly options: ShardGroupsOptions,
    private readonly env: Environment,
    private readonly bus: PeerBus,
  ) {
    this.nodeNumber = nodeNumberOf(options.selfId);
    const limits = (this.limits = options.limits ?? SHARD_GROUP_LIMITS_DEFAULT);
    const electionTicks = Math.max(3, Math.round(options.electionTimeoutMs / options.tickMs / 1.5));
    this.multiRaft = new MultiRaft(
      {
        id: this.nodeNumber,
        peerOf: nodeNumberOfReplica,
        electionTicks,
        heartbeatTicks: 1,
        random: () => env.random(),
        requestTimeoutTicks: Math.ceil(limits.requestTimeoutMs / options.tickMs),
        snapshotChunkBytes: limits.snapshotChunkBytes,
        snapshotIdleTicks: Math.ceil(limits.snapshotIdleMs / options.tickMs),
        compactAfterEntries: limits.compactAfterEntries,
        compactKeepEntries: limits.compactKeepEntries,
        maxUncommittedEntriesBytes: limits.maxUncommittedEntriesBytes,
        ...(limits.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: limits.maxInflightMsgs }),
        ...(limits.maxSizePerMsgBytes === undefined ? {} : { maxSizePerMsgBytes: limits.maxSizePerMsgBytes }),
      },
      {
        send: (to, messages) => void this.bus.send(nodeIdOf(to), 'raft', messages),
        persist: () => options.store.commitAll(),
        schedule: (fn) => env.soon(fn),
        onLeaderChange: (groupId, leaderId, role, term) => this.onLeaderChange(groupId, leaderId, role, term),
        onGroupFault: (groupId, fault) => this.refuse(groupId, fault),
        onFatal: (error) => {
          options.logger.fatal({ err: error }, 'raft persist failed: stopping, memory no longer matches disk');
          env.halt(`raft persist failed: ${String(error)}`);
        },
      },
    );
    // Checked on arrival: nothing malformed reaches multi-raft, and a bad split request is answered with an error.
    bus.on(
      'raft',
      (envelope) => {
        const from = nodeNumberOf(envelope.from);
        for (const message of envelope.payload) this.multiRaft.receive(from, message);
      },
      peerBatchCheck(this.nodeNumber),
    );
    bus.onRequest('split', (envelope) => this.onSplitRequest(envelope.payload), isSplitRequest);
    bus.onRequest('forward', (envelope) => options.serveForwarded(argvOf(envelope.payload), envelope.payload.protocol), isForwardRequest);
    this.stopTicks = env.every(options.tickMs, () => this.tick());
  }

  /** The bus found `peer` unreachable: Raft stops sending it more than a probe until it answers. */
  reportUnreachable(peer: string): void {
    if (isNodeId(peer)) this.multiRaft.reportUnreachable(nodeNumberOf(peer));
  }

  /**
   * Follows a new routing table: peers' addresses, groups to start for shards that list this node, and
   * groups to stop for shards that no longer do once the group's membership no longer has this node.
   */
  sync(view: RoutingView): void {
    const first = this.view === undefined;
    this.view = view;
    this.bus.setPeers(new Map(view.nodes.map((n) => [n.id, { host: n.host, port: n.busPort }])));
    this.startHosted(view);
    if (first) this.resumeUnlisted(view);
    this.retireUnwanted();
    this.driveSplits();
  }

  /**
   * Starts a group for each shard that lists this node and runs none here. One running under an id the
   * table no longer gives it rejoins under the new id once retireUnwanted lets the old one go.
   */
  private startHosted(view: RoutingView): void {
    for (const shard of view.hostedShards()) {
      // A copy still being deleted is started again once the deletion lands (stopGroup).
      if (this.refused.has(shard.id) || this.options.store.isDropping(shard.id) || this.multiRaft.hasGroup(shard.id)) continue;
      this.startGroup(shard, replicaIdOf(shard, this.options.selfId));
    }
  }

  // --- splits ------------------------------------------------------------------------------------------

  /** Starts a driver for each split whose source this node leads and that has none running. */
  private driveSplits(): void {
    const view = this.view;
    if (view === undefined) return;
    for (const shard of view.table.shards) {
      if (shard.split?.role !== 'source' || this.splitDrivers.has(shard.id) || !this.isLeader(shard.id)) continue;
      const driver = new SplitSource(this.splitHost(), shard).run().finally(() => this.splitDrivers.delete(shard.id));
      this.splitDrivers.set(shard.id, driver);
    }
  }

  private splitHost(): SplitSourceHost {
    const { splits, logger, selfId } = this.options;
    return {
      selfId,
      logger,
      buffer: splits.buffer,
      report: splits.report,
      movedToTarget: splits.movedToTarget,
      observer: splits.observer,
      ...splitGroupsHost(this.multiRaft, this.replicas),
      sendToTarget: (target, command) => this.sendToTarget(target, command),
      now: () => this.env.now(),
      sleep: (ms) => this.env.sleep(ms),
    };
  }

  /** The node that last answered this node's split requests as `shardId`'s leader, if any. */
  splitTargetLeader(shardId: string): string | undefined {
    return this.targetLeaders.get(shardId);
  }

  /** A split request to the target's leader: the replica that answered last, else each replica in turn. */
  private sendToTarget(target: string, command: ShardCommand | null): Promise<TargetAnswer> {
    const request: SplitRequest = { shard: target, command: command === null ? null : encodeShardCommand(command) };
    return requestTargetLeader(
      this.view?.table.shards.find((s) => s.id === target),
      this.targetLeaders.get(target),
      async (node) => (node === this.options.selfId ? this.onSplitRequest(request) : this.bus.request(node, 'split', request, SPLIT_REQUEST_TIMEOUT_MS, isTargetAnswer)),
      (node) => (node === undefined ? this.targetLeaders.delete(target) : this.targetLeaders.set(target, node)),
    );
  }

  /** Runs a key command on `node` as a client's: over the bus, or here when `node` is this node. */
  async forward(node: string, argv: readonly Buffer[], protocol: ProtocolVersion): Promise<ForwardOutcome> {
    if (node === this.options.selfId) return { kind: 'reply', reply: await this.options.serveForwarded(argv, protocol) };
    const request: ForwardRequest = { argv, protocol };
    let payload: unknown;
    try {
      payload = await this.bus.request(node, 'forward', request, this.limits.requestTimeoutMs + FORWARD_MARGIN_MS);
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      return { kind: failedForward(err.code) };
    }
    const reply = forwardedReply(payload);
    if (reply !== undefined) return { kind: 'reply', reply };
    this.options.logger.warn({ peer: node }, 'malformed reply to a forwarded command');
    return { kind: 'unknown' };
  }

  /** On a target replica: proposes what the source's leader sent (when leading the target) and answers its split state. */
  private onSplitRequest(request: SplitRequest): Promise<TargetAnswer> {
    return answerSplitRequest(splitTargetHost(this.multiRaft, this.replicas), request);
  }

  /**
   * After a restart, resumes the replicas on disk of shards that no longer list this node. One may still
   * be a member whose removal is not committed yet, and the group may need its vote to commit it (a group
   * of two voters always does): left stopped, it would stall the group for good. Running, it learns of
   * its removal and is dropped like any unwanted replica.
   */
  private resumeUnlisted(view: RoutingView): void {
    const { store } = this.options;
    for (const groupId of store.raftGroupIds()) {
      const shard = view.table.shards.find((s) => s.id === groupId);
      if (shard === undefined || this.multiRaft.hasGroup(groupId) || this.refused.has(groupId)) continue;
      // An empty log holds no vote worth keeping: nothing to resume.
      if (store.openRaftLog(groupId).lastIndex() === 0) continue;
      this.startGroup(shard, (store.getMeta(replicaIdMetaName(groupId)) as number | undefined) ?? this.nodeNumber);
    }
  }

  /**
   * Stops the replicas this node runs under an id the table no longer gives them (the shard no longer
   * lists this node, or lists it under a new replica id), once this node knows the group's membership has
   * dropped that id too and no leader speaks to it any more (shouldDropReplica: a voter, or one that
   * applied its own removal, waits to be told by a member; a learner may go after the grace, as the
   * leader that removed it stops writing to it and it never campaigns to be told). An unlisted replica's
   * data is dropped; a replica with a new id rejoins under it.
   */
  private retireUnwanted(): void {
    const view = this.view;
    if (view === undefined) return;
    const now = this.env.now();
    const { selfId } = this.options;
    for (const shardId of this.multiRaft.groupIds()) {
      const shard = view.table.shards.find((s) => s.id === shardId);
      const running = this.multiRaft.selfId(shardId)!;
      const wanted = shard?.replicas.includes(selfId) ? replicaIdOf(shard, selfId) : undefined;
      if (running === wanted) {
        this.unwantedSince.delete(shardId);
        continue;
      }
      const since = this.unwantedSince.get(shardId) ?? now;
      this.unwantedSince.set(shardId, since);
      const leaderSilentMs = (this.multiRaft.ticksSinceLeaderContact(shardId) ?? 0) * this.options.tickMs;
      const membership = this.multiRaft.ownMembership(shardId) ?? 'none';
      const unwanted = { shardExists: shard !== undefined, membership, unwantedForMs: now - since, leaderSilentMs };
      if (!shouldDropReplica(unwanted, { graceMs: this.limits.unwantedGraceMs, silenceMs: this.options.electionTimeoutMs })) {
        // A voter that hears no leader may have been removed while cut off, by members its log does not
        // list (its own peers may all have left): the replicas the table lists can tell it. They also
        // confirm a removal it applied itself, once they have applied it too.
        if (shard !== undefined && (membership === 'voter' || membership === 'removed') && leaderSilentMs > this.options.electionTimeoutMs) {
          this.multiRaft.probeMembership(shardId, shard.replicas.filter((n) => n !== selfId).map(nodeNumberOf));
        }
        continue;
      }
      this.unwantedSince.delete(shardId);
      if (shard !== undefined && wanted !== undefined) {
        // The same log and data, a new member to the group.
        this.options.logger.info({ shard: shardId, replica_id: running, new_replica_id: wanted }, 'shard replica has a new replica id: it rejoins the group as a new member');
        this.multiRaft.removeGroup(shardId);
        this.startGroup(shard, wanted);
        continue;
      }
      // Disk trouble, or the store closing meanwhile: the other shards run on.
      this.stopGroup(shardId).catch((err: unknown) =>
        this.options.logger.error({ shard: shardId, err }, 'shard replica removed, but dropping its data or starting the listed replicas again failed'),
      );
    }
  }

  /** The leader of a hosted shard as this node knows it: a node id, null while unknown, undefined if not hosted. */
  leaderOf(shardId: string): string | null | undefined {
    const leadership = this.multiRaft.leadership(shardId);
    if (leadership === undefined) return undefined;
    return leadership.leaderId === NONE ? null : nodeIdOf(leadership.leaderId);
  }

  /**
   * Shards this node leads, with the Raft term: what the pilot learns from heartbeats. Only leaderships
   * on disk: the pilot acts on a reported leader (it adds replicas, bumping the epoch), and a founder
   * that crashed before its bootstrap landed would restart empty under an epoch that no longer founds.
   */
  leaders(): { shard_id: string; term: number }[] {
    const out: { shard_id: string; term: number }[] = [];
    for (const shardId of this.multiRaft.groupIds()) {
      if (this.multiRaft.leadsDurably(shardId)) out.push({ shard_id: shardId, term: this.multiRaft.leadership(shardId)!.term });
    }
    return out;
  }

  /** Proposes a key command; resolves with its reply once committed and applied here. */
  write(shardId: string, argv: readonly Buffer[], nowMs: number): Promise<Reply> {
    return this.multiRaft.propose(shardId, encodeShardCommand({ kind: 'command', nowMs, argv })) as Promise<Reply>;
  }

  /** Resolves when a linearizable read of the shard may be served here. */
  readBarrier(shardId: string): Promise<void> {
    return this.multiRaft.readBarrier(shardId);
  }

  flush(shardId: string, nowMs: number): Promise<unknown> {
    return this.multiRaft.propose(shardId, encodeShardCommand({ kind: 'flush', nowMs }));
  }

  /** Proposes deleting keys found expired; at most one batch per shard in flight. */
  expire(shardId: string, nowMs: number, keys: readonly Buffer[]): void {
    if (keys.length === 0 || this.expiring.has(shardId)) return;
    this.expiring.add(shardId);
    this.multiRaft
      .propose(shardId, encodeShardCommand({ kind: 'expire', nowMs, keys }))
      .catch(() => undefined)
      .finally(() => this.expiring.delete(shardId));
  }

  isLeader(shardId: string): boolean {
    return this.multiRaft.leadership(shardId)?.role === 'leader';
  }

  /** Whether this node's replica of the shard has heard nothing from a leader for several heartbeats. */
  leaderSilent(shardId: string): boolean {
    return this.multiRaft.leaderSilent(shardId);
  }

  raftStatus(shardId: string) {
    return this.multiRaft.status(shardId);
  }

  /** Stops the ticks and every group; the bus is the caller's to close. */
  close(): void {
    this.closed = true;
    this.stopTicks();
    this.multiRaft.close();
  }

  private tick(): void {
    this.ticks++;
    this.multiRaft.tick();
    if (this.ticks % SPLIT_CHECK_TICKS === 0) this.driveSplits();
    if (this.ticks % MEMBERSHIP_CHECK_TICKS === 0 && this.view !== undefined) {
      for (const shard of this.view.table.shards) if (this.isLeader(shard.id)) this.reconcileMembership(shard);
      this.retireUnwanted();
    }
  }

  /** Starts this node's replica of `shard` as Raft member `replicaId`. */
  private startGroup(shard: RoutingShard, replicaId: NodeId): void {
    const { store } = this.options;
    const data = store.openShard(shard.id);
    const log = store.openRaftLog(shard.id);
    const fresh = log.lastIndex() === 0;
    // Founding members bootstrap; a member added later starts empty and gets the leader's snapshot.
    const founding = fresh && shard.epoch === 1;
    if (founding) log.bootstrap(shard.replicas.map((n) => replicaIdOf(shard, n)));
    // A restart resumes an unlisted replica under this id, which the table no longer says (none recorded: the founding one).
    const metaName = replicaIdMetaName(shard.id);
    if ((store.getMeta(metaName) ?? this.nodeNumber) !== replicaId) {
      // Disk trouble: the replica runs on; only resuming it unlisted after a restart needs the record.
      store.putMeta(metaName, replicaId).catch((err: unknown) => this.options.logger.error({ shard: shard.id, replica_id: replicaId, err }, 'recording the replica id failed'));
    }
    const replica = this.replicas.get(shard.id) ?? new ShardReplica(shard.id, data);
    this.replicas.set(shard.id, replica);
    const machine = this.options.watchMachine?.(shard.id, replica, () => log.appliedIndex()) ?? replica;
    this.multiRaft.addGroup(shard.id, log, machine, replicaId);
    // The pilot's choice of leader campaigns at once, so a new cluster serves without waiting a timeout;
    // so does the only voter of a group, which has nobody to wait for.
    const voters = this.multiRaft.confState(shard.id)?.voters ?? [];
    const alone = voters.length === 1 && voters[0] === replicaId;
    if ((founding && shard.leader === this.options.selfId) || alone) this.multiRaft.campaign(shard.id);
    this.options.logger.info({ shard: shard.id, founding, replica_id: replicaId, replicas: shard.replicas }, 'shard replica started');
  }

  private async stopGroup(shardId: string): Promise<void> {
    this.multiRaft.removeGroup(shardId);
    this.replicas.delete(shardId);
    this.options.logger.info({ shard: shardId }, 'shard replica removed: dropping its data');
    await this.options.store.dropShard(shardId);
    // The table may have listed this node for the shard again meanwhile.
    if (this.view !== undefined && !this.closed) this.startHosted(this.view);
  }

  /**
   * MultiRaft stopped the shard's group: an entry or stored value it cannot decode or apply. The replica
   * stays stopped, with its data and log on disk as of the last persist, and the node serves the others.
   */
  private refuse(shardId: string, fault: GroupFaultError): void {
    this.refused.add(shardId);
    this.replicas.delete(shardId);
    this.options.store.closeShard(shardId, 'was refused: its log or data failed to decode or apply');
    this.options.logger.error({ shard: shardId, index: fault.index, err: fault.cause }, 'shard replica refused: its log or data failed; the other replicas run on');
    this.options.onRefused(shardId);
  }

  private onLeaderChange(groupId: string, leaderId: NodeId, role: Role, term: number): void {
    this.options.logger.info({ shard: groupId, leader: leaderId === NONE ? null : nodeIdOf(leaderId), role, term }, 'shard leadership');
    this.options.onLeaderChange(groupId);
  }

  /** One step of moving the group's membership to the shard's desired replicas (leader only). */
  private reconcileMembership(shard: RoutingShard): void {
    const status = this.multiRaft.status(shard.id);
    if (status === undefined) return;
    const transferTo = shard.transferTo === undefined ? undefined : replicaIdOf(shard, shard.transferTo);
    const step = nextMembershipStep(
      status,
      shard.replicas.map((n) => replicaIdOf(shard, n)),
      status.id,
      transferTo,
    );
    if (step === undefined) return;
    if (step.kind !== 'transferLeadership') return this.proposeChange(shard.id, step.kind, step.nodeId);
    if (this.multiRaft.transferLeadership(shard.id, step.to))
      this.options.logger.info({ shard: shard.id, to: nodeIdOf(step.to), replica_id: step.to }, 'leadership transfer requested');
  }

  private proposeChange(shardId: string, type: 'addLearner' | 'promoteLearner' | 'removeNode', nodeId: NodeId): void {
    const result = this.multiRaft.proposeConfChange(shardId, { type, nodeId, context: new Uint8Array(0) });
    if (result.ok) this.options.logger.info({ shard: shardId, change: type, node: nodeIdOf(nodeId), replica_id: nodeId }, 'membership change proposed');
  }
}

/** The node metadata that keeps the replica id this node last ran a shard's replica under. */
function replicaIdMetaName(shardId: string): string {
  return `replica_id.${shardId}`;
}
