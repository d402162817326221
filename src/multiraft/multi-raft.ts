/**
 * The multi-raft driver: every Raft group a node belongs to, on one tick loop and one persist loop.
 *
 * A loop turn takes the Ready of every group that has one, stages all of it — log entries, hard states,
 * snapshots and the state-machine effects of committed entries with their applied indexes — and makes
 * it durable with a single `host.persist()` (one LMDB transaction, one fsync, for all groups: group
 * commit). Only then are the turn's messages sent (batched: one `host.send` per peer per turn, so the
 * heartbeats of all groups two nodes share travel together), proposals answered and reads served.
 * A message carrying more than BATCHED_MESSAGE_BYTES_MAX of entries travels alone, after the small ones
 * of its turn.
 * Requests that arrive while a persist is in flight join the next turn, which is how batching grows
 * with load. Applying in the same transaction as the applied index means a crash never separates data
 * from the index that describes it; entries at or below the durable applied index are skipped after a
 * restart.
 *
 * No timers, sockets or disk here: time is `tick()`, I/O is the host. The node runs it on real time and
 * LMDB, the simulation on virtual time and in-memory disks.
 *
 * Snapshots are pulled: a leader answers a follower that needs a compacted entry with a MsgSnap that only
 * names a prepared snapshot (a consistent read view of the state machine taken when everything applied
 * was durable); the follower fetches the data in chunks of `snapshotChunkBytes`, then steps the MsgSnap,
 * so Raft sees a complete snapshot and no chunk ever sits in a Raft message.
 */
import type { Entry, HardState, MsgSnap, NodeId, RaftLogStorage, Ready, Role, Snapshot, SnapshotMetadata } from '../raft/index.js';
import { NONE, RawNode, type ConfChange, type ConfState, type ConfStateChange, type Status } from '../raft/index.js';
import { SlicedApply } from '../common/sliced-apply.js';
import type { ShardSnapshotChunk, ShardSnapshotReader } from '../storage/types.js';
import type { PeerMessage } from './peer-message.js';

/** What the driver writes to a group's log storage (LmdbRaftLogStorage, or the simulation's). */
export interface GroupLog extends RaftLogStorage {
  append(entries: readonly Entry[]): void;
  setHardState(hardState: HardState): void;
  getHardState(): HardState;
  setApplied(index: number): void;
  appliedIndex(): number;
  applySnapshot(snapshot: Snapshot): 'ok' | 'outOfDate';
  compact(index: number, confState: ConfState): 'ok' | 'compacted';
  setSnapshotSource(source: () => Snapshot | 'temporarilyUnavailable'): void;
}

/** A group's replicated state machine. `apply` must be deterministic: every replica runs it. */
export interface GroupStateMachine {
  /**
   * Applies a committed normal entry with data; the result answers the proposal on the proposing node.
   * A SlicedApply for an entry too large to apply at once: its slices run one per turn, and the group's
   * Ready waits for the last. Its slices' writes may become durable before the last ran (other groups
   * persist meanwhile), with the applied index still before the entry: after a crash the entry applies
   * again over them, so it must reach the same state from any part of itself.
   */
  apply(entry: Entry): unknown;
  /** A consistent view of the state; called only when every applied effect is durable. */
  openSnapshot(): ShardSnapshotReader;
  /** Replaces the whole state with a snapshot's chunks. */
  restore(chunks: readonly ShardSnapshotChunk[]): void;
}

/**
 * Ticks without a word from a leader after which a member calls its leader silent (`leaderSilent`): a
 * leader heartbeats every tick, so a few missed in a row mean it is gone, cut off or stalled.
 */
export const LEADER_SILENT_TICKS = 3;

/** Entry bytes above which a message is sent on its own, after its turn's batch of small messages. */
export const BATCHED_MESSAGE_BYTES_MAX = 1024 * 1024;

/** The driver's edges. */
export interface MultiRaftHost {
  /** Delivers a turn's messages to one peer (`config.peerOf` of their members; best effort: Raft tolerates loss). */
  send(to: NodeId, messages: readonly PeerMessage[]): void;
  /** Makes every write staged in every group's log and state machine durable, in one transaction. */
  persist(): Promise<void>;
  /** Runs `fn` soon, after the current synchronous work (setImmediate, or the simulation's scheduler). */
  schedule(fn: () => void): void;
  /** A group's leader or this member's role changed. */
  onLeaderChange?(groupId: string, leaderId: NodeId, role: Role, term: number): void;
  /** A message arrived from peer `from` for a group this node does not run (a replica being added, or one removed). */
  onUnknownGroup?(groupId: string, from: NodeId): void;
  /**
   * A group's log or state machine failed (an entry it cannot decode or apply): the driver stopped that
   * group, whose requests fail as a removed group's, and runs the others on. The host must discard the
   * group's writes staged since the last persist, which may hold part of the failed apply, and must not
   * restart the group. Without this hook a group's failure is fatal (`onFatal`).
   */
  onGroupFault?(groupId: string, fault: GroupFaultError): void;
  /** The persist failed: memory no longer matches disk, and the node must stop. */
  onFatal(error: unknown): void;
}

export interface MultiRaftConfig {
  /** This member's Raft id in a group added without one of its own. */
  readonly id: NodeId;
  /**
   * The peer (the host's address of a process) that hosts Raft member `id`; by default the id itself. A
   * node is a member of its shard groups under per-replica ids (common/replica-ids.ts), all of one peer,
   * so a turn's messages for every group two nodes share still travel in one batch.
   */
  readonly peerOf?: (id: NodeId) => NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly random: () => number;
  /** Proposals and reads not answered after this many ticks fail with an unknown outcome. */
  readonly requestTimeoutTicks: number;
  readonly snapshotChunkBytes: number;
  /** A snapshot transfer idle this long is abandoned (and restarted by Raft). */
  readonly snapshotIdleTicks: number;
  /** Compact a group's log once this many applied entries are kept... */
  readonly compactAfterEntries: number;
  /** ...keeping this many behind the applied index for followers that lag a little. */
  readonly compactKeepEntries: number;
  readonly maxInflightMsgs?: number;
  readonly maxSizePerMsgBytes?: number;
  readonly maxUncommittedEntriesBytes?: number;
}

/** Why a proposal or read failed. `timeout`: the outcome is unknown; the others: it did not happen. */
export type RaftRequestFailure = 'notLeader' | 'dropped' | 'timeout' | 'busy' | 'removed';

export class RaftRequestError extends Error {
  constructor(
    readonly reason: RaftRequestFailure,
    /** Who leads, as far as this node knows (NONE when unknown). */
    readonly leaderId: NodeId,
  ) {
    super(`raft request failed: ${reason}`);
  }
}

/** Why the driver stopped a group: `index` is the entry whose apply failed, undefined when reading the log or stepping Raft failed. */
export class GroupFaultError extends Error {
  constructor(
    readonly groupId: string,
    readonly index: number | undefined,
    cause: unknown,
  ) {
    super(`raft group ${groupId} failed${index === undefined ? '' : ` to apply entry ${index}`}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

interface Waiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
}

interface PendingProposal extends Waiter<unknown> {
  readonly term: number;
  readonly deadlineTick: number;
}

interface PendingRead extends Waiter<void> {
  readonly deadlineTick: number;
}

/** A snapshot a leader holds open for followers to pull. */
interface PreparedSnapshot {
  readonly id: number;
  readonly metadata: SnapshotMetadata;
  readonly reader: ShardSnapshotReader;
  lastUsedTick: number;
}

/** A snapshot a follower is pulling. */
interface IncomingSnapshot {
  readonly from: NodeId;
  readonly message: MsgSnap;
  readonly snap: number;
  readonly chunks: ShardSnapshotChunk[];
  cursor: Uint8Array | null;
  lastTick: number;
}

class Group {
  leaderId: NodeId = NONE;
  role: Role = 'follower';
  term = 0;
  removed = false;
  /** The tick this member last heard from a leader of the group (or led it): a leader talks to members only. */
  leaderContactTick = 0;
  /** The highest applied index at which a member said the membership no longer has this node (0: none did). */
  notMemberAt = 0;
  /** A Ready of this group is being persisted: the group's next waits for its advance. */
  outstanding = false;
  /** The hard state on disk (a Ready's may be before its advance: one whose entry applies in slices). */
  durableHardState: HardState;
  /** The log up to here is on disk as it is in memory (a one-member group commits entries before that). */
  durableLastIndex: number;
  readonly proposals = new Map<number, PendingProposal>();
  /** Reads waiting for the next ReadIndex request. */
  queuedReads: PendingRead[] = [];
  /** Reads whose ReadIndex request is out, by its context. */
  readonly readsInFlight = new Map<string, PendingRead[]>();
  /** Reads confirmed at an index, waiting for the state machine to apply it. */
  confirmedReads: { index: number; reads: PendingRead[] }[] = [];
  prepared: PreparedSnapshot | undefined;
  wantSnapshot = false;
  /** Followers pulling our snapshot: tick of their last request. */
  readonly snapshotPulls = new Map<NodeId, number>();
  incoming: IncomingSnapshot | undefined;
  /** Pulled snapshots waiting for Raft to hand them back in a Ready, by index. */
  readonly pulled = new Map<number, readonly ShardSnapshotChunk[]>();
  /**
   * The membership from each index on where it changed, oldest first, through the index Raft has applied
   * (after a restart its replay may be behind the state machine): compaction records the one in force.
   */
  confHistory: ConfStateChange[];
  /** Compaction keeps the log from this index on (a split forwarding it); undefined: no floor. */
  retainFrom: number | undefined;
  /** Work waiting for a turn boundary with nothing of the group pending (split snapshots). */
  stableWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    /** This member's Raft id in the group. */
    readonly selfId: NodeId,
    readonly raw: RawNode,
    readonly log: GroupLog,
    readonly machine: GroupStateMachine,
  ) {
    this.confHistory = [{ index: log.firstIndex() - 1, confState: log.initialState().confState }];
    this.durableLastIndex = log.lastIndex();
    this.durableHardState = log.initialState().hardState;
  }

  /** The membership in force at `index` (at or above the oldest recorded change). */
  confStateAt(index: number): ConfState {
    let found = this.confHistory[0]!.confState;
    for (const change of this.confHistory) if (change.index <= index) found = change.confState;
    return found;
  }
}

/** A Ready staged in a turn, with the answers to give once it is durable. */
interface StagedReady {
  readonly group: Group;
  readonly ready: Ready;
  readonly answers: { readonly proposal: PendingProposal; readonly result: unknown }[];
  /** An entry of the Ready being applied in slices, and the committed entries after it. */
  slicing: Slicing | undefined;
}

interface Slicing {
  readonly entry: Entry;
  readonly slices: Iterator<void, unknown, void>;
  readonly rest: readonly Entry[];
}

export class MultiRaft {
  private readonly groups = new Map<string, Group>();
  private ticks = 0;
  private turnScheduled = false;
  private nextReadContext = 1;
  private nextSnapshotId = 1;
  private closed = false;

  constructor(
    private readonly config: MultiRaftConfig,
    private readonly host: MultiRaftHost,
  ) {}

  get id(): NodeId {
    return this.config.id;
  }

  /**
   * Starts driving a group whose log and state machine are already open (bootstrapped, restored or
   * empty), as member `selfId` of it (by default `config.id`).
   */
  addGroup(groupId: string, log: GroupLog, machine: GroupStateMachine, selfId: NodeId = this.config.id): void {
    if (this.groups.has(groupId)) throw new Error(`raft group ${groupId} is already running`);
    const raw = new RawNode({
      id: selfId,
      electionTicks: this.config.electionTicks,
      heartbeatTicks: this.config.heartbeatTicks,
      storage: log,
      random: this.config.random,
      maxInflightMsgs: this.config.maxInflightMsgs ?? 256,
      maxSizePerMsgBytes: this.config.maxSizePerMsgBytes ?? 1024 * 1024,
      // Every member starts from a bootstrapped log or a leader's snapshot: an empty log lost its state.
      votesWhenEmpty: false,
      ...(this.config.maxUncommittedEntriesBytes === undefined ? {} : { maxUncommittedEntriesBytes: this.config.maxUncommittedEntriesBytes }),
    });
    const group = new Group(groupId, selfId, raw, log, machine);
    group.term = log.getHardState().term;
    group.leaderContactTick = this.ticks;
    log.setSnapshotSource(() => this.snapshotFor(group));
    this.groups.set(groupId, group);
    this.requestTurn();
  }

  /** Stops driving a group; its pending requests fail (proposals with an unknown outcome). The caller drops its storage. */
  removeGroup(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    this.groups.delete(groupId);
    group.removed = true;
    this.failAll(group, 'removed');
    group.prepared?.reader.close();
    group.prepared = undefined;
  }

  hasGroup(groupId: string): boolean {
    return this.groups.has(groupId);
  }

  /** This member's Raft id in the group; undefined for an unknown group. */
  selfId(groupId: string): NodeId | undefined {
    return this.groups.get(groupId)?.selfId;
  }

  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /** Who leads the group as far as this member knows, its role and term; undefined for an unknown group. */
  leadership(groupId: string): { leaderId: NodeId; role: Role; term: number } | undefined {
    const group = this.groups.get(groupId);
    return group === undefined ? undefined : { leaderId: group.leaderId, role: group.role, term: group.term };
  }

  /**
   * Whether this member leads the group and its leadership would survive a crash: its hard state and an
   * entry of its term are on disk. A one-member group elects itself before its log is durable, so a
   * leader reported earlier may restart with none of it (an empty log, when it had just bootstrapped).
   */
  leadsDurably(groupId: string): boolean {
    const group = this.groups.get(groupId);
    if (group === undefined || group.role !== 'leader' || group.durableHardState.term !== group.term) return false;
    const last = group.durableLastIndex;
    return last >= group.log.firstIndex() && group.log.term(last) === group.term;
  }

  /** Whether this member of the group has heard nothing from a leader for LEADER_SILENT_TICKS ticks; false for an unknown group. */
  leaderSilent(groupId: string): boolean {
    const ticks = this.ticksSinceLeaderContact(groupId);
    return ticks !== undefined && ticks >= LEADER_SILENT_TICKS;
  }

  /**
   * Ticks since this member last heard from a leader of the group, or led it; undefined for an unknown
   * group. Only members hear from a leader, so a replica that still does must not be dropped, even when
   * its own membership (a snapshot older than its addition, say) does not list it yet.
   */
  ticksSinceLeaderContact(groupId: string): number | undefined {
    const group = this.groups.get(groupId);
    return group === undefined ? undefined : this.ticks - group.leaderContactTick;
  }

  status(groupId: string): Status | undefined {
    return this.groups.get(groupId)?.raw.status();
  }

  /**
   * Runs `open` with the group's applied index at a point where every applied effect is durable and
   * nothing of the group is being persisted — the moment a consistent read snapshot of its state machine
   * can be taken (a split's snapshot). Rejects if the group goes away first.
   */
  stableState<T>(groupId: string, open: (appliedIndex: number) => T): Promise<T> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new RaftRequestError('removed', NONE));
    return new Promise((resolve, reject) => {
      group.stableWaiters.push(() => {
        try {
          resolve(open(group.log.appliedIndex()));
        } catch (error) {
          reject(error as Error);
        }
      });
      // A group with nothing in flight is stable now; otherwise the turn that completes its persist runs it.
      if (!group.outstanding) this.runStableWaiters(group);
      else this.requestTurn();
    });
  }

  /**
   * Committed entries in [lo, hi) of the group's log that are durable here, up to about `maxBytes`: []
   * when none is yet (a one-member group commits entries on append, before they are persisted, and a
   * crash then takes them back), 'compacted' when `lo` is gone.
   */
  committedEntries(groupId: string, lo: number, hi: number, maxBytes: number): readonly Entry[] | 'compacted' {
    const group = this.groups.get(groupId);
    if (group === undefined) return [];
    if (lo < group.log.firstIndex()) return 'compacted';
    const end = Math.min(hi, group.raw.status().commit + 1, group.durableLastIndex + 1);
    if (lo >= end) return [];
    const entries = group.log.entries(lo, end, maxBytes);
    if (entries === 'compacted') return entries;
    return Array.isArray(entries) ? entries : [];
  }

  /** The first index the group's log still holds. */
  firstIndex(groupId: string): number | undefined {
    return this.groups.get(groupId)?.log.firstIndex();
  }

  /** Keeps the group's log from `index` on through compactions (undefined lifts the floor). */
  retainLogFrom(groupId: string, index: number | undefined): void {
    const group = this.groups.get(groupId);
    if (group !== undefined) group.retainFrom = index;
  }

  confState(groupId: string): ConfState | undefined {
    return this.groups.get(groupId)?.raw.confState();
  }

  appliedIndex(groupId: string): number | undefined {
    return this.groups.get(groupId)?.log.appliedIndex();
  }

  /** Advances time by one tick for every group, and expires requests past their deadline. */
  tick(): void {
    this.ticks++;
    for (const group of this.groups.values()) {
      try {
        group.raw.tick();
        if (group.role === 'leader') group.leaderContactTick = this.ticks;
        this.expire(group);
        this.retrySnapshotPull(group);
        this.expireSnapshotPulls(group);
      } catch (error) {
        this.refuse(group, error);
      }
    }
    this.requestTurn();
  }

  /** The transport lost its connection to a peer: leaders probe its members instead of streaming to them. */
  reportUnreachable(peer: NodeId): void {
    for (const group of this.groups.values()) {
      if (group.role !== 'leader') continue;
      for (const member of group.raw.status().progress?.keys() ?? []) if (this.peerOf(member) === peer) group.raw.reportUnreachable(member);
    }
  }

  /** Starts an election in the group now (a founding member named leader campaigns at once). */
  campaign(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group !== undefined) {
      try {
        group.raw.campaign();
      } catch (error) {
        this.refuse(group, error);
      }
    }
    this.requestTurn();
  }

  /**
   * Handles what peer `from` sent. A Raft message for another member id than this one's in the group is
   * dropped: it was meant for an earlier (or later) incarnation of this peer's replica.
   */
  receive(from: NodeId, message: PeerMessage): void {
    const group = this.groups.get(message.g);
    if (group === undefined) {
      this.host.onUnknownGroup?.(message.g, from);
      return;
    }
    try {
      switch (message.t) {
        case 'raft': {
          const m = message.m;
          if (m.to !== group.selfId) break;
          if (m.type === 'MsgPreVote' || m.type === 'MsgVote') this.answerNonMember(group, m.from);
          if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') group.leaderContactTick = this.ticks;
          if (m.type === 'MsgSnap') this.startSnapshotPull(group, m.from, m);
          else group.raw.step(m);
          break;
        }
        case 'snap-req':
          this.serveSnapshotChunk(group, message.r, message.snap, message.cursor);
          break;
        case 'snap-chunk':
          this.onSnapshotChunk(group, message.snap, message.cursor, message.chunk);
          break;
        case 'snap-gone':
          if (group.incoming?.snap === message.snap) group.incoming = undefined;
          break;
        case 'not-member':
          if (Number.isSafeInteger(message.index)) group.notMemberAt = Math.max(group.notMemberAt, message.index);
          break;
        case 'member-probe':
          this.answerNonMember(group, message.r);
          break;
      }
    } catch (error) {
      this.refuse(group, error);
    }
    this.requestTurn();
  }

  /**
   * This node's place in the group: its membership as of the index Raft has applied, or 'none' once a
   * member that applied further said the membership there has no place for it (it was removed since).
   * 'removed' when its own applied membership has no place for it but no member that applied as far has
   * said so yet: the members left may not know the removal is committed, and one of them may need this
   * replica's vote to elect a leader that commits it for them. Undefined for an unknown group.
   */
  ownMembership(groupId: string): 'voter' | 'learner' | 'removed' | 'none' | undefined {
    const group = this.groups.get(groupId);
    if (group === undefined) return undefined;
    const { applied, confState } = group.raw.basicStatus();
    if (group.notMemberAt > applied) return 'none';
    if (confState.voters.includes(group.selfId)) return 'voter';
    if (confState.learners.includes(group.selfId)) return 'learner';
    return group.notMemberAt > 0 && group.notMemberAt === applied ? 'none' : 'removed';
  }

  /**
   * Asks the group's replicas on `peers` whether the membership they applied still has this member: one
   * that has no place for it answers 'not-member', as to a removed voter's campaign (ownMembership).
   */
  probeMembership(groupId: string, peers: readonly NodeId[]): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    for (const peer of peers) this.host.send(peer, [{ t: 'member-probe', g: groupId, r: group.selfId }]);
  }

  /**
   * Tells a candidate the membership this node applied has no place for it: a removed voter hears of its
   * removal when it campaigns. The index lets it ignore a member that lags behind it.
   */
  private answerNonMember(group: Group, from: NodeId): void {
    const { applied, confState } = group.raw.basicStatus();
    if (from === group.selfId || applied === 0 || confState.voters.includes(from) || confState.learners.includes(from)) return;
    this.host.send(this.peerOf(from), [{ t: 'not-member', g: group.id, index: applied }]);
  }

  /**
   * Proposes a command; resolves with what the state machine's `apply` returned for it once it is
   * committed, applied and durable here. Fails at once when this member does not lead.
   */
  propose(groupId: string, data: Uint8Array): Promise<unknown> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new RaftRequestError('removed', NONE));
    const result = group.raw.propose(data);
    if (!result.ok) {
      const reason: RaftRequestFailure = result.reason === 'uncommittedSizeExceeded' ? 'busy' : 'notLeader';
      return Promise.reject(new RaftRequestError(reason, result.leaderId));
    }
    this.requestTurn();
    // An earlier proposal at this index lost its entry here (a newer leader cut our log), and we lead
    // again: its entry may still live on other members and be committed by a later leader, so its
    // outcome is unknown — and it must be answered now, or it would wait forever under a replaced key.
    const displaced = group.proposals.get(result.index);
    if (displaced !== undefined) displaced.reject(new RaftRequestError('timeout', group.leaderId));
    return new Promise((resolve, reject) => {
      group.proposals.set(result.index, { term: result.term, deadlineTick: this.ticks + this.config.requestTimeoutTicks, resolve, reject });
    });
  }

  /** Proposes a membership change (leader only). Resolves once applied here. */
  proposeConfChange(groupId: string, change: ConfChange): { ok: true } | { ok: false; reason: string } {
    const group = this.groups.get(groupId);
    if (group === undefined) return { ok: false, reason: 'removed' };
    const result = group.raw.proposeConfChange(change);
    this.requestTurn();
    return result.ok ? { ok: true } : { ok: false, reason: result.reason };
  }

  transferLeadership(groupId: string, to: NodeId): boolean {
    const group = this.groups.get(groupId);
    if (group === undefined) return false;
    const result = group.raw.transferLeadership(to);
    this.requestTurn();
    return result.ok;
  }

  /**
   * Resolves when a linearizable read of the group's state machine may be served here: this member was
   * leader when the read arrived (confirmed by a quorum, ReadIndex) and has applied everything committed
   * by then. Reads that arrive together share one confirmation.
   */
  readBarrier(groupId: string): Promise<void> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new RaftRequestError('removed', NONE));
    if (group.role !== 'leader') return Promise.reject(new RaftRequestError('notLeader', group.leaderId));
    return new Promise((resolve, reject) => {
      group.queuedReads.push({ deadlineTick: this.ticks + this.config.requestTimeoutTicks, resolve, reject });
      this.requestTurn();
    });
  }

  /** Stops: every pending request fails (proposals with an unknown outcome); a turn in flight finishes its persist but sends nothing. */
  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      this.failAll(group, 'removed');
      group.prepared?.reader.close();
    }
    this.groups.clear();
  }

  private peerOf(member: NodeId): NodeId {
    return this.config.peerOf === undefined ? member : this.config.peerOf(member);
  }

  // --- the loop ----------------------------------------------------------------------------------------

  private requestTurn(): void {
    if (this.turnScheduled || this.closed) return;
    this.turnScheduled = true;
    this.host.schedule(() => this.turn());
  }

  private turn(): void {
    this.turnScheduled = false;
    if (this.closed) return;
    const staged: StagedReady[] = [];
    // Heartbeats leave now, not after this turn's persist: a persist may wait seconds behind a large write.
    const heartbeats = new Map<NodeId, PeerMessage[]>();
    for (const group of this.groups.values()) {
      try {
        this.issueReads(group);
        for (const m of group.raw.takeHeartbeats(group.durableHardState)) addToOutbox(heartbeats, this.peerOf(m.to), { t: 'raft', g: group.id, m });
        // A group whose last Ready is still being persisted waits; the others need not wait for it.
        if (group.outstanding) continue;
        // Nothing in flight: its state machine is durable as applied (a leader with only heartbeats to send has no Ready to wait for).
        if (group.wantSnapshot && group.role === 'leader') this.prepareSnapshot(group);
        if (!group.raw.hasReady()) continue;
        group.outstanding = true;
        staged.push(this.stage(group, group.raw.ready()));
      } catch (error) {
        this.refuse(group, error);
      }
    }
    if (this.closed) return;
    this.sendOutbox(heartbeats);
    if (staged.length === 0) return;
    const whole = staged.filter((s) => s.slicing === undefined);
    this.persistThenComplete(whole, staged);
    // A Ready with an entry applied in slices completes after its last slice, and the persist after it.
    for (const s of staged) if (s.slicing !== undefined) this.host.schedule(() => this.nextSlice(s));
  }

  /**
   * Persists everything staged so far, then completes `staged`; the hard states of `persisted` (`staged`
   * and any others this persist carries) are durable then. Persists land in order (each is one LMDB
   * transaction after the previous).
   */
  private persistThenComplete(staged: readonly StagedReady[], persisted: readonly StagedReady[] = staged): void {
    this.host.persist().then(
      () => {
        if (this.closed) return;
        for (const { group, ready } of persisted) if (ready.hardState !== null) group.durableHardState = ready.hardState;
        this.complete(staged);
        this.requestTurn();
      },
      (error: unknown) => {
        this.closed = true;
        this.host.onFatal(error);
      },
    );
  }

  /** Runs one slice of the entry a staged Ready applies in slices; after its last, the entries after it. */
  private nextSlice(staged: StagedReady): void {
    const { group, slicing } = staged;
    if (this.closed || group.removed || slicing === undefined) return;
    try {
      const step = slicing.slices.next();
      if (step.done !== true) {
        this.host.schedule(() => this.nextSlice(staged));
        return;
      }
      this.answer(group, slicing.entry, step.value, staged.answers, false);
      group.log.setApplied(slicing.entry.index);
      // Every answer waits for the persist: the entries' effects are staged, not durable.
      staged.slicing = this.applyCommitted(group, slicing.rest, 0, staged.answers).slicing;
    } catch (error) {
      this.refuse(group, error instanceof GroupFaultError ? error : new GroupFaultError(group.id, slicing.entry.index, error));
      return;
    }
    if (staged.slicing !== undefined) this.host.schedule(() => this.nextSlice(staged));
    else this.persistThenComplete([staged]);
  }

  /** Writes a Ready into the group's storage and state machine (durable at the next persist). */
  private stage(group: Group, ready: Ready): StagedReady {
    const answers: StagedReady['answers'][number][] = [];
    const termBefore = group.term;
    if (ready.hardState !== null) group.term = ready.hardState.term;
    if (ready.softState !== null) this.onSoftState(group, ready.softState.leaderId, ready.softState.role);
    else if (group.term !== termBefore) this.host.onLeaderChange?.(group.id, group.leaderId, group.role, group.term);
    if (ready.snapshot !== null) {
      const index = ready.snapshot.metadata.index;
      const chunks = group.pulled.get(index);
      group.pulled.clear();
      if (chunks === undefined) throw new Error(`raft group ${group.id}: snapshot ${index} arrived without its data`);
      group.log.applySnapshot(ready.snapshot);
      group.durableLastIndex = Math.min(group.durableLastIndex, index);
      group.machine.restore(chunks);
      // Proposals at or below the snapshot were either in it or overwritten: which, this node cannot tell.
      for (const [index_, proposal] of group.proposals) {
        if (index_ <= index) {
          group.proposals.delete(index_);
          proposal.reject(new RaftRequestError('timeout', group.leaderId));
        }
      }
    }
    group.log.append(ready.entries);
    // Entries from the first appended on replace or extend the durable log: not durable until the persist.
    if (ready.entries.length > 0) group.durableLastIndex = Math.min(group.durableLastIndex, ready.entries[0]!.index - 1);
    if (ready.hardState !== null) group.log.setHardState(ready.hardState);
    // An entry persisted by an earlier turn and committed is on a quorum's disks: its proposer may hear
    // at once. One in this Ready's own entries (a single-member group commits on append) waits for the persist.
    const firstUnpersisted = ready.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    const { appliedUnpersisted, slicing } = this.applyCommitted(group, ready.committedEntries, firstUnpersisted, answers);
    // A confirmed read needs no persist: it waits only for the state machine to reach its index. Unless
    // this Ready applied entries of its own (a single-member group commits on append): until the persist,
    // the state machine holds effects a crash would take back, and a read must not see them. Nor while an
    // entry applies in slices: a read between two would see part of it.
    for (const state of ready.readStates) {
      const context = Buffer.from(state.context).toString('latin1');
      const reads = group.readsInFlight.get(context);
      if (reads === undefined) continue;
      group.readsInFlight.delete(context);
      group.confirmedReads.push({ index: state.index, reads });
    }
    if (!appliedUnpersisted && slicing === undefined) this.serveConfirmedReads(group);
    return { group, ready, answers, slicing };
  }

  /**
   * Applies committed entries in order, up to one that applies in slices: that one and the entries after
   * it are returned. Proposals of entries below `firstUnpersisted` hear at once, the others in `answers`.
   */
  private applyCommitted(
    group: Group,
    entries: readonly Entry[],
    firstUnpersisted: number,
    answers: StagedReady['answers'],
  ): { appliedUnpersisted: boolean; slicing: Slicing | undefined } {
    let appliedUnpersisted = false;
    for (const [i, entry] of entries.entries()) {
      // After a restart Raft hands back entries the durable state already holds.
      if (entry.index <= group.log.appliedIndex()) continue;
      if (entry.index >= firstUnpersisted) appliedUnpersisted = true;
      const result = applyEntry(group, entry);
      if (result instanceof SlicedApply) {
        // Committed and under way: its outcome is known, however long the slices take, so its proposer waits for it.
        const proposal = group.proposals.get(entry.index);
        if (proposal !== undefined) group.proposals.set(entry.index, { ...proposal, deadlineTick: Number.POSITIVE_INFINITY });
        return { appliedUnpersisted, slicing: { entry, slices: result.slices, rest: entries.slice(i + 1) } };
      }
      this.answer(group, entry, result, answers, entry.index < firstUnpersisted);
      group.log.setApplied(entry.index);
    }
    return { appliedUnpersisted, slicing: undefined };
  }

  /** Answers the proposal of an applied entry, if this node made it: `now`, or after the persist through `answers`. */
  private answer(group: Group, entry: Entry, result: unknown, answers: StagedReady['answers'], now: boolean): void {
    const proposal = group.proposals.get(entry.index);
    if (proposal === undefined) return;
    group.proposals.delete(entry.index);
    // Another term's entry at our index: ours was overwritten, so it never took effect.
    if (proposal.term !== entry.term) proposal.reject(new RaftRequestError('dropped', group.leaderId));
    else if (now) proposal.resolve(result);
    else answers.push({ proposal, result });
  }

  /** After the persist: send, acknowledge, answer, serve reads, compact, prepare snapshots. */
  private complete(staged: readonly StagedReady[]): void {
    const outbox = new Map<NodeId, PeerMessage[]>();
    for (const { group, ready, answers } of staged) {
      group.outstanding = false;
      if (group.removed) continue;
      try {
        // One Ready of a group at a time: everything its log holds now was in this persist.
        group.durableLastIndex = group.log.lastIndex();
        for (const m of ready.messages) {
          addToOutbox(outbox, this.peerOf(m.to), { t: 'raft', g: group.id, m });
          if (m.type === 'MsgSnap') group.snapshotPulls.set(m.to, this.ticks);
        }
        const confChanges = group.raw.advance(ready);
        if (ready.snapshot !== null) group.confHistory = [{ index: ready.snapshot.metadata.index, confState: ready.snapshot.metadata.confState }];
        group.confHistory.push(...confChanges);
        for (const { proposal, result } of answers) proposal.resolve(result);
        this.serveConfirmedReads(group);
        this.runStableWaiters(group);
        this.compact(group);
        if (group.wantSnapshot && group.role === 'leader') this.prepareSnapshot(group);
      } catch (error) {
        this.refuse(group, error);
      }
    }
    this.sendOutbox(outbox);
  }

  /**
   * Sends each peer its small messages in one batch, then, once every peer has its batch, each large
   * message alone: a 100 MB MsgApp neither delays the heartbeats of other groups nor shares a frame.
   */
  private sendOutbox(outbox: ReadonlyMap<NodeId, readonly PeerMessage[]>): void {
    const large: [NodeId, PeerMessage][] = [];
    for (const [to, messages] of outbox) {
      const small = messages.filter((message) => {
        if (entryBytesOf(message) <= BATCHED_MESSAGE_BYTES_MAX) return true;
        large.push([to, message]);
        return false;
      });
      if (small.length > 0) this.host.send(to, small);
    }
    for (const [to, message] of large) this.host.send(to, [message]);
  }

  /** Stops a group whose log or state machine failed and tells the host; the other groups run on. */
  private refuse(group: Group, error: unknown): void {
    const fault = error instanceof GroupFaultError ? error : new GroupFaultError(group.id, undefined, error);
    if (this.host.onGroupFault === undefined) {
      this.closed = true;
      this.host.onFatal(fault);
      return;
    }
    this.removeGroup(group.id);
    this.host.onGroupFault(group.id, fault);
  }

  private onSoftState(group: Group, leaderId: NodeId, role: Role): void {
    const wasLeader = group.role === 'leader';
    group.leaderId = leaderId;
    group.role = role;
    if (wasLeader && role !== 'leader') {
      // Reads need a leader; proposals stay, since the new leader may still commit them.
      this.failReads(group, 'notLeader');
      group.prepared?.reader.close();
      group.prepared = undefined;
      group.snapshotPulls.clear();
    }
    this.host.onLeaderChange?.(group.id, leaderId, role, group.term);
  }

  private issueReads(group: Group): void {
    if (group.queuedReads.length === 0) return;
    const reads = group.queuedReads;
    group.queuedReads = [];
    const context = String(this.nextReadContext++);
    const result = group.raw.readIndex(Buffer.from(context, 'latin1'));
    if (!result.ok) {
      const reason: RaftRequestFailure = result.reason === 'tooManyPendingReads' ? 'busy' : 'notLeader';
      for (const read of reads) read.reject(new RaftRequestError(reason, result.leaderId));
      return;
    }
    group.readsInFlight.set(context, reads);
  }

  private serveConfirmedReads(group: Group): void {
    const applied = group.log.appliedIndex();
    const waiting: { index: number; reads: PendingRead[] }[] = [];
    for (const confirmed of group.confirmedReads) {
      if (confirmed.index <= applied) for (const read of confirmed.reads) read.resolve();
      else waiting.push(confirmed);
    }
    group.confirmedReads = waiting;
  }

  private compact(group: Group): void {
    const first = group.log.firstIndex();
    if (group.log.appliedIndex() - first + 1 < this.config.compactAfterEntries) return;
    // Not past what Raft has applied (after a restart its replay may be behind): beyond it the membership is not known yet.
    const applied = Math.min(group.log.appliedIndex(), group.raw.basicStatus().applied);
    const index = Math.min(applied - this.config.compactKeepEntries, (group.retainFrom ?? Number.POSITIVE_INFINITY) - 1);
    if (index < first) return;
    group.log.compact(index, group.confStateAt(index));
    group.confHistory = group.confHistory.filter((_, i, all) => i === all.length - 1 || all[i + 1]!.index > index);
  }

  private runStableWaiters(group: Group): void {
    const waiters = group.stableWaiters;
    group.stableWaiters = [];
    for (const run of waiters) run();
  }

  // --- requests that outlive their deadline -----------------------------------------------------------

  private expire(group: Group): void {
    for (const [index, proposal] of group.proposals) {
      if (proposal.deadlineTick > this.ticks) continue;
      group.proposals.delete(index);
      proposal.reject(new RaftRequestError('timeout', group.leaderId));
    }
    for (const [context, reads] of group.readsInFlight) {
      if (reads[0]!.deadlineTick > this.ticks) continue;
      group.readsInFlight.delete(context);
      for (const read of reads) read.reject(new RaftRequestError('timeout', group.leaderId));
    }
  }

  private failReads(group: Group, reason: RaftRequestFailure): void {
    const error = new RaftRequestError(reason, group.leaderId);
    for (const read of group.queuedReads) read.reject(error);
    for (const reads of group.readsInFlight.values()) for (const read of reads) read.reject(error);
    for (const { reads } of group.confirmedReads) for (const read of reads) read.reject(error);
    group.queuedReads = [];
    group.readsInFlight.clear();
    group.confirmedReads = [];
  }

  /** Fails every request of a group this member stops running: reads with `reason`, proposals as unknown. */
  private failAll(group: Group, reason: RaftRequestFailure): void {
    this.failReads(group, reason);
    // A proposal in flight may sit in other members' logs and be committed without us (a removed leader
    // drops its group as soon as it applies its removal): whether it took effect, nobody here can tell.
    const error = new RaftRequestError('timeout', group.leaderId);
    for (const proposal of group.proposals.values()) proposal.reject(error);
    group.proposals.clear();
  }

  // --- snapshots ---------------------------------------------------------------------------------------

  /** Raft asks for a snapshot to send: the prepared one if still usable, else one is prepared at the next turn with nothing in flight. */
  private snapshotFor(group: Group): Snapshot | 'temporarilyUnavailable' {
    const prepared = group.prepared;
    if (prepared !== undefined && prepared.metadata.index >= group.log.firstIndex() - 1) {
      prepared.lastUsedTick = this.ticks;
      return { metadata: prepared.metadata, data: encodeSnapshotId(prepared.id) };
    }
    group.wantSnapshot = true;
    this.requestTurn();
    return 'temporarilyUnavailable';
  }

  private prepareSnapshot(group: Group): void {
    const index = group.log.appliedIndex();
    // The membership is Raft's as of what it has applied: wait until that is the state machine's index
    // (after a restart Raft replays entries the state machine already holds; the replay's next Ready retries).
    if (group.raw.basicStatus().applied < index) return;
    group.wantSnapshot = false;
    group.prepared?.reader.close();
    const term = group.log.term(index);
    if (typeof term !== 'number') return;
    group.prepared = {
      id: this.nextSnapshotId++,
      metadata: { index, term, confState: group.raw.confState() },
      reader: group.machine.openSnapshot(),
      lastUsedTick: this.ticks,
    };
  }

  private serveSnapshotChunk(group: Group, from: NodeId, snap: number, cursor: Uint8Array | null): void {
    const prepared = group.prepared;
    if (prepared === undefined || prepared.id !== snap) {
      this.host.send(this.peerOf(from), [{ t: 'snap-gone', g: group.id, snap }]);
      return;
    }
    prepared.lastUsedTick = this.ticks;
    const chunk = prepared.reader.chunk(cursor, this.config.snapshotChunkBytes);
    if (chunk.next === null) {
      group.snapshotPulls.delete(from);
      // The snapshot is delivered (etcd's SnapshotFinish): without this the leader waits in snapshot state
      // for the follower's MsgAppResp alone, and if that one is lost it never sends the follower anything again.
      group.raw.reportSnapshot(from, true);
    } else {
      group.snapshotPulls.set(from, this.ticks);
    }
    this.host.send(this.peerOf(from), [{ t: 'snap-chunk', g: group.id, snap, cursor, chunk }]);
  }

  private startSnapshotPull(group: Group, from: NodeId, message: MsgSnap): void {
    const snap = decodeSnapshotId(message.snapshot.data);
    if (group.incoming?.snap === snap) return;
    group.incoming = { from, message, snap, chunks: [], cursor: null, lastTick: this.ticks };
    this.host.send(this.peerOf(from), [{ t: 'snap-req', g: group.id, r: group.selfId, snap, cursor: null }]);
  }

  private onSnapshotChunk(group: Group, snap: number, cursor: Uint8Array | null, chunk: ShardSnapshotChunk): void {
    const incoming = group.incoming;
    if (incoming === undefined || incoming.snap !== snap || !sameCursor(incoming.cursor, cursor)) return;
    incoming.chunks.push(chunk);
    incoming.cursor = chunk.next;
    incoming.lastTick = this.ticks;
    if (chunk.next !== null) {
      this.host.send(this.peerOf(incoming.from), [{ t: 'snap-req', g: group.id, r: group.selfId, snap, cursor: chunk.next }]);
      return;
    }
    group.incoming = undefined;
    group.pulled.set(incoming.message.snapshot.metadata.index, incoming.chunks);
    group.raw.step(incoming.message);
  }

  /** A lost request or chunk: ask again for the chunk we are missing. */
  private retrySnapshotPull(group: Group): void {
    const incoming = group.incoming;
    if (incoming === undefined || this.ticks - incoming.lastTick < this.config.heartbeatTicks * 3) return;
    if (this.ticks - incoming.lastTick > this.config.snapshotIdleTicks) {
      group.incoming = undefined;
      return;
    }
    this.host.send(this.peerOf(incoming.from), [{ t: 'snap-req', g: group.id, r: group.selfId, snap: incoming.snap, cursor: incoming.cursor }]);
  }

  /** A follower that stopped pulling: tell Raft the snapshot failed so it sends another. */
  private expireSnapshotPulls(group: Group): void {
    for (const [follower, lastTick] of group.snapshotPulls) {
      if (this.ticks - lastTick <= this.config.snapshotIdleTicks) continue;
      group.snapshotPulls.delete(follower);
      group.raw.reportSnapshot(follower, false);
    }
    const prepared = group.prepared;
    if (prepared !== undefined && group.snapshotPulls.size === 0 && this.ticks - prepared.lastUsedTick > this.config.snapshotIdleTicks) {
      prepared.reader.close();
      group.prepared = undefined;
    }
  }
}

/** Applies a committed entry that carries a command; a failure names the entry. */
function applyEntry(group: Group, entry: Entry): unknown {
  if (entry.type !== 'normal' || entry.data.length === 0) return undefined;
  try {
    return group.machine.apply(entry);
  } catch (cause) {
    throw new GroupFaultError(group.id, entry.index, cause);
  }
}

/** Adds a message for the node `peer` to a turn's outbox. */
function addToOutbox(outbox: Map<NodeId, PeerMessage[]>, peer: NodeId, message: PeerMessage & { t: 'raft' }): void {
  let batch = outbox.get(peer);
  if (batch === undefined) outbox.set(peer, (batch = []));
  batch.push(message);
}

/** Bytes of log entries a message carries. */
function entryBytesOf(message: PeerMessage): number {
  if (message.t !== 'raft' || message.m.type !== 'MsgApp') return 0;
  let bytes = 0;
  for (const entry of message.m.entries) bytes += entry.data.length;
  return bytes;
}

function encodeSnapshotId(id: number): Uint8Array {
  return Buffer.from(String(id), 'latin1');
}

function decodeSnapshotId(data: Uint8Array): number {
  return Number(Buffer.from(data).toString('latin1'));
}

function sameCursor(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return Buffer.from(a).equals(Buffer.from(b));
}
