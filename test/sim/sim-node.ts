/**
 * One incarnation of a simulated cleave node: the node's own core (node/node-core.ts: its shard groups,
 * routing view, split drivers, split buffer and command dispatcher), run on the simulation's environment:
 * - the real NodeStore over a fake LMDB whose transactions land one fsync delay later (sim-store.ts);
 * - a bus over the simulated network, with the real frame routing and payload checks (sim-bus.ts);
 * - the scheduler's virtual clock and timers and a seeded random (sim-environment.ts).
 * What is left here is what a real node's process edge does: the pilot's part (routing tables and split
 * reports go to and from the simulation's pilot), clients (each request goes to the core's dispatcher as
 * a client's), and the checkers' taps (every apply and restore, every snapshot chunk received).
 *
 * A crash ends the incarnation: its timers stop, its scheduled work is skipped, the persist in flight
 * never resolves (so nothing staged after the last fsync leaves), its clients learn nothing more, and
 * the disk's image is all that remains for the next incarnation.
 */
import { nodeNumberOf } from '../../src/common/replica-ids.js';
import type { RoutingTable } from '../../src/common/routing.js';
import { SlicedApply } from '../../src/common/sliced-apply.js';
import type { SplitReport, SplitReportResponse } from '../../src/split/types.js';
import type { GroupStateMachine, MultiRaft } from '../../src/multiraft/multi-raft.js';
import type { PeerMessage } from '../../src/multiraft/peer-message.js';
import { ClientConnection } from '../../src/node/client-connection.js';
import { NodeCore } from '../../src/node/node-core.js';
import type { ShardGroupLimits, ShardGroups } from '../../src/node/shard-groups.js';
import type { Entry, NodeId, Role } from '../../src/raft/index.js';
import type { Reply } from '../../src/resp/reply.js';
import type { ShardReplica } from '../../src/shard/shard-replica.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import type { LmdbRaftLogStorage } from '../../src/storage/raft-log-store.js';
import type { ShardSnapshotChunk, ShardSnapshotReader } from '../../src/storage/types.js';
import { seededRandom } from '../support/seeded-random.js';
import type { ClusterChecker } from './cluster-checker.js';
import type { FakeLmdbImage } from './fake-lmdb.js';
import type { Scheduler } from './scheduler.js';
import { SimBus } from './sim-bus.js';
import { simLogger } from './sim-logger.js';
import { NEVER, PauseGate, simEnvironment } from './sim-environment.js';
import type { SimNetwork } from './sim-network.js';
import { openSimStore, type SimStore } from './sim-store.js';

/** The node settings a simulation picks: the shard groups' limits scaled to a short virtual run, and the disk's speed. */
export interface SimNodeConfig extends ShardGroupLimits {
  readonly tickMs: number;
  readonly electionTimeoutMs: number;
  /** Virtual ms from a transaction's first write to its fsync, drawn per transaction. */
  readonly fsyncDelayMsMax: number;
  /** Nodes with a slow disk, and their largest fsync delay instead of `fsyncDelayMsMax`. */
  readonly slowDisks?: { readonly nodes: readonly string[]; readonly fsyncDelayMsMax: number };
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
  splitDriversStarted: number;
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
  /** A split source's leader reports to the pilot; undefined when the report or its answer was lost. */
  reportSplit(node: SimNode, report: SplitReport): Promise<SplitReportResponse | undefined>;
  trace(line: string): void;
}

/** How a client request ended at the node. */
export type ServeOutcome =
  | { readonly kind: 'reply'; readonly reply: Reply }
  /** The node crashed with the request in flight: the client's connection dropped. */
  | { readonly kind: 'crashed' };

/** What the node's log lines count, by message (see simLogger). */
const COUNTED_LOG_LINES: Readonly<Record<string, keyof SimNodeCounters>> = {
  'shard replica started': 'groupsStarted',
  'shard replica removed: dropping its data': 'groupsDropped',
  'membership change proposed': 'membershipChangesProposed',
  'leadership transfer requested': 'transfersRequested',
  'split: driving': 'splitDriversStarted',
};

/** One node incarnation; see the module comment. */
export class SimNode {
  /** The node's number: its peer id, and the Raft id of its founding replicas. */
  readonly raftId: NodeId;
  readonly core: NodeCore;
  readonly bus: SimBus;
  alive = true;
  /** Whether this incarnation runs or is stopped (see PauseGate). */
  readonly gate: PauseGate;
  /** The snapshots this incarnation restored, with the chunks it pulled for each. */
  readonly restores: { readonly shardId: string; readonly index: number; readonly chunks: number }[] = [];
  private readonly disk: SimStore;
  /**
   * Settles each client request in flight here, with when it arrived and how long the node had been
   * paused by then; a crash settles them all as 'crashed'.
   */
  private readonly pending = new Map<(outcome: ServeOutcome) => void, { readonly atMs: number; readonly stoppedMs: number; readonly isWrite: boolean }>();
  /** Snapshot chunks received per group since its last restore. */
  private readonly chunksSinceRestore = new Map<string, number>();
  /** Every client request arrives on this one connection: the dispatcher keeps no state per request. */
  private readonly connection = new ClientConnection(0, undefined as never, false, 0, () => {});
  /** The MOVED replies this node gave for slots a split moved away: clients tell them from leader redirects. */
  private readonly splitRedirects = new WeakSet<Reply>();
  /** Told of the disk's next transaction, with its fsync delay (see `onNextWrite`). */
  private nextWrite: ((fsyncDelayMs: number) => void) | undefined;
  /** Told when this process next sends a request of a kind (see `onNextRequest`). */
  private nextRequest: { readonly kind: string; readonly told: () => void } | undefined;

  constructor(
    private readonly env: SimNodeEnv,
    readonly name: string,
    image: FakeLmdbImage,
    readonly incarnation: number,
  ) {
    const { config, scheduler } = env;
    this.raftId = nodeNumberOf(name);
    const random = seededRandom(mixSeed(env.seed, this.raftId, incarnation));
    const alive = (): boolean => this.alive;
    const fail = (message: string): void => env.checker.fail(message);
    this.gate = new PauseGate(scheduler);
    const environment = simEnvironment(scheduler, random, alive, (reason) => fail(`${name} halts: ${reason}`), this.gate);
    const fsyncDelayMsMax = config.slowDisks?.nodes.includes(name) === true ? config.slowDisks.fsyncDelayMsMax : config.fsyncDelayMsMax;
    const fsyncDelayMs = (): number => {
      const delayMs = 1 + Math.floor(random() * fsyncDelayMsMax);
      const told = this.nextWrite;
      this.nextWrite = undefined;
      told?.(delayMs);
      return delayMs;
    };
    // A stopped process learns of its fsyncs when it resumes.
    this.disk = openSimStore({ timers: environment, fsyncDelayMs, image });
    const hold = (arrival: () => void): void => this.gate.run(arrival);
    this.bus = new SimBus(
      name,
      env.network,
      environment,
      alive,
      fail,
      (_from, kind, payload) => this.countChunks(kind, payload),
      hold,
      (_to, kind) => {
        const next = this.nextRequest;
        if (next?.kind !== kind) return;
        this.nextRequest = undefined;
        next.told();
      },
    );
    this.core = new NodeCore(
      {
        host: name,
        port: 0,
        requirepass: undefined,
        logger: simLogger({
          name,
          alive,
          trace: (line) => env.trace(line),
          fail,
          onMessage: (message) => {
            const counted = COUNTED_LOG_LINES[message];
            if (counted !== undefined) env.counters[counted]++;
          },
        }),
        tickMs: config.tickMs,
        electionTimeoutMs: config.electionTimeoutMs,
        limits: config,
        reportSplit: (report) => (this.alive ? env.reportSplit(this, report) : NEVER),
        onLeaderChange: (shardId) => {
          const leadership = this.multiRaft.leadership(shardId);
          if (leadership !== undefined) env.onLeaderChange(this, shardId, leadership.leaderId, leadership.role, leadership.term);
        },
        onSplitRedirect: (reply) => void this.splitRedirects.add(reply),
        watchMachine: (shardId, machine, appliedIndex) => new RecordingMachine(this, shardId, machine, appliedIndex),
      },
      environment,
      this.disk.store,
    );
    // The pilot named the node at its first join; the name is on its disk from then on.
    void this.core.setSelfId(name);
    this.core.start(this.bus);
  }

  get groups(): ShardGroups {
    return this.core.groups!;
  }

  get multiRaft(): MultiRaft {
    return this.groups.multiRaft;
  }

  get replicas(): ReadonlyMap<string, ShardReplica> {
    return this.groups.replicas;
  }

  /** Follows a routing table as a node follows the pilot's. */
  sync(table: RoutingTable): void {
    this.gate.run(() => (this.alive ? this.core.applyRouting(table) : undefined));
  }

  isLeader(shardId: string): boolean {
    return this.groups.isLeader(shardId);
  }

  /** The group's Raft log on this node (undefined if it does not run the group). */
  raftLog(shardId: string): LmdbRaftLogStorage | undefined {
    return this.multiRaft.hasGroup(shardId) ? this.disk.store.openRaftLog(shardId) : undefined;
  }

  /** Serves one client command through the node's dispatcher. */
  serve(argv: readonly Buffer[], isWrite: boolean): Promise<ServeOutcome> {
    return new Promise((resolve) => {
      const settle = (outcome: ServeOutcome): void => {
        if (this.pending.delete(settle)) resolve(outcome);
      };
      this.pending.set(settle, { atMs: this.env.scheduler.now(), stoppedMs: this.gate.stoppedMs(), isWrite });
      this.gate.run(() => {
        if (!this.alive) return;
        Promise.resolve(this.core.dispatcher.dispatch(this.connection, argv)).then(
          (reply) => settle({ kind: 'reply', reply }),
          (error: unknown) => {
            this.env.checker.fail(`${this.name}: a client request failed with ${error instanceof Error ? error.stack : String(error)}`);
            settle({ kind: 'crashed' });
          },
        );
      });
    });
  }

  /** `reply` is a redirect this node gave for a slot a split moved away. */
  isSplitRedirect(reply: Reply): boolean {
    return this.splitRedirects.has(reply);
  }

  /** Client writes in flight at this node. */
  get pendingWrites(): number {
    let writes = 0;
    for (const { isWrite } of this.pending.values()) if (isWrite) writes++;
    return writes;
  }

  /**
   * When the oldest client request in flight here arrived (undefined if none), later by the time the node
   * has been paused since: its timeouts stood still meanwhile.
   */
  oldestPendingMs(): number | undefined {
    let oldest: number | undefined;
    const stoppedMs = this.gate.stoppedMs();
    for (const request of this.pending.values()) {
      const atMs = request.atMs + stoppedMs - request.stoppedMs;
      oldest = oldest === undefined ? atMs : Math.min(oldest, atMs);
    }
    return oldest;
  }

  /**
   * Calls `told` once, when the disk starts its next transaction, with that transaction's fsync delay:
   * a crash within it finds written in memory, and maybe acknowledged, what the disk loses.
   */
  onNextWrite(told: (fsyncDelayMs: number) => void): void {
    this.nextWrite = told;
  }

  /** Calls `told` once, when this process next sends a request of `kind` to a peer (its frame has left). */
  onNextRequest(kind: string, told: () => void): void {
    this.nextRequest = { kind, told };
  }

  /** The power goes out: returns what the disk kept. */
  crash(): FakeLmdbImage {
    this.alive = false;
    for (const settle of [...this.pending.keys()]) settle({ kind: 'crashed' });
    return this.disk.crash();
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

  private countChunks(kind: string, payload: unknown): void {
    if (kind !== 'raft') return;
    for (const message of payload as readonly PeerMessage[]) {
      if (message.t !== 'snap-chunk' || !this.multiRaft.hasGroup(message.g)) continue;
      this.env.counters.snapshotChunksReceived++;
      this.chunksSinceRestore.set(message.g, (this.chunksSinceRestore.get(message.g) ?? 0) + 1);
    }
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
    private readonly machine: GroupStateMachine,
    private readonly appliedIndex: () => number,
  ) {
    this.lastApplied = appliedIndex();
  }

  apply(entry: Entry): unknown {
    if (entry.index <= this.lastApplied) {
      this.node.fail(`${this.node.name} applies ${this.shardId} entry ${entry.index} again (applied through ${this.lastApplied})`);
    }
    this.lastApplied = entry.index;
    const reply = this.machine.apply(entry);
    if (!(reply instanceof SlicedApply)) {
      this.node.onApplied(this.shardId, entry, reply as Reply);
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
    return this.machine.openSnapshot();
  }

  restore(chunks: readonly ShardSnapshotChunk[]): void {
    this.machine.restore(chunks);
    // The driver records the snapshot in the log before it restores the data.
    this.lastApplied = this.appliedIndex();
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
