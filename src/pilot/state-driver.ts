/**
 * Drives the pilot's state machine as a Raft group (`pilot`) of one or more pilot replicas, on the same
 * multi-raft driver the nodes run their shards on: proposals are log entries (JSON commands), every replica
 * applies the committed ones with `applyPilotCommand`, and the proposer's answer is what its own apply
 * returned. Callers only see `state`, `propose` and the `onApplied` listener, as when the state lived in a
 * single process's log.
 *
 * Storage: the group's log, hard state and applied index live in a NodeStore (the process opens it under
 * `<dataDir>/raft`, as a node keeps its shards' logs); the applied PilotState is written there too, in the
 * same transaction as the applied index, whenever it changed. A snapshot for a lagging replica is the whole
 * PilotState in one chunk.
 *
 * The driver reaches for nothing itself: time, timers, randomness and the fatal stop come through an
 * Environment, the bus to the other replicas is a PeerBus the caller opens, the store is opened by the
 * caller. The process passes the real ones (server.ts); a test or the simulation passes fakes.
 *
 * Only a leader that has applied an entry of its own term proposes (`serving`): before that its state may
 * lack entries the previous leader committed. A follower's `propose` answers `notLeader` naming the leader.
 *
 * A data dir written by the single-process command log (log-store.ts, `<dataDir>/pilot`) keeps its state:
 * while the group's state is still empty, the replica that holds such a log recovers it (through the
 * caller's `recoverOldLog`) and, once it leads, proposes it as the group's first change (`import-state`)
 * before serving anything else.
 */
import type { Environment, Cancel } from '../common/environment.js';
import type { Logger } from '../common/logger.js';
import { assert, UsageError } from '../common/errors.js';
import { MultiRaft, RaftRequestError, type GroupFaultError } from '../multiraft/multi-raft.js';
import type { PeerMessage } from '../multiraft/peer-message.js';
import { peerBatchCheck } from '../multiraft/peer-message-check.js';
import { NONE, type NodeId, type Role } from '../raft/index.js';
import type { NodeStore } from '../storage/node-store.js';
import type { LmdbRaftLogStorage } from '../storage/raft-log-store.js';
import type { PeerBus } from '../transport/peer-bus.js';
import type { PilotCommand, PilotCommandResult } from './commands.js';
import type { OldPilotLog } from './log-store.js';
import { isPilotId, pilotIdOf, pilotRaftIdOf, pilotUrlOf, type PilotPeer } from './pilot-peers.js';
import { encodePilotCommand, PilotStateMachine, type AppliedPilotCommand } from './pilot-state-machine.js';
import { applyPilotCommand, INITIAL_PILOT_STATE, isInitialPilotState, type PilotState } from './state.js';

/** The Raft group id of the pilot's state. */
export const PILOT_GROUP_ID = 'pilot';

/** Proposals in flight; beyond this the driver answers `overloaded` at once. */
export const PROPOSALS_PENDING_MAX = 1024;

/** Applied log entries kept before the log is compacted (the state is stored whole, so any point will do). */
export const LOG_ENTRIES_MAX_DEFAULT = 2000;

/** A proposal no quorum committed within this long is answered `unavailable` (HTTP callers time out at 5 s). */
const REQUEST_TIMEOUT_MS = 4000;
/** A follower that stopped pulling a snapshot this long ago is sent a new one. */
const SNAPSHOT_IDLE_MS = 30_000;
/** The meta name of the stored PilotState, and its record format. */
const STATE_META_NAME = 'pilot_state';
const STATE_RECORD_FORMAT = 1;
/** Callers waiting for a leadership change at once; more are answered at once. */
const CHANGE_WAITERS_MAX = 4096;

/** The driver refuses: too many proposals are in flight. */
export interface Overloaded {
  readonly ok: false;
  readonly reason: 'overloaded';
  readonly message: string;
}

/** This replica does not lead; `leaderId`/`leaderUrl` name the leader, or are null while none is known. */
export interface NotLeader {
  readonly ok: false;
  readonly reason: 'notLeader';
  readonly message: string;
  readonly leaderId: string | null;
  readonly leaderUrl: string | null;
}

/** No answer: a new leader still catching up, or no quorum within the timeout (the outcome is unknown). */
export interface Unavailable {
  readonly ok: false;
  readonly reason: 'unavailable';
  readonly message: string;
}

/** Why the driver, not the state machine, refused a proposal. */
export type DriverRefusal = Overloaded | NotLeader | Unavailable;

/** Called on every replica after each accepted command is durable here and visible, with the states around it. */
export type AppliedListener = (command: PilotCommand, before: PilotState, after: PilotState) => void;

/** What the driver tells its owner. */
export interface PilotDriverListeners {
  readonly onApplied: AppliedListener;
  /** A snapshot from the leader replaced the whole state (this replica had fallen behind the log). */
  readonly onRestored?: (before: PilotState, after: PilotState) => void;
  /** This replica started serving as the leader (true), or stopped (false). */
  readonly onLeadership?: (serving: boolean) => void;
}

/** The pilot group's members and this replica's part in it. */
export interface PilotReplication {
  /** This replica's id; one of `peers`. */
  readonly selfId: string;
  /** Every replica of the group, this one included, the same on every replica. */
  readonly peers: readonly PilotPeer[];
  readonly tickMs: number;
  /** Mean time a follower waits without hearing from the leader before it campaigns. */
  readonly electionTimeoutMs: number;
  /** Applied entries kept before the log is compacted. */
  readonly logEntriesMax: number;
}

/** One replica as this one sees it. */
export interface PilotReplicaView {
  readonly peer: PilotPeer;
  /** Highest log index known replicated there; only the leader knows, null elsewhere. */
  readonly matchIndex: number | null;
  /** Heard from within the last election timeout; only the leader knows, null elsewhere. */
  readonly recentlyActive: boolean | null;
}

/** This replica's Raft state, for `GET /api/v1/pilot`. */
export interface PilotReplicaStatus {
  readonly selfId: string;
  readonly role: Role;
  /** Leads and has applied everything committed: the replica that answers requests. */
  readonly serving: boolean;
  readonly leader: PilotPeer | undefined;
  readonly term: number;
  readonly commitIndex: number;
  /** Index of the last entry whose effects this replica publishes. */
  readonly appliedIndex: number;
  readonly replicas: readonly PilotReplicaView[];
}

/**
 * Opens the bus to the other replicas of the group, as this replica (`peers` says where it listens);
 * `onUnreachable` hears of a replica the bus failed to reach. Not called for a group of one.
 */
export type PilotBusOpener = (onUnreachable: (peerId: string) => void) => Promise<PeerBus>;

/** What a replica's driver runs on, all opened or made by its caller. */
export interface PilotDriverEdges {
  readonly env: Environment;
  /** The replica's storage; the driver owns it from `open` on, and closes it when it closes or `open` fails. */
  readonly store: NodeStore;
  readonly openBus: PilotBusOpener;
  /** The state of a single-process pilot's command log kept with this replica, if any; asked only while the group's state is empty. */
  readonly recoverOldLog: () => Promise<OldPilotLog | undefined>;
  readonly logger: Logger;
}

interface StateRecord {
  readonly format: number;
  readonly state: PilotState;
}

/** The pilot's state as a Raft group; see the module comment. */
export class PilotStateDriver {
  private readonly multiRaft: MultiRaft;
  private readonly machine: PilotStateMachine;
  private readonly selfRaftId: NodeId;
  private readonly peers: PilotPeer[];
  private bus: PeerBus | undefined;
  private stopTicks: Cancel | undefined;
  /** Index of the last applied entry whose effects are durable and published. */
  private publishedIndex: number;
  private readonly publishWaiters: { readonly index: number; readonly resolve: () => void }[] = [];
  private readonly changeWaiters = new Set<() => void>();
  private pending = 0;
  private isServing = false;
  private pendingImport: OldPilotLog | undefined;
  private importing = false;
  /** When this replica last asked the leader to hand over, to import its old log. */
  private askedToLeadAtMs = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** Why this replica stopped: an entry or snapshot it cannot decode or apply. */
  private refusal: string | undefined;

  private readonly env: Environment;
  private readonly store: NodeStore;
  private readonly openBus: PilotBusOpener;
  private readonly logger: Logger;

  private constructor(
    private readonly replication: PilotReplication,
    edges: PilotDriverEdges,
    private readonly log: LmdbRaftLogStorage,
    recovered: PilotState,
    pendingImport: OldPilotLog | undefined,
    private readonly listeners: PilotDriverListeners,
  ) {
    this.env = edges.env;
    this.store = edges.store;
    this.openBus = edges.openBus;
    this.logger = edges.logger;
    this.selfRaftId = pilotRaftIdOf(replication.selfId);
    this.peers = [...replication.peers];
    this.machine = new PilotStateMachine(recovered);
    this.publishedIndex = log.appliedIndex();
    this.pendingImport = pendingImport;
    const { tickMs, electionTimeoutMs, logEntriesMax } = replication;
    this.multiRaft = new MultiRaft(
      {
        id: this.selfRaftId,
        // As the nodes' groups: the randomized timeout averages 1.5 election ticks.
        electionTicks: Math.max(3, Math.round(electionTimeoutMs / tickMs / 1.5)),
        heartbeatTicks: 1,
        random: () => this.env.random(),
        requestTimeoutTicks: Math.ceil(REQUEST_TIMEOUT_MS / tickMs),
        snapshotChunkBytes: 1024 * 1024,
        snapshotIdleTicks: Math.ceil(SNAPSHOT_IDLE_MS / tickMs),
        compactAfterEntries: logEntriesMax,
        compactKeepEntries: Math.max(1, Math.floor(logEntriesMax / 4)),
      },
      {
        send: (to, messages) => void this.bus?.send(pilotIdOf(to), 'raft', messages),
        persist: () => this.persist(),
        schedule: (fn) => this.env.soon(fn),
        onLeaderChange: (_groupId, leaderId, role, term) => this.onLeaderChange(leaderId, role, term),
        onGroupFault: (_groupId, fault) => this.refuse(fault),
        onFatal: (error) => {
          this.logger.fatal({ err: error }, 'pilot raft persist failed: stopping, memory no longer matches disk');
          this.env.halt('pilot raft persist failed');
        },
      },
    );
  }

  /**
   * Opens the group in `edges.store` (a founding replica bootstraps it with every peer as a voter), opens
   * the bus to the other replicas and starts the Raft ticks. Throws UsageError when the stored membership
   * is not the configured one.
   */
  static async open(replication: PilotReplication, edges: PilotDriverEdges, listeners: PilotDriverListeners): Promise<PilotStateDriver> {
    const { store, logger } = edges;
    const self = replication.peers.find((p) => p.id === replication.selfId);
    let driver: PilotStateDriver | undefined;
    try {
      assert(self !== undefined, `pilot ${replication.selfId} is one of its peers`);
      const log = store.openRaftLog(PILOT_GROUP_ID);
      const voters = replication.peers.map((p) => pilotRaftIdOf(p.id)).sort((a, b) => a - b);
      const founding = log.lastIndex() === 0;
      if (founding) {
        log.bootstrap(voters);
      } else {
        // A group cannot change members by restarting with other peers: two groups would each elect a leader.
        const members = log.initialState().confState.voters;
        if (members.join() !== voters.join()) {
          throw new UsageError(
            `the stored pilot group has the members ${members.map(pilotIdOf).join(',')}, but the configured peers are ${voters.map(pilotIdOf).join(',')}; changing the pilot replicas is not supported`,
          );
        }
      }
      const record = store.getMeta(STATE_META_NAME) as StateRecord | undefined;
      if (record !== undefined) assert(record.format === STATE_RECORD_FORMAT, `pilot state record format ${record.format}, expected ${STATE_RECORD_FORMAT}`);
      const recovered = record?.state ?? INITIAL_PILOT_STATE;
      const pendingImport = isInitialPilotState(recovered) ? await edges.recoverOldLog() : undefined;
      if (pendingImport !== undefined) {
        logger.info(
          { path: pendingImport.path, routing_version: pendingImport.state.routingVersion },
          'found the command log of a single-process pilot: importing it once this replica leads',
        );
      }
      driver = new PilotStateDriver(replication, edges, log, recovered, pendingImport, listeners);
      await driver.start(self, founding);
      return driver;
    } catch (error) {
      if (driver !== undefined) await driver.close();
      else await store.close();
      throw error;
    }
  }

  /** The state after the last command durable here (on every replica, the leader's state a moment ago). */
  get state(): PilotState {
    return this.machine.published;
  }

  /** Whether this replica leads and has applied everything committed: the one that proposes and answers. */
  get serving(): boolean {
    return this.isServing;
  }

  get selfId(): string {
    return this.replication.selfId;
  }

  /** Why this replica stopped serving for good (until its data is repaired), if it did. */
  get refused(): string | undefined {
    return this.refusal;
  }

  /** The leader as this replica knows it (itself included); undefined while none is known. */
  leader(): PilotPeer | undefined {
    const leaderId = this.multiRaft.leadership(PILOT_GROUP_ID)?.leaderId ?? NONE;
    return leaderId === NONE ? undefined : this.peers.find((p) => p.id === pilotIdOf(leaderId));
  }

  /** A single replica started on port 0 learns its HTTP port only once it listens. */
  setOwnHttpPort(port: number): void {
    const index = this.peers.findIndex((p) => p.id === this.replication.selfId);
    this.peers[index] = { ...this.peers[index]!, port };
  }

  /**
   * Proposes `command` through the group and answers what the state machine's apply returned, once the
   * command is durable here and visible in `state`. Answers a refusal at once when this replica does not
   * serve. A command that would change nothing gets its answer without a log entry when the answer cannot
   * depend on an entry still in flight. Rejects only if the disk write fails.
   */
  propose<C extends PilotCommand>(command: C): Promise<PilotCommandResult<C> | DriverRefusal> {
    if (!this.isServing) return Promise.resolve(this.notServing(this.multiRaft.leadership(PILOT_GROUP_ID)?.leaderId ?? NONE));
    const published = this.machine.published;
    if (this.pending === 0 && this.publishedIndex === this.log.lastIndex()) {
      const { state, result } = applyPilotCommand(published, command);
      if (state === published) return Promise.resolve(result);
    }
    return this.proposeToGroup(command);
  }

  /** Resolves at the next change of leadership or serving state, or after `timeoutMs`. */
  waitForChange(timeoutMs: number): Promise<void> {
    if (this.closed || this.changeWaiters.size >= CHANGE_WAITERS_MAX) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        cancelTimer();
        this.changeWaiters.delete(done);
        resolve();
      };
      const cancelTimer = this.env.after(timeoutMs, done);
      this.changeWaiters.add(done);
    });
  }

  /** This replica's view of the group. */
  status(): PilotReplicaStatus {
    const status = this.multiRaft.status(PILOT_GROUP_ID);
    const progress = status?.progress ?? null;
    return {
      selfId: this.replication.selfId,
      role: status?.role ?? 'follower',
      serving: this.isServing,
      leader: this.leader(),
      term: status?.term ?? 0,
      commitIndex: status?.commit ?? 0,
      appliedIndex: this.publishedIndex,
      replicas: this.peers.map((peer) => {
        const member = progress?.get(pilotRaftIdOf(peer.id));
        const self = peer.id === this.replication.selfId;
        return {
          peer,
          matchIndex: progress === null ? null : self ? (status?.lastIndex ?? 0) : (member?.match ?? 0),
          recentlyActive: progress === null ? null : self || (member?.recentActive ?? false),
        };
      }),
    };
  }

  /** Stops: proposals in flight fail, the bus and the store close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTicks?.();
    this.multiRaft.close();
    for (const waiter of this.publishWaiters.splice(0)) waiter.resolve();
    for (const waiter of [...this.changeWaiters]) waiter();
    await this.bus?.close();
    await this.store.close();
  }

  private async start(self: PilotPeer, founding: boolean): Promise<void> {
    const others = this.peers.filter((p) => p.id !== self.id);
    if (others.length > 0) {
      const bus = await this.openBus((peer) => {
        if (isPilotId(peer)) this.multiRaft.reportUnreachable(pilotRaftIdOf(peer));
      });
      this.bus = bus;
      bus.setPeers(new Map(others.map((p) => [p.id, { host: p.host, port: p.busPort }])));
      // Only pilot replicas speak on this bus, and every batch is checked before Raft sees it: a peer that
      // knows the secret can still be buggy.
      const pilotIds = { senderOf: (from: string): NodeId | undefined => (isPilotId(from) ? pilotRaftIdOf(from) : undefined), peerOf: (id: NodeId) => id };
      bus.on<readonly PeerMessage[]>(
        'raft',
        (envelope) => {
          const from = pilotRaftIdOf(envelope.from);
          for (const message of envelope.payload) this.multiRaft.receive(from, message);
        },
        peerBatchCheck(this.selfRaftId, pilotIds),
      );
      bus.on('pilot', (envelope) => this.onPeerRequest(envelope.from, envelope.payload));
    }
    this.multiRaft.addGroup(PILOT_GROUP_ID, this.log, this.machine);
    // The only voter has nobody to wait for; a replica with an old log to import should lead, so it asks first.
    if (others.length === 0 || (founding && this.pendingImport !== undefined)) this.multiRaft.campaign(PILOT_GROUP_ID);
    this.stopTicks = this.env.every(this.replication.tickMs, () => {
      this.multiRaft.tick();
      this.askToLeadIfImporting();
    });
  }

  private async proposeToGroup<C extends PilotCommand>(command: C): Promise<PilotCommandResult<C> | DriverRefusal> {
    if (this.pending >= PROPOSALS_PENDING_MAX) return { ok: false, reason: 'overloaded', message: `${this.pending} proposals are in flight` };
    this.pending++;
    try {
      const applied = (await this.multiRaft.propose(PILOT_GROUP_ID, encodePilotCommand(command))) as AppliedPilotCommand | undefined;
      assert(applied !== undefined, 'a pilot command entry is applied with a result');
      await this.whenPublished(applied.index);
      return applied.result as PilotCommandResult<C>;
    } catch (error) {
      if (!(error instanceof RaftRequestError)) throw error;
      switch (error.reason) {
        case 'notLeader':
        case 'dropped':
          return this.notServing(error.leaderId);
        case 'busy':
          return { ok: false, reason: 'overloaded', message: 'too many pilot commands are waiting to commit' };
        case 'timeout':
          return { ok: false, reason: 'unavailable', message: `no quorum of pilot replicas committed the command within ${REQUEST_TIMEOUT_MS} ms; its outcome is unknown` };
        case 'removed':
          return { ok: false, reason: 'unavailable', message: 'the pilot is stopping' };
      }
    } finally {
      this.pending--;
    }
  }

  private notServing(leaderId: NodeId): NotLeader | Unavailable {
    if (leaderId === this.selfRaftId) return { ok: false, reason: 'unavailable', message: `${this.selfId} was just elected and is catching up; retry shortly` };
    const leader = leaderId === NONE ? undefined : this.peers.find((p) => p.id === pilotIdOf(leaderId));
    if (leader === undefined) {
      return { ok: false, reason: 'notLeader', message: 'the pilot replicas have no leader yet (an election is under way); retry shortly', leaderId: null, leaderUrl: null };
    }
    return { ok: false, reason: 'notLeader', message: `${this.selfId} does not lead the pilot; ${leader.id} does`, leaderId: leader.id, leaderUrl: pilotUrlOf(leader) };
  }

  private whenPublished(index: number): Promise<void> {
    if (index <= this.publishedIndex || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.publishWaiters.push({ index, resolve }));
  }

  /**
   * The multi-raft driver's persist: the changed state with the log, hard state and applied index in one
   * transaction; then the state applied so far becomes visible, and the listeners hear of each change.
   */
  private async persist(): Promise<void> {
    const appliedIndex = this.log.appliedIndex();
    const applied = this.machine.applied;
    const { state, transitions } = this.machine.takeStaged();
    // Both writes start in this synchronous stretch, so lmdb-js commits them in one transaction.
    const stateWritten = state === undefined ? undefined : this.store.putMeta(STATE_META_NAME, { format: STATE_RECORD_FORMAT, state } satisfies StateRecord);
    await Promise.all([this.store.commitAll(), stateWritten]);
    if (this.closed) return;
    this.machine.publish(applied);
    this.publishedIndex = appliedIndex;
    for (const transition of transitions) {
      if (transition.kind === 'command') this.listeners.onApplied(transition.command, transition.before, transition.after);
      else this.listeners.onRestored?.(transition.before, transition.after);
    }
    for (let i = this.publishWaiters.length - 1; i >= 0; i--) {
      const waiter = this.publishWaiters[i]!;
      if (waiter.index > appliedIndex) continue;
      this.publishWaiters.splice(i, 1);
      waiter.resolve();
    }
    this.refreshServing();
    this.askToLeadIfImporting();
  }

  /**
   * The group stopped at an entry or snapshot this replica cannot decode or apply (another version wrote
   * it, or it is corrupt). Exiting would fail on the same entry at every restart: the replica stays up,
   * serves nothing, and says why. The log's writes staged since the last persist may hold part of the
   * failed apply: they are discarded, so the state on disk stays as of the last entry applied.
   */
  private refuse(fault: GroupFaultError): void {
    const at = fault.index === undefined ? 'its log or a snapshot' : `entry ${fault.index}`;
    this.refusal = `pilot replica ${this.selfId} refused ${at}: ${fault.cause instanceof Error ? fault.cause.message : String(fault.cause)}`;
    this.store.closeShard(PILOT_GROUP_ID, 'was refused: an entry or snapshot failed to decode or apply');
    this.logger.error({ index: fault.index, err: fault.cause }, `${this.refusal}; it serves nothing until its data is repaired`);
    this.setServing(false);
    this.notifyChange();
  }

  private onLeaderChange(leaderId: NodeId, role: Role, term: number): void {
    this.logger.info({ leader: leaderId === NONE ? null : pilotIdOf(leaderId), role, term }, 'pilot leadership');
    if (role !== 'leader') this.setServing(false);
    this.notifyChange();
  }

  /** Serving starts once the leader has published an entry of its own term (and imported an old log, if it had one). */
  private refreshServing(): void {
    const leadership = this.multiRaft.leadership(PILOT_GROUP_ID);
    const caughtUp = leadership !== undefined && leadership.role === 'leader' && this.log.term(this.publishedIndex) === leadership.term;
    if (caughtUp && this.pendingImport !== undefined) void this.importOldState();
    this.setServing(caughtUp && this.pendingImport === undefined);
  }

  private setServing(serving: boolean): void {
    if (serving === this.isServing) return;
    this.isServing = serving;
    this.logger.info(
      { pilot: this.selfId, term: this.multiRaft.leadership(PILOT_GROUP_ID)?.term },
      serving ? 'this pilot replica leads and serves' : 'this pilot replica stopped leading',
    );
    this.listeners.onLeadership?.(serving);
    this.notifyChange();
  }

  private notifyChange(): void {
    for (const waiter of [...this.changeWaiters]) waiter();
  }

  private async importOldState(): Promise<void> {
    const pending = this.pendingImport;
    if (this.importing || pending === undefined) return;
    this.importing = true;
    try {
      const answer = isInitialPilotState(this.machine.published)
        ? await this.proposeToGroup({ kind: 'import-state', state: pending.state })
        : ({ ok: false, reason: 'state-not-empty', message: 'the pilot group has state already' } as const);
      if (answer.ok) {
        this.logger.info(
          { path: pending.path, routing_version: answer.routingVersion, nodes: pending.state.nodes.length, shards: pending.state.shards.length },
          'imported the single-process pilot log into the pilot group',
        );
        this.pendingImport = undefined;
      } else if (answer.reason === 'state-not-empty') {
        this.logger.error({ path: pending.path }, 'the single-process pilot log was not imported: the pilot group already has a state of its own');
        this.pendingImport = undefined;
      } else {
        this.logger.warn({ reason: answer.reason }, `importing the single-process pilot log failed, retrying while this replica leads: ${answer.message}`);
      }
    } finally {
      this.importing = false;
    }
    if (!this.closed) this.refreshServing();
  }

  /**
   * A follower holding an old log to import asks the leader to hand leadership over, and again every
   * election timeout until it leads: a leader takes the ask only once it serves, a follower may hear of
   * the leader before that, and the ask may be lost.
   */
  private askToLeadIfImporting(): void {
    if (this.pendingImport === undefined || this.bus === undefined) return;
    const leadership = this.multiRaft.leadership(PILOT_GROUP_ID);
    if (leadership === undefined) return;
    if (leadership.leaderId === NONE || leadership.leaderId === this.selfRaftId) return;
    // The leader hands over only while the group's state is empty.
    if (!isInitialPilotState(this.machine.published)) return;
    const nowMs = this.env.now();
    if (nowMs - this.askedToLeadAtMs < this.replication.electionTimeoutMs) return;
    this.askedToLeadAtMs = nowMs;
    this.bus.send(pilotIdOf(leadership.leaderId), 'pilot', { t: 'lead-to-import' });
  }

  private onPeerRequest(from: string, payload: unknown): void {
    if (!isPilotId(from) || (payload as { t?: unknown } | null)?.t !== 'lead-to-import') return;
    // Only an empty group can take an import; once anything happened here, the old log would be refused anyway.
    if (!this.isServing || this.pendingImport !== undefined || !isInitialPilotState(this.machine.published)) return;
    this.logger.info({ to: from }, 'handing the pilot leadership to a replica that has a single-process log to import');
    this.multiRaft.transferLeadership(PILOT_GROUP_ID, pilotRaftIdOf(from));
  }
}
