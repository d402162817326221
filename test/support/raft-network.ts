/**
 * A deterministic in-process network of Raft RawNodes for tests: it carries out every Ready exactly as a
 * driver must (persist, send, apply, advance), delivers messages through a queue that tests can reorder,
 * drop, filter and partition, crashes and restarts nodes from their persisted storage, and checks safety
 * invariants on every step:
 * - election safety: at most one leader per term, ever;
 * - state machine safety: every node applies the same entry (term and data) at each index.
 */
import assert from 'node:assert/strict';
import {
  decodeConfChange,
  MemoryRaftStorage,
  RawNode,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftConfig,
  type ReadState,
  type Ready,
  type Role,
} from '../../src/raft/index.js';
import { seededRandom } from './seeded-random.js';

export { seededRandom };

/** The tunables a test may change; the rest of RaftConfig is filled in by the network. */
export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage' | 'random'>>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a test command. */
export function cmd(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * One simulated member: its persisted storage (survives crashes), its RawNode (does not), and its state
 * machine — the list of applied entries as `index/term/payload` strings, which is what snapshots carry.
 */
export class SimNode {
  raw: RawNode;
  /** Applied entries, `${index}/${term}/${payload}`; empty entries have an empty payload. */
  state: string[] = [];
  appliedIndex = 0;
  readStates: ReadState[] = [];
  down = false;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryRaftStorage,
    private readonly makeConfig: (id: NodeId, storage: MemoryRaftStorage) => RaftConfig,
  ) {
    this.raw = new RawNode(makeConfig(id, storage));
    this.loadSnapshotState();
  }

  /** Rebuilds the RawNode and state machine from storage, as after a crash. */
  restart(): void {
    this.raw = new RawNode(this.makeConfig(this.id, this.storage));
    this.readStates = [];
    this.loadSnapshotState();
    this.down = false;
  }

  private loadSnapshotState(): void {
    const snap = this.storage.snapshot();
    this.state = decodeState(snap.data);
    this.appliedIndex = snap.metadata.index;
  }

  /** Application payloads (non-empty normal entries) applied, in order. */
  appliedCommands(): string[] {
    return this.state.map((s) => s.split('/').slice(2).join('/')).filter((p) => p !== '' && !p.startsWith('cc:'));
  }

  /** Snapshots the state machine at the applied index and compacts the log up to it. */
  compact(): void {
    const index = this.appliedIndex;
    if (this.storage.createSnapshot(index, this.raw.confState(), encodeState(this.state)) !== 'ok') return;
    assert.equal(this.storage.compact(index), 'ok');
  }

  role(): Role {
    return this.raw.basicStatus().role;
  }
}

function encodeState(state: readonly string[]): Uint8Array {
  return encoder.encode(JSON.stringify(state));
}

function decodeState(data: Uint8Array): string[] {
  return data.byteLength === 0 ? [] : (JSON.parse(decoder.decode(data)) as string[]);
}

function describe(m: Message): string {
  switch (m.type) {
    case 'MsgApp':
      return `${m.from}->${m.to} ${m.type} t${m.term} i${m.index}/${m.logTerm} n${m.entries.length} c${m.commit}`;
    case 'MsgAppResp':
      return `${m.from}->${m.to} ${m.type} t${m.term} i${m.index}${m.reject ? ` reject hint ${m.rejectHint}/${m.logTerm}` : ''}`;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return `${m.from}->${m.to} ${m.type} t${m.term}${m.reject ? ' reject' : ''}`;
    case 'MsgHeartbeat':
      return `${m.from}->${m.to} ${m.type} t${m.term} c${m.commit}`;
    case 'MsgSnap':
      return `${m.from}->${m.to} ${m.type} t${m.term} i${m.snapshot.metadata.index}`;
    default:
      return `${m.from}->${m.to} ${m.type} t${m.term}`;
  }
}

/** Options of a whole network. */
export interface NetworkOptions {
  /** Founding voters (bootstrapped storage). */
  readonly voters: readonly NodeId[];
  readonly seed?: number;
  readonly node?: NodeOptions;
}

/** A deterministic network of SimNodes. */
export class RaftNetwork {
  readonly nodes = new Map<NodeId, SimNode>();
  /** Messages sent and not yet delivered, in send order. */
  inflight: Message[] = [];
  /** Every message sent, described, in order: two runs from one seed must produce the same trace. */
  readonly trace: string[] = [];
  /** Leader of each term ever observed. */
  readonly leaderOfTerm = new Map<number, NodeId>();
  /** The entry applied at each index by any node (`term/payload`): all nodes must agree. */
  readonly appliedAt = new Map<number, string>();
  /** Highest index any node has applied: a read requested later must be at least this new. */
  maxAppliedIndex = 0;
  /** Test hook: return null to drop a message, or a (possibly changed) message to deliver. */
  intercept: ((m: Message) => Message | null) | null = null;
  private readonly cut = new Set<string>();
  readonly random: () => number;
  private readonly nodeOptions: NodeOptions;
  private readonly seed: number;

  constructor(options: NetworkOptions) {
    this.seed = options.seed ?? 1;
    this.random = seededRandom(this.seed);
    this.nodeOptions = options.node ?? {};
    for (const id of options.voters) this.addNode(id, MemoryRaftStorage.bootstrap(options.voters));
  }

  /** Adds a member with the given storage (empty for a node joining an existing group). */
  addNode(id: NodeId, storage: MemoryRaftStorage = new MemoryRaftStorage()): SimNode {
    assert(!this.nodes.has(id), `node ${id} exists`);
    const node = new SimNode(id, storage, (nodeId, s) => this.makeConfig(nodeId, s));
    this.nodes.set(id, node);
    return node;
  }

  private makeConfig(id: NodeId, storage: MemoryRaftStorage): RaftConfig {
    return {
      id,
      storage,
      // Each node has its own stream, derived from the network seed, so nodes do not share timeouts.
      random: seededRandom(this.seed * 7919 + id * 104729),
      electionTicks: 10,
      heartbeatTicks: 1,
      maxInflightMsgs: 256,
      maxSizePerMsgBytes: 1024 * 1024,
      ...this.nodeOptions,
    };
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `no node ${id}`);
    return node;
  }

  raw(id: NodeId): RawNode {
    return this.node(id).raw;
  }

  // --- invariants --------------------------------------------------------------------------------------

  /** Records who leads which term; fails on a second leader in one term. */
  private observe(node: SimNode): void {
    const status = node.raw.basicStatus();
    if (status.role !== 'leader') return;
    const known = this.leaderOfTerm.get(status.term);
    assert(known === undefined || known === node.id, `election safety: ${known} and ${node.id} both lead term ${status.term}`);
    this.leaderOfTerm.set(status.term, node.id);
  }

  private recordApplied(node: SimNode, index: number, value: string): void {
    const known = this.appliedAt.get(index);
    assert(known === undefined || known === value, `state machine safety: node ${node.id} applied ${value} at ${index}, another applied ${known}`);
    this.appliedAt.set(index, value);
    this.maxAppliedIndex = Math.max(this.maxAppliedIndex, index);
  }

  // --- driving -----------------------------------------------------------------------------------------

  /** Carries out one Ready of `id` the way a driver must. Returns false when there was none. */
  handleReady(id: NodeId): boolean {
    const node = this.node(id);
    if (node.down || !node.raw.hasReady()) return false;
    const rd: Ready = node.raw.ready();
    // 1. Persist.
    if (rd.snapshot !== null) assert.equal(node.storage.applySnapshot(rd.snapshot), 'ok');
    node.storage.append(rd.entries);
    if (rd.hardState !== null) node.storage.setHardState(rd.hardState);
    // 2. Send.
    for (const m of rd.messages) this.send(m);
    // 3. Apply.
    if (rd.snapshot !== null) {
      node.state = decodeState(rd.snapshot.data);
      node.appliedIndex = rd.snapshot.metadata.index;
    }
    for (const e of rd.committedEntries) {
      assert.equal(e.index, node.appliedIndex + 1, `node ${id} applies ${e.index} after ${node.appliedIndex}`);
      let payload = decoder.decode(e.data);
      if (e.type === 'confChange') {
        const cc = decodeConfChange(e.data);
        payload = `cc:${cc.type}:${cc.nodeId}`;
      }
      const value = `${e.term}/${payload}`;
      this.recordApplied(node, e.index, value);
      node.state.push(`${e.index}/${value}`);
      node.appliedIndex = e.index;
    }
    node.readStates.push(...rd.readStates);
    // 4. Advance.
    node.raw.advance(rd);
    this.observe(node);
    return true;
  }

  /** Handles Readies of every node until none has one. */
  flushReadies(): void {
    for (let rounds = 0; ; rounds++) {
      assert(rounds < 1000, 'readies never settle');
      let any = false;
      for (const id of this.nodes.keys()) any = this.handleReady(id) || any;
      if (!any) return;
    }
  }

  private send(m: Message): void {
    this.trace.push(describe(m));
    // A real transport copies bytes: so do we, so no node can alias another's data.
    this.inflight.push(structuredClone(m));
  }

  /** Whether a message from `from` to `to` would get through now. */
  linkUp(from: NodeId, to: NodeId): boolean {
    const target = this.nodes.get(to);
    return target !== undefined && !target.down && !this.node(from).down && !this.cut.has(`${from}->${to}`);
  }

  /** Delivers one message (dropped when the link is cut or the intercept drops it). */
  deliver(m: Message): void {
    let message: Message | null = m;
    if (this.intercept !== null) message = this.intercept(m);
    const delivered = message !== null && this.linkUp(message.from, message.to);
    // The transport reports snapshot outcomes to the leader.
    if (m.type === 'MsgSnap' && !this.node(m.from).down) this.node(m.from).raw.reportSnapshot(m.to, delivered);
    if (!delivered || message === null) return;
    const node = this.node(message.to);
    node.raw.step(message);
    this.observe(node);
  }

  /** Loses a message in the network; like a transport, report a lost snapshot to its sender. */
  drop(m: Message): void {
    if (m.type === 'MsgSnap' && !this.node(m.from).down) this.node(m.from).raw.reportSnapshot(m.to, false);
  }

  /** Delivers messages and handles Readies until quiet. Returns the number of messages delivered. */
  stabilize(maxMessages = 100_000): number {
    let delivered = 0;
    for (;;) {
      this.flushReadies();
      if (this.inflight.length === 0) return delivered;
      const batch = this.inflight;
      this.inflight = [];
      for (const m of batch) this.deliver(m);
      delivered += batch.length;
      assert(delivered <= maxMessages, 'network never stabilizes');
    }
  }

  /** Ticks one node. */
  tick(id: NodeId): void {
    const node = this.node(id);
    if (node.down) return;
    node.raw.tick();
    this.observe(node);
  }

  /** `n` times: tick every live node, then stabilize. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.nodes.keys()) this.tick(id);
      this.stabilize();
    }
  }

  /** Makes `id` campaign now and runs the election to the end. */
  campaign(id: NodeId): void {
    this.node(id).raw.campaign();
    this.observe(this.node(id));
    this.stabilize();
  }

  /** Proposes on `id` and stabilizes. */
  propose(id: NodeId, text: string): ProposeResult {
    const result = this.node(id).raw.propose(cmd(text));
    this.stabilize();
    return result;
  }

  // --- faults ------------------------------------------------------------------------------------------

  /** Cuts every link between different groups (nodes not listed keep their links within... nothing). */
  partition(...groups: NodeId[][]): void {
    this.heal();
    const groupOf = new Map<NodeId, number>();
    for (const [i, g] of groups.entries()) for (const id of g) groupOf.set(id, i);
    for (const a of this.nodes.keys()) {
      for (const b of this.nodes.keys()) {
        if (a !== b && groupOf.get(a) !== groupOf.get(b)) this.cut.add(`${a}->${b}`);
      }
    }
  }

  /** Cuts `id` off from everyone. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  /** Cuts one direction of one link. */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** Crashes `id`: its RawNode and unpersisted state are gone; storage stays. */
  crash(id: NodeId): void {
    this.node(id).down = true;
  }

  /** Restarts a crashed node from its storage. */
  restart(id: NodeId): void {
    this.node(id).restart();
  }

  // --- queries -----------------------------------------------------------------------------------------

  /** The live leader with the highest term, or 0. */
  leader(): NodeId {
    let best = 0;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      if (node.down) continue;
      const s = node.raw.basicStatus();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = node.id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** Ticks until some live node leads (and all know it), or fails. */
  waitForLeader(maxTicks = 500): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader();
      if (leader !== 0) return leader;
      this.tickAll();
    }
    assert.fail(`no leader after ${maxTicks} ticks`);
  }

  /**
   * Log matching over committed prefixes: for every pair of nodes, the entries both still store at
   * indexes both have committed are identical.
   */
  checkLogMatching(): void {
    const nodes = [...this.nodes.values()];
    for (const a of nodes) {
      for (const b of nodes) {
        if (a.id >= b.id) continue;
        const hi = Math.min(a.storage.getHardState().commit, b.storage.getHardState().commit, a.storage.lastIndex(), b.storage.lastIndex());
        const lo = Math.max(a.storage.firstIndex(), b.storage.firstIndex());
        if (lo > hi) continue;
        const ea = a.storage.entries(lo, hi + 1, Infinity);
        const eb = b.storage.entries(lo, hi + 1, Infinity);
        assert(typeof ea !== 'string' && typeof eb !== 'string');
        assert.deepEqual(
          ea.map((e) => [e.index, e.term, e.type, decoder.decode(e.data)]),
          eb.map((e) => [e.index, e.term, e.type, decoder.decode(e.data)]),
          `log matching between ${a.id} and ${b.id}`,
        );
      }
    }
  }
}
