/**
 * A whole cleave cluster in one process on virtual time: N nodes, each the node's own core (shard groups,
 * split drivers, dispatcher) over the real NodeStore on a fake LMDB (sim-node.ts), talking through a
 * SimNetwork that loses, duplicates, delays, reorders, partitions and clogs messages; the shipped pilot,
 * one or three replicas that crash and restart like the nodes (sim-pilot.ts), which owns the routing table
 * (desired replicas, leader reports, leadership transfers, split tasks) and which each node heartbeats,
 * reports splits to and long-polls for the table (sim-pilot-link.ts); clients running SET/GET/INCR/DEL
 * through the nodes (sim-client.ts); and checkers — election safety and state machine safety online
 * (cluster-checker.ts), linearizability of the client history, lost writes, and convergence of every
 * member at the end.
 *
 * `ClusterSim` is the cluster, with the levers a scenario pulls (crash, restart, partition, replicas,
 * transfers, clients). `runSimulation` is one seeded run: the seed picks the cluster's shape (3 or 5
 * nodes, 2–4 shards of 1, 3 or 5 replicas, a spare node when membership changes, 1 or 3 pilot replicas),
 * the limits (small compaction thresholds and snapshot chunks in some seeds, so snapshots are pulled in
 * many chunks), the network's faults and the clients; then a safety phase under a fault plan (partitions,
 * swizzle-clogs, crashes, leader crashes, membership changes, splits, crashes of the pilot's leader), and a
 * liveness phase (faults quiesced, every node and pilot replica up) in which every group must elect a
 * leader, every client command finish, and every member converge to the same applied index, membership and
 * data within a bounded virtual time, then again after each node in turn restarts from its disk.
 * Everything random comes from the seed and everything timed from the scheduler, so a seed replays
 * exactly: a failure prints `npm run sim -- --seed N`.
 */
import { createHash } from 'node:crypto';
import type { RoutingShard, RoutingTable, SplitParams } from '../../src/common/routing.js';
import { keyHashSlot, SLOT_COUNT } from '../../src/common/slots.js';
import { SPLIT_PARAMS_DEFAULT, type SplitReport, type SplitReportResponse } from '../../src/split/types.js';
import { isFinalStatus } from '../../src/split/phases.js';
import type { SplitTask } from '../../src/pilot/split-tasks.js';
import { LOG_ENTRIES_MAX_DEFAULT } from '../../src/pilot/state-driver.js';
import { DEFAULT_KEYSPACE, routingTable, type PilotState } from '../../src/pilot/state.js';
import { nodeIdOf } from '../../src/multiraft/peer-message.js';
import { replicaIdOf } from '../../src/common/replica-ids.js';
import { NONE, type NodeId, type Role } from '../../src/raft/index.js';
import type { StoredValue } from '../../src/storage/types.js';
import { seededRandom } from '../support/seeded-random.js';
import { ClusterChecker } from './cluster-checker.js';
import { checkLinearizability, checkLostWrites, describeOperation, type RegisterOperation } from './linearizability.js';
import { Scheduler, type EventId } from './scheduler.js';
import { SimClient, type ClientCounters, type ClientEnv, type ClientOptions, type ShardKeys } from './sim-client.js';
import { faultPlan, SimNetwork, type FaultStep, type SimNetworkOptions } from './sim-network.js';
import type { ShardReplica } from '../../src/shard/shard-replica.js';
import { FORWARD_MARGIN_MS } from '../../src/node/shard-groups.js';
import { SimNode, type SimNodeConfig, type SimNodeCounters, type SimNodeEnv } from './sim-node.js';
import { emptyFakeLmdbImage, type FakeLmdbImage } from './fake-lmdb.js';
import { SimPilotGroup } from './sim-pilot.js';
import { SimPilotLink, type SimPilotLinkEnv } from './sim-pilot-link.js';
import { appliedIndexes } from './sim-store.js';

/** The cluster a simulation builds. */
export interface ClusterSimOptions {
  readonly seed: number;
  /** Nodes node1..nodeN; shards are placed on the first ones, the rest are spares. */
  readonly nodeCount: number;
  /** Each shard's founding replicas; the first is the leader the pilot names. */
  readonly shardReplicas: readonly (readonly string[])[];
  readonly node: SimNodeConfig;
  readonly network: SimNetworkOptions;
  readonly clients: number;
  readonly client: ClientOptions;
  readonly registerKeysPerShard: number;
  readonly counterKeysPerShard: number;
  /** A routing table change reaches each node within [0, routingDelayMsMax] of its long poll's answer. */
  readonly routingDelayMsMax: number;
  /** The pilot group: its replicas, and the applied entries its log keeps before it compacts. */
  readonly pilot: { readonly replicas: number; readonly logEntriesMax: number };
  /** The parameters split tasks run with (seed 000's, scaled to a short virtual run). */
  readonly splitParams?: SplitParams;
  /** Receives every trace line as it happens (--verbose). */
  readonly trace?: (line: string) => void;
}

/** A failure of a checker or of the run itself; the message says what and where. */
export class SimFailure extends Error {
  override readonly name = 'SimFailure';
}

/** Trace lines kept for a failure report. */
const TRACE_LINES_MAX = 300;
/** Virtual ms between checks while waiting for a condition. */
const POLL_MS = 50;
/** Attempts of a final read whose outcome stayed unknown (a read of unknown outcome changes nothing). */
const FINAL_READ_ATTEMPTS_MAX = 5;
/** Search steps per key of the linearizability checker before it falls back to the lost-write check. */
const LINEARIZABILITY_STEPS_MAX = 300_000;
/** The pilot group's Raft tick and election timeout, scaled to a short virtual run as the nodes' are. */
const PILOT_TICK_MS = 20;
const PILOT_ELECTION_TIMEOUT_MS = 300;
/** A node the pilot does not hear from for this long is down (its events only; nothing here acts on it). */
const PILOT_NODE_TIMEOUT_MS = 1_000;
/** Virtual ms the pilot may take at the start to elect a leader and take the simulation's cluster. */
const PILOT_READY_MS = 10_000;

/** The simulated cluster; see the module comment. */
export class ClusterSim implements SimNodeEnv, ClientEnv {
  readonly seed: number;
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork<Buffer>;
  readonly checker = new ClusterChecker();
  readonly config: SimNodeConfig;
  readonly counters: SimNodeCounters = {
    snapshotChunksReceived: 0,
    snapshotsRestored: 0,
    snapshotChunksMax: 0,
    membershipChangesProposed: 0,
    transfersRequested: 0,
    groupsStarted: 0,
    groupsDropped: 0,
    splitDriversStarted: 0,
  };
  readonly splitCounters = { created: 0, refused: 0, cancelRequests: 0, reportsLost: 0, pilotOutages: 0 };
  readonly clientCounters: ClientCounters = { ok: 0, unknown: 0, gaveUp: 0, redirects: 0, retries: 0 };
  readonly faultCounters = { crashes: 0, restarts: 0 };
  readonly history: RegisterOperation[] = [];
  readonly keys: ShardKeys[];
  readonly clients: SimClient[] = [];
  /** The simulation's own choices (pilot actions, scenario timing), apart from the nodes' and the network's. */
  readonly random: () => number;
  /** The pilot's replicas, which own the nodes, the routing table's shards and the split tasks. */
  readonly pilots: SimPilotGroup;
  private readonly names: string[];
  /** Each live node incarnation's link to the pilot. */
  private readonly links = new Map<string, SimPilotLink>();
  private readonly linkEnv: SimPilotLinkEnv;
  /** Each node's current incarnation, up or crashed. */
  private readonly nodes = new Map<string, SimNode>();
  /** What each crashed node's disk kept. */
  private readonly images = new Map<string, FakeLmdbImage>();
  private readonly incarnations = new Map<string, number>();
  private readonly traceLines: string[] = [];

  constructor(private readonly options: ClusterSimOptions) {
    this.seed = options.seed;
    this.config = options.node;
    this.random = seededRandom(mix(options.seed, 1));
    this.network = new SimNetwork<Buffer>(this.scheduler, seededRandom(mix(options.seed, 2)), options.network);
    this.names = Array.from({ length: options.nodeCount }, (_, i) => nodeIdOf(i + 1));
    const shardCount = options.shardReplicas.length;
    const shards = options.shardReplicas.map((replicas, i): RoutingShard => {
      for (const name of replicas) if (!this.names.includes(name)) throw new Error(`shard replica ${name} is not a node`);
      return {
        id: `s${i + 1}`,
        keyspace: DEFAULT_KEYSPACE,
        start: Math.floor((i * SLOT_COUNT) / shardCount),
        end: Math.floor(((i + 1) * SLOT_COUNT) / shardCount),
        epoch: 1,
        leader: replicas[0]!,
        replicas: [...replicas],
      };
    });
    const initialState: PilotState = {
      routingVersion: 1,
      nextNodeNumber: this.names.length + 1,
      nextShardNumber: shardCount + 1,
      nodes: this.names.map((name) => ({ id: name, clusterId: '0'.repeat(40), host: name, port: 0, busPort: 0, metricsPort: 0, pid: 0, registeredAtMs: 0, joinedAtMs: 0 })),
      keyspaces: [{ name: DEFAULT_KEYSPACE, kind: 'hash', createdAtMs: 0 }],
      shards,
      splitTasks: [],
      nextSplitNumber: 1,
    };
    const trace = (line: string): void => this.trace(line);
    const fail = (message: string): void => this.fail(message);
    this.pilots = new SimPilotGroup(
      { scheduler: this.scheduler, network: this.network, random: (replica, incarnation) => seededRandom(mix(options.seed, 1_000 * replica + incarnation)), trace, fail },
      {
        replicas: options.pilot.replicas,
        config: {
          expectNodes: this.names.length,
          shardsPerNode: 1,
          replicas: 3,
          nodeTimeoutMs: PILOT_NODE_TIMEOUT_MS,
          split: { params: options.splitParams ?? SPLIT_PARAMS_DEFAULT, maxSplits: 1, maxSplitsPerNode: 1 },
        },
        initialState,
        tickMs: PILOT_TICK_MS,
        electionTimeoutMs: PILOT_ELECTION_TIMEOUT_MS,
        logEntriesMax: options.pilot.logEntriesMax,
        fsyncDelayMsMax: options.node.fsyncDelayMsMax,
      },
    );
    const { lossProbability, delayMsMax } = options.network;
    this.linkEnv = {
      scheduler: this.scheduler,
      pilots: this.pilots,
      network: this.network,
      lossProbability,
      delayMsMax,
      routingDelayMsMax: options.routingDelayMsMax,
      onReportLost: () => void this.splitCounters.reportsLost++,
      trace,
      fail,
    };
    this.keys = shards.map((shard) => keysOf(shard, options.registerKeysPerShard, options.counterKeysPerShard));
    for (let i = 1; i <= options.clients; i++) {
      this.clients.push(new SimClient(i, this, seededRandom(mix(options.seed, 100 + i)), options.client, this.clientCounters));
    }
  }

  // --- SimNodeEnv and ClientEnv -------------------------------------------------------------------------

  trace(line: string): void {
    const text = `${String(this.scheduler.now()).padStart(7)} ${line}`;
    this.traceLines.push(text);
    if (this.traceLines.length > TRACE_LINES_MAX) this.traceLines.shift();
    this.options.trace?.(text);
  }

  fail(message: string): void {
    this.checker.fail(message);
  }

  /** A node's shard changed leader or role: the checker hears of a new leader, and the node heartbeats at once if it leads. */
  onLeaderChange(node: SimNode, groupId: string, leaderId: NodeId, role: Role, term: number): void {
    this.trace(`${node.name} ${groupId}: ${role}, leader ${leaderId === NONE ? 'none' : nodeIdOf(leaderId)}, term ${term}`);
    this.links.get(node.name)?.leadershipChanged();
    if (role !== 'leader') return;
    const status = node.multiRaft.status(groupId);
    if (status?.role !== 'leader' || status.term !== term) {
      this.fail(`${node.name} reports leading ${groupId} in term ${term}, but Raft says ${status?.role} in term ${status?.term}`);
    }
    this.checker.onLeader(groupId, node.name, term);
  }

  /** A split source's leader reports to the pilot through its node's link. */
  reportSplit(node: SimNode, report: SplitReport): Promise<SplitReportResponse | undefined> {
    return this.links.get(node.name)?.reportSplit(report) ?? Promise.resolve(undefined);
  }

  liveNode(name: string): SimNode | undefined {
    const node = this.nodes.get(name);
    return node?.alive === true ? node : undefined;
  }

  nodeNames(): readonly string[] {
    return this.names;
  }

  routeOfSlot(slot: number): { readonly leader: string | null; readonly replicas: readonly string[] } {
    const shard = this.shardOfSlot(slot);
    return { leader: shard?.leader ?? null, replicas: shard?.replicas ?? [] };
  }

  /** The shard serving `slot` in the pilot's table (split targets serve nothing until the switch). */
  shardOfSlot(slot: number): RoutingShard | undefined {
    return this.pilots.state.shards.find((s) => slot >= s.start && slot < s.end);
  }

  movingKeys(): ShardKeys | undefined {
    const source = this.routing.find((s) => s.split?.role === 'source');
    if (source === undefined) return undefined;
    const from = source.split!.splitSlot ?? source.start;
    const inRange = (key: string): boolean => {
      const slot = keyHashSlot(Buffer.from(key));
      return slot >= from && slot < source.end;
    };
    const registers = this.keys.flatMap((k) => k.registers.filter(inRange));
    const counters = this.keys.flatMap((k) => k.counters.filter(inRange));
    return registers.length + counters.length === 0 ? undefined : { shardId: source.id, registers, counters };
  }

  record(op: RegisterOperation): void {
    this.history.push(op);
  }

  // --- the cluster --------------------------------------------------------------------------------------

  /**
   * Starts the pilot replicas, and once one serves the simulation's cluster, every node on an empty disk:
   * founding members bootstrap their groups when the pilot's table reaches them.
   */
  async start(): Promise<void> {
    this.pilots.start();
    const ready = await this.runUntil(() => (this.pilots.serving()?.pilot?.state.routingVersion ?? 0) > 0, PILOT_READY_MS);
    if (!ready) throw new SimFailure(`no pilot replica served the cluster within ${PILOT_READY_MS} virtual ms of the start`);
    for (const name of this.names) {
      this.network.addNode(name);
      this.images.set(name, emptyFakeLmdbImage());
    }
    for (const name of this.names) this.restart(name);
  }

  /** The serving pilot replica's shards (or the newest a live replica has; see SimPilotGroup.state). */
  get routing(): readonly RoutingShard[] {
    return this.pilots.state.shards;
  }

  get table(): RoutingTable {
    return routingTable(this.pilots.state);
  }

  get splitTasks(): readonly SplitTask[] {
    return this.pilots.state.splitTasks ?? [];
  }

  shard(shardId: string): RoutingShard | undefined {
    return this.pilots.state.shards.find((s) => s.id === shardId);
  }

  /** Every node's current incarnation, up or down. */
  allNodes(): SimNode[] {
    return this.names.map((name) => this.nodes.get(name)).filter((node): node is SimNode => node !== undefined);
  }

  /** Crashes a node if it is up: it keeps only what its disk had made durable. A fault's crash is counted (`fault`). */
  crash(name: string, fault = true): void {
    const node = this.liveNode(name);
    if (node === undefined) return;
    if (this.network.isUp(name)) this.network.crash(name);
    this.links.get(name)?.stop();
    this.links.delete(name);
    const image = node.crash();
    this.images.set(name, image);
    this.checker.onCrash(name, appliedIndexes(image));
    if (fault) this.faultCounters.crashes++;
    this.trace(`${name} crashes`);
    // The peers' connections to it break: their transports report it unreachable.
    for (const other of this.allNodes()) {
      if (!other.alive) continue;
      other.groups.reportUnreachable(name);
      other.bus.peerCrashed(name);
    }
  }

  /** Starts a node's next incarnation from its disk image if it is down. */
  restart(name: string): void {
    if (this.liveNode(name) !== undefined) return;
    if (!this.network.isUp(name)) this.network.restart(name);
    const incarnation = (this.incarnations.get(name) ?? 0) + 1;
    this.incarnations.set(name, incarnation);
    const node = new SimNode(this, name, this.images.get(name)!, incarnation);
    this.nodes.set(name, node);
    if (incarnation > 1) this.faultCounters.restarts++;
    this.trace(`${name} starts (incarnation ${incarnation})`);
    // The node follows the table its disk holds until its long poll brings the pilot's.
    this.links.set(name, new SimPilotLink(node, this.linkEnv, seededRandom(mix(this.seed, 10_000 * node.raftId + incarnation))));
  }

  /** Stops a live node's process, which keeps its connections (see PauseGate), until `resume`. */
  pause(name: string): void {
    const node = this.liveNode(name);
    if (node === undefined || node.gate.paused) return;
    node.gate.pause();
    this.trace(`${name} pauses`);
  }

  resume(name: string): void {
    const node = this.liveNode(name);
    if (node === undefined || !node.gate.paused) return;
    node.gate.resume();
    this.trace(`${name} resumes`);
  }

  /** The live node leading the shard in the highest term, if any. */
  leaderOf(shardId: string): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const node of this.allNodes()) {
      const leadership = node.alive ? node.multiRaft.leadership(shardId) : undefined;
      if (leadership?.role === 'leader' && leadership.term > bestTerm) {
        best = node;
        bestTerm = leadership.term;
      }
    }
    return best;
  }

  // --- the pilot ----------------------------------------------------------------------------------------

  /**
   * Adds a desired replica through the pilot (`add`, which gives the replica a new replica id): the shard's
   * leader adds it as a learner, then promotes it. Whether the pilot took it.
   */
  async addReplica(shardId: string, name: string): Promise<boolean> {
    const shard = this.shard(shardId);
    if (shard === undefined || shard.replicas.length >= 5) return false;
    return this.changeReplicas(shardId, 'add', name);
  }

  /** Removes a desired replica (the pilot's `remove`); a transfer to it is cancelled. */
  removeReplica(shardId: string, name: string): Promise<boolean> {
    return this.changeReplicas(shardId, 'remove', name);
  }

  /** Asks the shard's leader, through the pilot, to hand leadership to `name` (a replica). */
  transferLeader(shardId: string, name: string): Promise<boolean> {
    return this.changeReplicas(shardId, 'transfer_leader', name);
  }

  /** `POST /api/v1/shards/{id}/replicas` to the serving pilot replica. */
  private async changeReplicas(shardId: string, action: 'add' | 'remove' | 'transfer_leader', name: string): Promise<boolean> {
    const answer = await this.pilots.ask((pilot) => pilot.changeShardReplicas(shardId, action, name, undefined));
    if (answer === undefined || !answer.ok) {
      this.trace(`pilot: ${action} ${name} on ${shardId} refused (${answer?.message ?? 'no pilot replica serves'})`);
      return false;
    }
    const { shard } = answer;
    if (action === 'add') this.trace(`pilot: add ${name} to ${shardId} as replica ${replicaIdOf(shard, name)}`);
    else if (action === 'remove') this.trace(`pilot: remove ${name} from ${shardId}`);
    else this.trace(`pilot: transfer ${shardId} to ${name}`);
    return true;
  }

  /** Splits a shard through the pilot (`POST /api/v1/shards/{id}/split`); the task, undefined when refused. */
  async createSplit(sourceShard: string, choices: { splitSlot?: number; targetNodes?: readonly string[] } = {}): Promise<SplitTask | undefined> {
    if (this.options.splitParams === undefined) throw new Error('this simulation runs no splits');
    const task = await this.pilots.ask((pilot) => pilot.createSplit({ sourceShard, ...choices }));
    if (task === undefined || 'ok' in task) {
      this.splitCounters.refused++;
      this.trace(`pilot: split of ${sourceShard} refused (${task?.message ?? 'no pilot replica serves'})`);
      return undefined;
    }
    this.splitCounters.created++;
    this.trace(`pilot: ${task.id} splits ${sourceShard} into ${task.targetShard}${choices.splitSlot === undefined ? '' : ` at ${choices.splitSlot}`}`);
    return task;
  }

  /** `DELETE /api/v1/splits/{task_id}`. */
  async cancelSplit(taskId: string): Promise<void> {
    const task = await this.pilots.ask((pilot) => pilot.cancelSplit(taskId));
    const asked = task !== undefined && !('ok' in task);
    if (asked) this.splitCounters.cancelRequests++;
    this.trace(`pilot: cancel ${taskId}: ${asked ? 'asked' : (task?.message ?? 'no pilot replica serves')}`);
  }

  /**
   * The serving pilot replica crashes, and restarts `downMs` later: meanwhile a single pilot answers
   * nothing, and of three the other two elect a leader, which hears of the shards' leaders from the nodes'
   * next heartbeats and holds no split reports (they were kept in its predecessor's memory).
   */
  crashPilotLeader(downMs: number): void {
    const leader = this.pilots.serving();
    if (leader === undefined) return;
    this.splitCounters.pilotOutages++;
    this.pilots.crash(leader.id);
    this.trace(`pilot: leader ${leader.id} crashes, back in ${downMs} ms`);
    this.scheduler.after(downMs, () => this.pilots.restart(leader.id));
  }

  // --- clients ------------------------------------------------------------------------------------------

  startClients(): void {
    for (const client of this.clients) client.start();
  }

  stopClients(): void {
    for (const client of this.clients) client.stop();
  }

  clientsIdle(): boolean {
    return this.clients.every((client) => client.idle);
  }

  // --- running ------------------------------------------------------------------------------------------

  /** Runs `durationMs` of virtual time, stopping at the first checker failure. */
  async runFor(durationMs: number): Promise<void> {
    const end = this.scheduler.now() + durationMs;
    while (this.scheduler.now() < end) {
      await this.scheduler.runUntil(Math.min(end, this.scheduler.now() + POLL_MS));
      this.throwIfFailed();
    }
  }

  /** Runs until `condition` holds (checked every `pollMs`) or `timeoutMs` of virtual time pass; whether it holds. */
  async runUntil(condition: () => boolean, timeoutMs: number, pollMs = POLL_MS): Promise<boolean> {
    const end = this.scheduler.now() + timeoutMs;
    for (;;) {
      this.throwIfFailed();
      if (condition()) return true;
      if (this.scheduler.now() >= end) return false;
      await this.scheduler.runUntil(Math.min(end, this.scheduler.now() + pollMs));
    }
  }

  /** Runs the scheduler until `work` settles (at most `timeoutMs`); its result. */
  async drive<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let settled: { value: T } | undefined;
    let failure: { error: unknown } | undefined;
    work.then(
      (value) => (settled = { value }),
      (error: unknown) => (failure = { error }),
    );
    await this.runUntil(() => settled !== undefined || failure !== undefined, timeoutMs);
    if (failure !== undefined) throw failure.error;
    if (settled === undefined) throw new SimFailure(`${what} did not finish within ${timeoutMs} virtual ms`);
    return settled.value;
  }

  /**
   * Stops the run at the first checker failure, or at a client request a live node has held past its
   * deadline: MultiRaft answers every proposal and read within the request timeout (reads waiting for
   * the state machine also fail when leadership is lost), and a split answers the writes it holds within
   * its buffer timeout, so one held much longer would hang a client.
   */
  throwIfFailed(): void {
    if (this.checker.failure !== undefined) throw new SimFailure(this.checker.failure);
    // A write a split holds waits up to the buffer timeout, and is then answered TRYAGAIN. A command that
    // waits for an election may then be forwarded to the leader (its request timeout plus a margin) and
    // have failed here once first (a request timeout).
    const { requestTimeoutMs, electionTimeoutMs } = this.config;
    const limitMs = Math.max(2 * requestTimeoutMs + FORWARD_MARGIN_MS + 4 * electionTimeoutMs, this.options.splitParams?.bufferTimeoutMs ?? 0) + 1_000;
    for (const node of this.allNodes()) {
      const oldest = node.alive ? node.oldestPendingMs() : undefined;
      if (oldest !== undefined && this.scheduler.now() - oldest > limitMs) {
        throw new SimFailure(`liveness: ${node.name} has held a client request since ${oldest} ms, past the request timeout of ${this.config.requestTimeoutMs} ms`);
      }
    }
  }

  /** The last trace lines (for a failure report). */
  traceTail(): readonly string[] {
    return this.traceLines;
  }

  // --- end-of-run checks ----------------------------------------------------------------------------------

  /**
   * What keeps the cluster from having converged (empty when it has): a serving pilot replica whose routing
   * table every node follows, per shard a leader every member follows, the membership the pilot wants with
   * no learner left in every member's Raft, every member at the leader's commit index with the same data,
   * no node outside the membership still running the group, no client waiting.
   */
  convergenceProblems(): string[] {
    const problems: string[] = [];
    for (const client of this.clients) if (!client.idle) problems.push(`client ${client.id} is waiting since ${client.busySinceMs} ms`);
    const serving = this.pilots.serving();
    if (serving === undefined) problems.push('no pilot replica serves');
    const { routingVersion } = this.pilots.state;
    for (const node of this.allNodes()) {
      if (node.alive && node.core.routingVersion !== routingVersion)
        problems.push(`${node.name} follows routing version ${node.core.routingVersion}, the pilot's is ${routingVersion}`);
    }
    problems.push(...this.splitProblems());
    for (const shard of this.routing) {
      const leader = this.leaderOf(shard.id);
      if (leader === undefined) {
        const members = this.allNodes().filter((n) => n.alive && n.multiRaft.hasGroup(shard.id));
        const states = members.map((n) => {
          const s = n.multiRaft.status(shard.id)!;
          return `${n.name} ${s.role} term ${s.term} vote ${s.vote} last ${s.lastIndex} commit ${s.commit} voters [${s.confState.voters.join()}] learners [${s.confState.learners.join()}]`;
        });
        problems.push(`${shard.id}: no leader (${states.join('; ')})`);
        continue;
      }
      const status = leader.multiRaft.status(shard.id)!;
      const desired = shard.replicas.map((n) => replicaIdOf(shard, n)).sort((a, b) => a - b);
      const { voters, learners } = status.confState;
      if (learners.length > 0 || voters.join() !== desired.join()) {
        problems.push(`${shard.id}: voters [${voters.join()}] learners [${learners.join()}], the pilot wants [${desired.join()}]`);
      }
      const reference = leader.replicas.get(shard.id)!;
      const keys = this.keysOfShard(shard);
      for (const name of shard.replicas) {
        const node = this.liveNode(name);
        if (node === undefined || !node.multiRaft.hasGroup(shard.id)) {
          problems.push(`${shard.id}: replica ${name} is ${node === undefined ? 'down' : 'not running the group'}`);
          continue;
        }
        const leadership = node.multiRaft.leadership(shard.id)!;
        const applied = node.multiRaft.appliedIndex(shard.id)!;
        if (leadership.leaderId !== status.id) problems.push(`${shard.id}: ${name} follows ${leadership.leaderId}, not ${leader.name}`);
        if (node.multiRaft.selfId(shard.id) !== replicaIdOf(shard, name))
          problems.push(`${shard.id}: ${name} runs replica ${node.multiRaft.selfId(shard.id)}, the pilot gave it ${replicaIdOf(shard, name)}`);
        // Each member acts on its own membership (whom it replicates to, counts votes of, after a restart from its disk).
        const own = node.multiRaft.status(shard.id)!.confState;
        if (own.voters.join() !== voters.join() || own.learners.join() !== learners.join()) {
          problems.push(`${shard.id}: ${name} has voters [${own.voters.join()}] learners [${own.learners.join()}], ${leader.name} [${voters.join()}] [${learners.join()}]`);
        }
        if (applied !== status.commit) {
          const progress = status.progress?.get(node.multiRaft.selfId(shard.id)!);
          const seen =
            progress === undefined
              ? 'untracked'
              : `${progress.state}, match ${progress.match}, next ${progress.next}${progress.pendingSnapshot > 0 ? `, snapshot ${progress.pendingSnapshot}` : ''}`;
          problems.push(`${shard.id}: ${name} applied ${applied}, the leader committed ${status.commit} (leader's progress of it: ${seen})`);
        }
        const replica = node.replicas.get(shard.id)!;
        problems.push(...ownershipProblems(shard, name, replica));
        if (replica.data.keyCount !== reference.data.keyCount) problems.push(`${shard.id}: ${name} has ${replica.data.keyCount} keys, ${leader.name} ${reference.data.keyCount}`);
        for (const key of keys) {
          const mine = describeValue(replica.data.get(Buffer.from(key)));
          const theirs = describeValue(reference.data.get(Buffer.from(key)));
          if (mine !== theirs) problems.push(`${shard.id}: ${name} has ${key}=${mine}, ${leader.name} ${theirs}`);
        }
      }
    }
    for (const node of this.allNodes()) {
      for (const groupId of node.alive ? node.multiRaft.groupIds() : []) {
        if (this.shard(groupId)?.replicas.includes(node.name) !== true) problems.push(`${groupId}: ${node.name} still runs the group`);
      }
    }
    return problems;
  }

  /**
   * What keeps the splits from having settled: a task not finished, a split target still listed, or
   * slots not owned by exactly one shard in the routing table.
   */
  splitProblems(): string[] {
    const problems: string[] = [];
    for (const task of this.splitTasks) if (!isFinalStatus(task.status)) problems.push(`${task.id} is ${task.status}`);
    const ranges = this.routing.map((s) => ({ id: s.id, start: s.start, end: s.end, split: s.split })).sort((a, b) => a.start - b.start || a.end - b.end);
    let next = 0;
    for (const range of ranges) {
      if (range.split !== undefined) problems.push(`${range.id} still carries the marker of ${range.split.taskId}`);
      if (range.start !== next || range.end <= range.start) problems.push(`${range.id} owns [${range.start}, ${range.end}) where slot ${next} comes next`);
      next = Math.max(next, range.end);
    }
    if (next !== SLOT_COUNT) problems.push(`the routing table ends at slot ${next}`);
    return problems;
  }

  /**
   * Ends a run: stops the clients, waits (at most `timeoutMs` of virtual time) for the cluster to
   * converge, reads every key through its leader and checks the whole history. Returns the keys whose
   * linearizability search ran out of budget (checked for lost writes only).
   */
  async settleAndCheck(timeoutMs: number): Promise<string[]> {
    this.stopClients();
    await this.converge(timeoutMs, 'the faults ended');
    return this.checkConverged(timeoutMs);
  }

  /** On a converged cluster: the final reads, then the history's checks; the keys whose check fell back to the lost-write one. */
  async checkConverged(timeoutMs: number): Promise<string[]> {
    const finalValues = await this.finalReads(timeoutMs);
    return this.checkHistory(finalValues);
  }

  /** Waits (at most `timeoutMs` of virtual time) until the cluster has converged; fails saying what it has not done `since`. */
  async converge(timeoutMs: number, since: string): Promise<void> {
    const settled = await this.runUntil(() => this.convergenceProblems().length === 0, timeoutMs);
    if (!settled) throw new SimFailure(`liveness: not converged ${timeoutMs} virtual ms after ${since}: ${this.convergenceProblems().slice(0, 8).join('; ')}`);
  }

  /**
   * A rolling restart of a converged cluster: each node in turn crashes, restarts from its disk and the
   * cluster must converge again (within `timeoutMs` each). What a node acts on after a restart is what its
   * disk recorded (a compaction's membership, say), not what its memory held.
   */
  async restartEachNode(timeoutMs: number): Promise<void> {
    for (const name of this.names) {
      this.crash(name, false);
      this.restart(name);
      await this.converge(timeoutMs, `${name} restarted`);
    }
  }

  /**
   * Reads every key through its shard's leader (recorded in the history, so a lost write shows as a
   * non-linearizable final read) and returns the values; every member's data must agree with them.
   */
  async finalReads(timeoutMs: number): Promise<Map<string, string | null>> {
    const reader = new SimClient('final', this, seededRandom(mix(this.seed, 3)), { ...this.options.client, attemptsMax: 1_000, retryMsMax: timeoutMs }, this.clientCounters);
    const values = new Map<string, string | null>();
    const readAll = async (): Promise<void> => {
      for (const { registers, counters } of this.keys) {
        for (const key of [...registers, ...counters]) {
          for (let attempt = 1; ; attempt++) {
            const outcome = await reader.run(key, 'get');
            if (outcome.kind === 'reply') {
              const reply = outcome.reply;
              if (reply.kind !== 'null' && reply.kind !== 'bulk') throw new SimFailure(`the final read of ${key} answered ${reply.kind}`);
              values.set(key, reply.kind === 'null' ? null : typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1'));
              break;
            }
            if (attempt >= FINAL_READ_ATTEMPTS_MAX || outcome.kind === 'gaveUp') throw new SimFailure(`liveness: the final read of ${key} never succeeded (${outcome.kind})`);
          }
        }
      }
    };
    await this.drive(readAll(), timeoutMs, 'the final reads');
    for (const shard of this.routing) {
      for (const name of shard.replicas) {
        const replica = this.liveNode(name)?.replicas.get(shard.id);
        for (const key of this.keysOfShard(shard)) {
          const stored = replica?.data.get(Buffer.from(key));
          const value = stored === undefined ? null : stored.type === 'string' ? stored.value.toString('latin1') : describeValue(stored);
          if (value !== values.get(key)) throw new SimFailure(`${name} holds ${key}=${value} but a final read through the leader gave ${values.get(key)}`);
        }
      }
    }
    return values;
  }

  /**
   * Checks the client history key by key: linearizable, or — where the search runs out of budget — at
   * least no acknowledged write lost and no counter off its increments. Returns the keys that fell back.
   */
  checkHistory(finalValues: ReadonlyMap<string, string | null>): string[] {
    const byKey = new Map<string, RegisterOperation[]>();
    for (const op of this.history) {
      let ops = byKey.get(op.key);
      if (ops === undefined) byKey.set(op.key, (ops = []));
      ops.push(op);
    }
    const fellBack: string[] = [];
    for (const key of [...byKey.keys()].sort()) {
      const ops = byKey.get(key)!;
      const result = checkLinearizability(ops, { stepsMax: LINEARIZABILITY_STEPS_MAX });
      if (result.ok === true) continue;
      if (result.ok === false) throw new SimFailure(`linearizability: ${result.explanation}`);
      const problems = checkLostWrites(ops, finalValues);
      if (problems.length > 0) throw new SimFailure(`lost writes: ${problems.map((p) => p.explanation).join('; ')}`);
      fellBack.push(key);
    }
    return fellBack;
  }

  /** A digest of what clients saw and where every replica ended: equal for two runs of one seed. */
  digest(): string {
    const hash = createHash('sha256');
    for (const op of this.history) hash.update(`${describeOperation(op)}\n`);
    for (const node of this.allNodes()) {
      for (const shardId of node.alive ? node.multiRaft.groupIds().sort() : []) hash.update(`${node.name}/${shardId}@${node.multiRaft.appliedIndex(shardId)}\n`);
    }
    hash.update(JSON.stringify(this.table));
    hash.update(JSON.stringify(this.network.stats));
    return hash.digest('hex').slice(0, 16);
  }

  /** The clients' keys whose slots the shard serves in the routing table. */
  private keysOfShard(shard: RoutingShard): string[] {
    return this.keys
      .flatMap((k) => [...k.registers, ...k.counters])
      .filter((key) => {
        const slot = keyHashSlot(Buffer.from(key));
        return slot >= shard.start && slot < shard.end;
      });
  }
}

// --- one seeded run -------------------------------------------------------------------------------------

/** Client pacing and limits: retries like a cluster client's (ioredis waits ~50 ms after TRYAGAIN). */
const CLIENT_OPTIONS: ClientOptions = { linkDelayMsMax: 2, thinkMsMax: 20, retryBackoffMsMin: 20, retryBackoffMsMax: 60, attemptsMax: 100, retryMsMax: 5_000 };

/**
 * A calm cluster for scenario tests: a reliable network with short delays, large compaction thresholds,
 * 3 clients; `overrides` change any of it.
 */
export function calmClusterOptions(seed: number, nodeCount: number, shardReplicas: readonly (readonly string[])[], overrides: Partial<ClusterSimOptions> = {}): ClusterSimOptions {
  return {
    seed,
    nodeCount,
    shardReplicas,
    node: {
      tickMs: 10,
      electionTimeoutMs: 200,
      requestTimeoutMs: 2_000,
      snapshotChunkBytes: 1024 * 1024,
      snapshotIdleMs: 1_000,
      compactAfterEntries: 20_000,
      compactKeepEntries: 5_000,
      maxUncommittedEntriesBytes: 256 * 1024 * 1024,
      unwantedGraceMs: 3_000,
      fsyncDelayMsMax: 3,
    },
    network: { delayMsMin: 1, delayMsMax: 5, lossProbability: 0, duplicateProbability: 0 },
    clients: 3,
    client: CLIENT_OPTIONS,
    registerKeysPerShard: 2,
    counterKeysPerShard: 1,
    routingDelayMsMax: 100,
    pilot: { replicas: 1, logEntriesMax: LOG_ENTRIES_MAX_DEFAULT },
    ...overrides,
  };
}

/** What a run may fix instead of drawing it from the seed (the `npm run sim` flags). */
export interface SimRunOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly shards?: number;
  /** Length of the safety phase, in virtual ms. */
  readonly durationMs?: number;
  /** Most virtual ms the liveness phase may take to converge. */
  readonly livenessMs?: number;
  readonly clients?: number;
  /** Whether the pilot changes replicas and leaders during the run (with a spare node). */
  readonly membership?: boolean;
  /** Whether logs compact after a few dozen entries, so lagging members catch up by snapshot. */
  readonly smallCompaction?: boolean;
  /** Whether shards are split during the run (with cancels and crashes of the pilot's leader). */
  readonly splits?: boolean;
  readonly trace?: (line: string) => void;
}

/** What a run did, and how it ended. */
export interface SimRunResult {
  readonly seed: number;
  readonly ok: boolean;
  /** What failed, with the replay command. */
  readonly failure?: string;
  /** The one command that replays this run. */
  readonly replay: string;
  /** Equal for two runs of one seed (see ClusterSim.digest). */
  readonly digest: string;
  /** The cluster's shape and what happened, one line. */
  readonly summary: string;
  /** The trace's last lines, on a failure. */
  readonly traceTail: readonly string[];
  readonly stats: {
    readonly virtualMs: number;
    readonly operations: number;
    readonly ok: number;
    readonly unknown: number;
    readonly gaveUp: number;
    readonly crashes: number;
    readonly leaderElections: number;
    readonly snapshotsRestored: number;
    readonly snapshotChunksMax: number;
    readonly membershipChanges: number;
    readonly keysFellBack: number;
    readonly splitsCompleted: number;
    readonly splitsRolledBack: number;
  };
}

const SAFETY_MS_DEFAULT = 8_000;
/** Clients a seed with splits runs beyond those it draws: concurrent writers put several entries in one Raft write. */
const SPLIT_CLIENTS_EXTRA = 4;
/**
 * Longest pause of a node: its senders time out, and a successor takes over. Short enough that a
 * client request paused at a node is still within the held-request bound (throwIfFailed).
 */
const PAUSE_MS_MAX = 2_500;
/** A crash waiting for its node's next write crashes it anyway after this long. */
const WRITE_WAIT_MS_MAX = 500;
/** A crash waiting for a split's forwarding to begin looks this often, and gives up after the longest wait. */
const FORWARDING_POLL_MS = 10;
const FORWARDING_WAIT_MS_MAX = 5_000;
/**
 * A split source's leader stopped during the transfer stays stopped until a successor forwards, up to this
 * long, past PAUSE_MS_MAX: the successor needs an election, a read barrier, a probe and a whole snapshot
 * first, and real stops (SIGSTOP, a stalled VM) last seconds. Clients' requests held there meanwhile are
 * measured without the stop (oldestPendingMs).
 */
const TRANSFER_PAUSE_MS_MAX = 6_000;
/** Such a stop comes this long at most after the request leaves (its answer may be back by then), and ends this long at most after the target holds the successor's snapshot. */
const TRANSFER_PAUSE_DELAY_MS_MAX = 5;
const FORWARDING_MS_MAX = 100;
/** How often the split's begin is looked for. */
const SPLIT_BEGUN_POLL_MS = 1;
const LIVENESS_MS_DEFAULT = 30_000;

/** What a seed stands for: the cluster, and the safety phase's length and faults. */
export interface SimScenario {
  readonly cluster: ClusterSimOptions;
  readonly durationMs: number;
  readonly livenessMs: number;
  readonly membership: boolean;
  readonly smallCompaction: boolean;
  readonly splits: boolean;
  readonly faults: FaultKnobs;
}

/** The scenario of a seed, with what `options` fix instead of drawing. */
export function scenarioFor(options: SimRunOptions): SimScenario {
  const r = seededRandom(mix(options.seed, 0));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
  // Every choice is drawn, in a fixed order, even when a flag fixes it: fixing one leaves the others as
  // the seed has them. The placement comes last, as it depends on the number of nodes and shards.
  const drawn = { hosts: r() < 0.65 ? 3 : 5, membership: r() < 0.35, smallCompaction: r() < 0.5, shards: 2 + Math.floor(r() * 3), clients: 2 + Math.floor(r() * 5) };
  const hosts = options.nodes ?? drawn.hosts;
  const membership = options.membership ?? drawn.membership;
  const smallCompaction = options.smallCompaction ?? drawn.smallCompaction;
  const shardCount = options.shards ?? drawn.shards;
  const small = { chunkBytes: pick([16, 40, 100]), compactAfterEntries: 20 + Math.floor(r() * 31) };
  const flowControl = r() < 0.3 ? { maxInflightMsgs: 1 + Math.floor(r() * 4), maxSizePerMsgBytes: pick([100, 400]) } : {};
  const node: SimNodeConfig = {
    tickMs: 10,
    electionTimeoutMs: pick([150, 200, 300]),
    requestTimeoutMs: pick([1_000, 2_000, 3_000]),
    snapshotChunkBytes: smallCompaction ? small.chunkBytes : 1024 * 1024,
    snapshotIdleMs: pick([500, 1_000, 3_000]),
    compactAfterEntries: smallCompaction ? small.compactAfterEntries : 20_000,
    compactKeepEntries: smallCompaction ? 5 : 5_000,
    maxUncommittedEntriesBytes: r() < 0.15 ? 2_048 : 256 * 1024 * 1024,
    ...flowControl,
    unwantedGraceMs: 3_000,
    fsyncDelayMsMax: pick([1, 5, 20]),
  };
  const network: SimNetworkOptions = {
    delayMsMin: 1,
    delayMsMax: pick([5, 10, 30]),
    lossProbability: pick([0, 0.01, 0.05, 0.1]),
    duplicateProbability: pick([0, 0.01, 0.05]),
  };
  const faults = {
    faultMsMax: pick([1_000, 3_000]),
    calmMsMax: pick([200, 1_000]),
    leaderCrashEveryMs: pick([0, 1_500, 3_000]),
  };
  const hostNames = Array.from({ length: hosts }, (_, i) => nodeIdOf(i + 1));
  const shardReplicas = Array.from({ length: shardCount }, () => {
    const roll = r();
    const factor = Math.min(hosts, roll < 0.1 ? 1 : hosts >= 5 && roll < 0.3 ? 5 : 3);
    return shuffle(r, hostNames).slice(0, factor);
  });
  // Drawn after the choices above, so that seeds without splits keep the clusters they had.
  const splits = options.splits ?? r() < 0.5;
  const splitParams: SplitParams = {
    catchUpThreshold: pick([2, 10, 100]),
    bufferTimeoutMs: pick([300, 1_000, 5_000]),
    bufferMaxSize: pick([3, 50, 10_000]),
    progressIntervalMs: 200,
    snapshotChunkBytes: pick([64, 1_024, 1024 * 1024]),
    catchUpDeadlineMs: pick([1_000, 5_000]),
    catchUpSlowDelay: 50,
    targetTimeoutMs: pick([1_000, 3_000]),
  };
  const pilotReplicas = r() < 0.5 ? 1 : 3;
  // Drawn last, so that a seed keeps the cluster it had. Faults most seeds run without: slow disks widen
  // the window in which a write is acknowledged in memory but not durable, and pauses deliver requests
  // past their senders' timeouts to a process acting on an old view.
  let slowDisks = r() < 0.25 ? { nodes: shuffle(r, hostNames).slice(0, 1 + Math.floor(r() * hosts)), fsyncDelayMsMax: pick([100, 300]) } : undefined;
  const pauses = r() < 0.3;
  const crashesAtWrites = r() < 0.5;
  // A split of a one-member shard is where a crash loses what the source already forwarded.
  if (splits && r() < 0.5) {
    const single = Math.floor(r() * shardCount);
    const member = shardReplicas[single]![0]!;
    shardReplicas[single] = [member];
    // Often on a slow disk: its leader then holds committed entries in memory for up to the fsync delay,
    // long enough for its split driver to read them and for a crash to take them back after.
    if (r() < 0.5 && slowDisks?.nodes.includes(member) !== true) {
      slowDisks = { nodes: [...(slowDisks?.nodes ?? []), member], fsyncDelayMsMax: slowDisks?.fsyncDelayMsMax ?? pick([100, 300]) };
    }
  }
  const cluster: ClusterSimOptions = {
    seed: options.seed,
    nodeCount: hosts + (membership ? 1 : 0),
    shardReplicas,
    node: slowDisks === undefined ? node : { ...node, slowDisks },
    network,
    // Splits run with more clients, half of whose commands go to the range being moved (see SimClient).
    clients: options.clients ?? drawn.clients + (splits ? SPLIT_CLIENTS_EXTRA : 0),
    client: CLIENT_OPTIONS,
    // Splits move some keys away from others of their shard.
    registerKeysPerShard: splits ? 4 : 2,
    counterKeysPerShard: splits ? 2 : 1,
    routingDelayMsMax: 300,
    // Small compaction compacts the pilot's log too, so a replica that was down restores a snapshot.
    pilot: { replicas: pilotReplicas, logEntriesMax: smallCompaction ? 20 : LOG_ENTRIES_MAX_DEFAULT },
    ...(splits ? { splitParams } : {}),
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  };
  return {
    cluster,
    durationMs: options.durationMs ?? SAFETY_MS_DEFAULT,
    livenessMs: options.livenessMs ?? LIVENESS_MS_DEFAULT,
    membership,
    smallCompaction,
    splits,
    faults: { ...faults, pauses, crashesAtWrites },
  };
}

/** Fault settings a seed draws. */
export interface FaultKnobs {
  readonly faultMsMax: number;
  readonly calmMsMax: number;
  /** Mean virtual ms between crashes of a shard's current leader (0: none beyond the fault plan's). */
  readonly leaderCrashEveryMs: number;
  /** Whether the fault plan pauses nodes, and splits pause their source's or target's leader. */
  readonly pauses: boolean;
  /** Whether half the leader crashes wait for the leader's next write and land before its fsync. */
  readonly crashesAtWrites: boolean;
}

/** The command that replays a run with these options. */
export function replayCommand(options: SimRunOptions): string {
  const flags = [`--seed ${options.seed}`];
  if (options.nodes !== undefined) flags.push(`--nodes ${options.nodes}`);
  if (options.shards !== undefined) flags.push(`--shards ${options.shards}`);
  if (options.durationMs !== undefined) flags.push(`--duration-ms ${options.durationMs}`);
  if (options.livenessMs !== undefined) flags.push(`--liveness-ms ${options.livenessMs}`);
  if (options.clients !== undefined) flags.push(`--clients ${options.clients}`);
  if (options.membership !== undefined) flags.push(options.membership ? '--membership' : '--no-membership');
  if (options.smallCompaction !== undefined) flags.push(options.smallCompaction ? '--small-compaction' : '--no-small-compaction');
  if (options.splits !== undefined) flags.push(options.splits ? '--splits' : '--no-splits');
  return `npm run sim -- ${flags.join(' ')}`;
}

/** One seeded run: a safety phase under faults, then a liveness phase; see the module comment. */
export async function runSimulation(options: SimRunOptions): Promise<SimRunResult> {
  const scenario = scenarioFor(options);
  const sim = new ClusterSim(scenario.cluster);
  const replay = replayCommand(options);
  const onUnhandled = (reason: unknown): void => sim.fail(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  process.on('unhandledRejection', onUnhandled);
  let failure: string | undefined;
  let fellBack: string[] = [];
  try {
    sim.trace(`cluster: ${describeScenario(scenario)}`);
    await sim.start();
    const endSafetyPhase = scheduleSafetyPhase(sim, scenario);
    sim.startClients();
    await sim.runFor(scenario.durationMs);

    // Liveness: no more faults, every node and pilot replica up; the cluster must settle within a bounded time.
    sim.stopClients();
    endSafetyPhase();
    sim.network.quiesce();
    for (const name of sim.nodeNames()) {
      sim.restart(name);
      sim.resume(name);
    }
    for (const id of sim.pilots.ids) sim.pilots.restart(id);
    await sim.runUntil(() => sim.pilots.serving() !== undefined, PILOT_READY_MS);
    sim.trace('liveness phase: faults quiesced, every node and pilot replica up');
    await sim.converge(scenario.livenessMs, 'the faults ended');
    sim.trace('liveness phase: converged; a rolling restart of every node');
    await sim.restartEachNode(scenario.livenessMs);
    fellBack = await sim.checkConverged(scenario.livenessMs);
  } catch (error) {
    failure = error instanceof SimFailure ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  const stats = {
    virtualMs: sim.scheduler.now(),
    operations: sim.history.length,
    ok: sim.clientCounters.ok,
    unknown: sim.clientCounters.unknown,
    gaveUp: sim.clientCounters.gaveUp,
    crashes: sim.faultCounters.crashes,
    leaderElections: sim.checker.counts.leaderElections,
    snapshotsRestored: sim.counters.snapshotsRestored,
    snapshotChunksMax: sim.counters.snapshotChunksMax,
    membershipChanges: sim.counters.membershipChangesProposed,
    keysFellBack: fellBack.length,
    splitsCompleted: sim.splitTasks.filter((t) => t.status === 'completed').length,
    splitsRolledBack: sim.splitTasks.filter((t) => t.status === 'failed' || t.status === 'cancelled').length,
  };
  const summary =
    `seed ${options.seed}: ${describeScenario(scenario)}; ${stats.operations} ops (${stats.ok} ok, ${stats.unknown} unknown, ${stats.gaveUp} gave up), ` +
    `${stats.crashes} crashes, ${stats.leaderElections} elections, ${stats.snapshotsRestored} snapshots (≤${stats.snapshotChunksMax} chunks), ` +
    `${stats.membershipChanges} membership changes, ` +
    (scenario.splits ? `${stats.splitsCompleted} splits completed, ${stats.splitsRolledBack} rolled back (${sim.splitCounters.pilotOutages} pilot outages), ` : '') +
    `${stats.virtualMs} virtual ms` +
    (fellBack.length > 0 ? `; lost-write check only for ${fellBack.join(', ')}` : '');
  return {
    seed: options.seed,
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure: `seed ${options.seed}: ${failure}\nreplay: ${replay}` }),
    replay,
    digest: sim.digest(),
    summary,
    traceTail: failure === undefined ? [] : sim.traceTail(),
    stats,
  };
}

/**
 * Schedules the safety phase's faults and pilot actions; returns what ends them for the liveness phase
 * (actions still waiting for the pilot's answer then schedule nothing more).
 */
function scheduleSafetyPhase(sim: ClusterSim, scenario: SimScenario): () => void {
  const r = sim.random;
  const { durationMs, faults } = scenario;
  const plan: FaultStep[] = faultPlan(r, sim.nodeNames(), durationMs, {
    crashes: true,
    faultMsMin: 200,
    faultMsMax: faults.faultMsMax,
    calmMsMax: faults.calmMsMax,
    swizzleStepMsMax: 100,
    pauses: faults.pauses,
    pauseMsMax: PAUSE_MS_MAX,
  });
  sim.trace(`fault plan: ${plan.map(describeFault).join(', ')}`);
  sim.network.scheduleFaults(plan, {
    onCrash: (name) => sim.crash(name),
    onRestart: (name) => sim.restart(name),
    onPause: (name) => sim.pause(name),
    onResume: (name) => sim.resume(name),
  });
  const events: EventId[] = [];
  let ended = false;
  const at = (atMs: number, fn: () => void): void => {
    if (!ended) events.push(sim.scheduler.after(atMs, fn));
  };
  /**
   * Crashes a node and restarts it a bit later; some crashes (`atWrite`: each one) wait for its next write
   * and land at a drawn moment inside its fsync window, when what it wrote is in memory but not on disk.
   */
  const crashAndRestart = (name: string, atWrite = faults.crashesAtWrites && r() < 0.5): void => {
    const down = (): void => {
      sim.crash(name);
      at(50 + Math.floor(r() * 1_500), () => sim.restart(name));
    };
    const node = sim.liveNode(name);
    if (node === undefined || !atWrite) return down();
    let waiting = true;
    const crashOnce = (): void => {
      if (!waiting) return;
      waiting = false;
      // Not the node's next incarnation, if something else crashed it meanwhile.
      if (sim.liveNode(name) === node) down();
    };
    node.onNextWrite((fsyncDelayMs) => at(Math.floor(r() * fsyncDelayMs), crashOnce));
    at(WRITE_WAIT_MS_MAX, crashOnce);
  };
  // Leaders crash at moments of their own too, often with writes in flight, and come back a bit later.
  if (faults.leaderCrashEveryMs > 0) {
    for (let t = 300 + r() * faults.leaderCrashEveryMs; t < durationMs - 500; t += 300 + r() * 2 * faults.leaderCrashEveryMs) {
      at(Math.floor(t), () => {
        const shard = sim.routing[Math.floor(r() * sim.routing.length)]!;
        const leader = sim.leaderOf(shard.id);
        if (leader !== undefined) crashAndRestart(leader.name);
      });
    }
  }
  if (scenario.membership) {
    const founding = new Map(sim.routing.map((s) => [s.id, s.replicas.length]));
    for (let t = 300 + r() * 1_000; t < durationMs - 1_000; t += 500 + r() * 2_500) {
      at(Math.floor(t), () => changeMembership(sim, founding));
    }
  }
  if (scenario.splits) {
    for (let t = 200 + r() * 800; t < durationMs - 1_000; t += 800 + r() * 2_000) {
      at(Math.floor(t), async () => {
        const task = await startSplit(sim);
        if (task === undefined) return;
        // Some splits are cancelled: in time (rolled back) or too late (they roll forward).
        if (r() < 0.2) at(Math.floor(50 + r() * 1_500), () => void sim.cancelSplit(task.id));
        // The source's or the target's leader crashes mid-split, in whatever phase it has reached.
        if (r() < 0.4) {
          const shardId = r() < 0.5 ? task.sourceShard : task.targetShard;
          at(Math.floor(r() * 1_500), () => {
            const leader = sim.leaderOf(shardId);
            if (leader !== undefined) crashAndRestart(leader.name);
          });
        }
        // Or the source's leader crashes at a write once the target holds the snapshot: the driver is
        // then forwarding what the source commits, and the crash falls where its disk lags its log.
        if (faults.crashesAtWrites && r() < 0.5) {
          const deadlineMs = sim.scheduler.now() + FORWARDING_WAIT_MS_MAX;
          const whenForwarding = (): void => {
            const source = sim.leaderOf(task.sourceShard);
            const target = sim.leaderOf(task.targetShard)?.replicas.get(task.targetShard)?.splitState();
            if (source !== undefined && target?.role === 'target' && target.taskId === task.id && target.snapshotDone) crashAndRestart(source.name, true);
            else if (sim.scheduler.now() < deadlineMs) at(FORWARDING_POLL_MS, whenForwarding);
          };
          at(0, whenForwarding);
        }
        // Or the source's leader stops as its driver's next request to the target leaves (after the split's
        // begin: the probe, or a reset being retried) and stays stopped until a successor has sent the target
        // a snapshot of its own and is forwarding. Resumed, it first runs what came while it was stopped, in
        // order: the answer it awaited comes before the new term's messages, and its driver goes on as leader.
        if (faults.pauses && r() < 0.8) {
          const deadlineMs = sim.scheduler.now() + FORWARDING_WAIT_MS_MAX;
          const delayMs = Math.floor(r() * TRANSFER_PAUSE_DELAY_MS_MAX);
          const forwardingMs = Math.floor(r() * FORWARDING_MS_MAX);
          const whenBegun = (): void => {
            const source = sim.leaderOf(task.sourceShard);
            const begun = source?.replicas.get(task.sourceShard)?.splitState();
            if (source === undefined || begun?.role !== 'source' || begun.taskId !== task.id) {
              if (sim.scheduler.now() < deadlineMs) at(SPLIT_BEGUN_POLL_MS, whenBegun);
              return;
            }
            source.onNextRequest('split', () => at(delayMs, () => pauseUntilSucceeded(source)));
          };
          const pauseUntilSucceeded = (source: SimNode): void => {
            if (sim.liveNode(source.name) !== source) return;
            sim.pause(source.name);
            const resumeByMs = sim.scheduler.now() + TRANSFER_PAUSE_MS_MAX;
            const whenSucceeded = (): void => {
              const successor = sim.leaderOf(task.sourceShard);
              const target = sim.leaderOf(task.targetShard)?.replicas.get(task.targetShard)?.splitState();
              const forwarding = successor !== undefined && successor !== source && target?.role === 'target' && target.taskId === task.id && target.snapshotDone;
              if (forwarding) at(forwardingMs, () => sim.resume(source.name));
              else if (sim.scheduler.now() < resumeByMs) at(FORWARDING_POLL_MS, whenSucceeded);
              else sim.resume(source.name);
            };
            at(FORWARDING_POLL_MS, whenSucceeded);
          };
          at(0, whenBegun);
        }
        // Or pauses: a successor takes over, and the paused leader resumes acting on what it knew.
        if (faults.pauses && r() < 0.4) {
          const shardId = r() < 0.5 ? task.sourceShard : task.targetShard;
          at(Math.floor(r() * 1_500), () => {
            const leader = sim.leaderOf(shardId);
            if (leader === undefined) return;
            sim.pause(leader.name);
            at(200 + Math.floor(r() * (PAUSE_MS_MAX - 200)), () => sim.resume(leader.name));
          });
        }
      });
    }
    // The pilot's leader crashes now and then: reports and routing changes wait for its successor.
    for (let t = 500 + r() * 3_000; t < durationMs - 1_000; t += 1_000 + r() * 4_000) {
      at(Math.floor(t), () => sim.crashPilotLeader(200 + Math.floor(r() * 1_500)));
    }
  }
  return () => {
    ended = true;
    for (const id of events) sim.scheduler.cancel(id);
  };
}

/**
 * Asks the pilot to split a random shard: at a random slot or the one that halves its data, onto the
 * least-loaded nodes or nodes of the simulation's choosing. The task, or undefined when refused.
 */
function startSplit(sim: ClusterSim): Promise<SplitTask | undefined> {
  const r = sim.random;
  const candidates = sim.routing.filter((s) => s.end - s.start >= 2 && s.split === undefined);
  // A one-member source is often chosen when there is one: nothing but its own disk holds what it forwards.
  const single = candidates.filter((s) => s.replicas.length === 1);
  const pool = single.length > 0 && r() < 0.5 ? single : candidates;
  const shard = pool[Math.floor(r() * pool.length)];
  if (shard === undefined) return Promise.resolve(undefined);
  const splitSlot = r() < 0.5 ? shard.start + 1 + Math.floor(r() * (shard.end - shard.start - 1)) : undefined;
  const targetNodes = r() < 0.5 ? shuffle(r, sim.nodeNames()).slice(0, shard.replicas.length) : undefined;
  return sim.createSplit(shard.id, { ...(splitSlot === undefined ? {} : { splitSlot }), ...(targetNodes === undefined ? {} : { targetNodes }) });
}

/** One pilot action: move a shard's replicas by one (add a node, or remove one once it has an extra), or transfer its leadership. */
function changeMembership(sim: ClusterSim, founding: Map<string, number>): void {
  const r = sim.random;
  const shard = sim.routing[Math.floor(r() * sim.routing.length)]!;
  if (!founding.has(shard.id)) founding.set(shard.id, shard.replicas.length);
  const others = sim.nodeNames().filter((n) => !shard.replicas.includes(n));
  if (r() < 0.25 && shard.replicas.length > 1) {
    const candidates = shard.replicas.filter((n) => n !== shard.leader);
    void sim.transferLeader(shard.id, candidates[Math.floor(r() * candidates.length)]!);
  } else if (shard.replicas.length > founding.get(shard.id)! || shard.replicas.length >= 5 || others.length === 0) {
    void sim.removeReplica(shard.id, shard.replicas[Math.floor(r() * shard.replicas.length)]!);
  } else {
    void sim.addReplica(shard.id, others[Math.floor(r() * others.length)]!);
  }
}

function describeScenario(scenario: SimScenario): string {
  const { cluster, membership, smallCompaction } = scenario;
  const { slowDisks } = cluster.node;
  const shards = cluster.shardReplicas.map((replicas, i) => `s${i + 1}[${replicas.map((n) => n.slice(4)).join('')}]`).join(' ');
  return (
    `${cluster.nodeCount} nodes, ${shards}, ${cluster.clients} clients, loss ${cluster.network.lossProbability}, dup ${cluster.network.duplicateProbability}, ` +
    `delay ≤${cluster.network.delayMsMax} ms${smallCompaction ? `, compaction after ${cluster.node.compactAfterEntries} with ${cluster.node.snapshotChunkBytes} B chunks` : ''}` +
    `${membership ? ', membership changes' : ''}${scenario.splits ? ', splits' : ''}, ${cluster.pilot.replicas} pilot replica${cluster.pilot.replicas === 1 ? '' : 's'}` +
    `${slowDisks === undefined ? '' : `, fsync ≤${slowDisks.fsyncDelayMsMax} ms on ${slowDisks.nodes.join('+')}`}${scenario.faults.pauses ? ', pauses' : ''}` +
    `${scenario.faults.crashesAtWrites ? ', crashes at writes' : ''}`
  );
}

function describeFault(step: FaultStep): string {
  switch (step.kind) {
    case 'partition':
      return `${step.atMs} partition ${step.groupA.join('+')}|${step.groupB.join('+')}`;
    case 'heal':
      return `${step.atMs} heal`;
    default:
      return `${step.atMs} ${step.kind} ${step.node}`;
  }
}

/**
 * A member whose log disagrees with the routing table about the slots its shard owns, still takes part
 * in a split, or holds keys outside its range (a cleanup left undone).
 */
function ownershipProblems(shard: RoutingShard, name: string, replica: ShardReplica): string[] {
  const problems: string[] = [];
  const owned = replica.ownedRange();
  if (owned !== null && (owned.start !== shard.start || owned.end !== shard.end)) {
    problems.push(`${shard.id}: ${name}'s log owns [${owned.start}, ${owned.end}), the routing table gives it [${shard.start}, ${shard.end})`);
  }
  const split = replica.splitState();
  if (split !== null) problems.push(`${shard.id}: ${name} is still ${split.role} of ${split.taskId}`);
  const stray = [...replica.data.scan(0, shard.start, undefined, 1), ...replica.data.scan(shard.end, SLOT_COUNT, undefined, 1)];
  if (stray.length > 0) problems.push(`${shard.id}: ${name} holds ${stray[0]!.key.toString('latin1')}, outside [${shard.start}, ${shard.end})`);
  return problems;
}

/** Register and counter keys whose slots fall in the shard's range. */
function keysOf(shard: RoutingShard, registers: number, counters: number): ShardKeys {
  const found: string[] = [];
  for (let i = 0; found.length < registers + counters; i++) {
    const key = `k${shard.id}:${i}`;
    const slot = keyHashSlot(Buffer.from(key));
    if (slot >= shard.start && slot < shard.end) found.push(key);
    if (i > 1_000_000) throw new Error(`no keys found for the slots of ${shard.id}`);
  }
  return { shardId: shard.id, registers: found.slice(0, registers), counters: found.slice(registers) };
}

function describeValue(value: StoredValue | undefined): string {
  if (value === undefined) return 'nil';
  if (value.type === 'string') return `${JSON.stringify(value.value.toString('latin1'))}${value.expireAtMs > 0 ? `@${value.expireAtMs}` : ''}`;
  return JSON.stringify([...value.fields].map(([f, v]) => [f, v.toString('latin1')]).sort());
}

function shuffle<T>(random: () => number, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** A seed for one of the simulation's random streams, so that streams do not correlate. */
function mix(seed: number, stream: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (stream + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
