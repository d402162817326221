/**
 * The Raft core on LMDB storage: a small cluster whose members each keep their log in a NodeStore and their
 * state machine in a shard of it, driven exactly as the node's driver must (stage a Ready, one commitAll,
 * then send, then advance), through elections, a partition that makes a leader's uncommitted suffix be
 * overwritten, compaction, a learner that joins from a snapshot, and restarts from disk.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { decodeConfChange, RawNode, type ConfChangeType, type Entry, type Message, type NodeId, type Ready } from '../../src/raft/index.js';
import type { NodeStore } from '../../src/storage/node-store.js';
import type { LmdbRaftLogStorage } from '../../src/storage/raft-log-store.js';
import type { ShardData } from '../../src/storage/types.js';
import { cmd, seededRandom } from '../support/raft-network.js';
import { testOnEachBackend, type StoreBackend, type StoreDisk } from '../support/store-backends.js';

const GROUP_ID = 'g';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The state machine's key for entry `index`: every applied entry leaves one, so members can be compared. */
const entryKey = (index: number): Buffer => Buffer.from(`e${String(index).padStart(10, '0')}`);

/** What applying an entry records: `term/payload`, conf changes spelled out. */
function appliedValue(entry: Entry): string {
  if (entry.type === 'confChange') {
    const change = decodeConfChange(entry.data);
    return `${entry.term}/cc:${change.type}:${change.nodeId}`;
  }
  return `${entry.term}/${decoder.decode(entry.data)}`;
}

/** One member: its store survives restarts, its RawNode does not. */
class Member {
  store!: NodeStore;
  log!: LmdbRaftLogStorage;
  shard!: ShardData;
  raw!: RawNode;
  down = false;

  constructor(
    readonly id: NodeId,
    private readonly disk: StoreDisk,
    private readonly seed: number,
    voters: readonly NodeId[] | null,
  ) {
    this.openStore();
    if (voters !== null) this.log.bootstrap(voters);
    this.startRaft();
  }

  /** Reopens the store and rebuilds the RawNode from disk alone. */
  async restart(): Promise<void> {
    await this.store.close();
    this.openStore();
    this.startRaft();
    this.down = false;
  }

  /** What the state machine recorded for entry `index`, if it applied it. */
  appliedValue(index: number): string | undefined {
    const stored = this.shard.get(entryKey(index));
    return stored?.type === 'string' ? stored.value.toString() : undefined;
  }

  /** The applied state machine, in index order: `index=term/payload`. */
  state(): string[] {
    const state: string[] = [];
    for (let index = 2; index <= this.log.appliedIndex(); index++) {
      const value = this.appliedValue(index);
      assert(value !== undefined, `member ${this.id} lacks applied entry ${index}`);
      state.push(`${index}=${value}`);
    }
    return state;
  }

  private openStore(): void {
    this.store = this.disk.open();
    // A tiny cache, so that Raft reads from LMDB as much as from memory.
    this.log = this.store.openRaftLog(GROUP_ID, { tailCacheBytesMax: 512, compactBatchEntriesMax: 8 });
    this.shard = this.store.openShard(GROUP_ID);
    this.log.setSnapshotSource(() => {
      const index = this.log.appliedIndex();
      const term = this.log.term(index);
      assert(typeof term === 'number', `term of applied index ${index} is known`);
      return { metadata: { index, term, confState: this.raw.confState() }, data: encoder.encode(JSON.stringify(this.state())) };
    });
  }

  private startRaft(): void {
    // No `applied`: Raft starts from the compaction point and re-delivers what the data already holds.
    this.raw = new RawNode({
      id: this.id,
      storage: this.log,
      random: seededRandom(this.seed * 7919 + this.id),
      electionTicks: 10,
      heartbeatTicks: 1,
      maxInflightMsgs: 64,
      maxSizePerMsgBytes: 2048,
    });
  }
}

class DiskCluster {
  readonly members = new Map<NodeId, Member>();
  private inflight: Message[] = [];
  private readonly cut = new Set<NodeId>();
  /** The entry applied at each index by any member: all must agree (state machine safety). */
  private readonly appliedAt = new Map<number, string>();

  constructor(
    private readonly t: TestContext,
    private readonly backend: StoreBackend,
    private readonly seed: number,
    voters: readonly NodeId[],
  ) {
    for (const id of voters) this.add(id, voters);
  }

  add(id: NodeId, voters: readonly NodeId[] | null): Member {
    const member = new Member(id, this.backend.disk(this.t, { mapBytes: 64 * 1024 ** 2, databasesMax: 16 }), this.seed, voters);
    this.members.set(id, member);
    return member;
  }

  member(id: NodeId): Member {
    const member = this.members.get(id);
    assert(member !== undefined, `no member ${id}`);
    return member;
  }

  /** Carries out the Ready of every live member that has one: stage, one commit per store, send, advance. */
  async handleReadies(): Promise<boolean> {
    const batch: [Member, Ready][] = [];
    for (const member of this.members.values()) {
      if (!member.down && member.raw.hasReady()) batch.push([member, member.raw.ready()]);
    }
    for (const [member, rd] of batch) this.stage(member, rd);
    await Promise.all(batch.map(([member]) => member.store.commitAll()));
    for (const [member, rd] of batch) {
      // Persist before send: the commit above resolved.
      for (const m of rd.messages) this.inflight.push(structuredClone(m));
      member.raw.advance(rd);
    }
    return batch.length > 0;
  }

  private stage(member: Member, rd: Ready): void {
    const { log, shard } = member;
    if (rd.snapshot !== null) {
      assert.equal(log.applySnapshot(rd.snapshot), 'ok');
      shard.clear();
      for (const line of JSON.parse(decoder.decode(rd.snapshot.data)) as string[]) {
        const [index, value] = line.split('=') as [string, string];
        shard.put(entryKey(Number(index)), { type: 'string', value: Buffer.from(value), expireAtMs: 0 });
      }
    }
    log.append(rd.entries);
    if (rd.hardState !== null) log.setHardState(rd.hardState);
    for (const entry of rd.committedEntries) {
      const value = appliedValue(entry);
      const known = this.appliedAt.get(entry.index);
      assert(known === undefined || known === value, `member ${member.id} applies ${value} at ${entry.index}, another applied ${known}`);
      this.appliedAt.set(entry.index, value);
      // After a restart Raft re-delivers entries the data already holds: they must be the same ones.
      if (entry.index <= log.appliedIndex()) {
        assert.equal(member.appliedValue(entry.index), value);
        continue;
      }
      shard.put(entryKey(entry.index), { type: 'string', value: Buffer.from(value), expireAtMs: 0 });
      log.setApplied(entry.index);
    }
  }

  /** Handles Readies and delivers messages until quiet. */
  async stabilize(): Promise<void> {
    for (let rounds = 0; ; rounds++) {
      assert(rounds < 2_000, 'the cluster never stabilizes');
      const handled = await this.handleReadies();
      const batch = this.inflight;
      this.inflight = [];
      for (const m of batch) this.deliver(m);
      if (!handled && batch.length === 0) return;
    }
  }

  private deliver(m: Message): void {
    const to = this.members.get(m.to);
    const delivered = to !== undefined && !to.down && !this.cut.has(m.to) && !this.cut.has(m.from);
    const from = this.member(m.from);
    if (m.type === 'MsgSnap' && !from.down) from.raw.reportSnapshot(m.to, delivered);
    if (delivered) to.raw.step(m);
  }

  async tick(times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      for (const member of this.members.values()) if (!member.down) member.raw.tick();
      await this.stabilize();
    }
  }

  leader(): NodeId {
    let best: NodeId = 0;
    let bestTerm = -1;
    for (const member of this.members.values()) {
      const status = member.raw.basicStatus();
      if (!member.down && !this.cut.has(member.id) && status.role === 'leader' && status.term > bestTerm) {
        best = member.id;
        bestTerm = status.term;
      }
    }
    return best;
  }

  async waitForLeader(): Promise<NodeId> {
    for (let i = 0; i < 300; i++) {
      const leader = this.leader();
      if (leader !== 0) return leader;
      await this.tick(1);
    }
    assert.fail('no leader');
  }

  async propose(text: string): Promise<void> {
    const leader = await this.waitForLeader();
    assert(this.member(leader).raw.propose(cmd(text)).ok, `proposal ${text}`);
    await this.stabilize();
  }

  async changeMembership(type: ConfChangeType, nodeId: NodeId): Promise<void> {
    const leader = await this.waitForLeader();
    assert(this.member(leader).raw.proposeConfChange({ type, nodeId, context: new Uint8Array() }).ok, `${type} ${nodeId}`);
    await this.stabilize();
  }

  isolate(id: NodeId): void {
    this.cut.add(id);
  }

  heal(): void {
    this.cut.clear();
  }

  async close(): Promise<void> {
    for (const member of this.members.values()) await member.store.close();
  }
}

function fixture(t: TestContext, backend: StoreBackend, seed: number, voters: readonly NodeId[]): DiskCluster {
  const cluster = new DiskCluster(t, backend, seed, voters);
  t.after(() => cluster.close());
  return cluster;
}

/** The commands applied, in order: what a client of the group would see. */
function commands(member: Member): string[] {
  return member
    .state()
    .map((line) => line.slice(line.indexOf('/') + 1))
    .filter((payload) => payload !== '' && !payload.startsWith('cc:'));
}

for (const seed of [1, 2, 3]) {
  testOnEachBackend(`a cluster on LMDB storage survives partitions, compaction, a snapshot join and restarts from disk (seed ${seed})`, async (t, backend) => {
    const cluster = fixture(t, backend, seed, [1, 2, 3]);
    const acknowledged: string[] = [];
    const propose = async (text: string): Promise<void> => {
      await cluster.propose(text);
      acknowledged.push(text);
    };
    for (let i = 0; i < 20; i++) await propose(`a${i}`);

    // A leader cut off appends proposals it can never commit; the new leader's entries overwrite them.
    const oldLeader = await cluster.waitForLeader();
    cluster.isolate(oldLeader);
    for (let i = 0; i < 5; i++) assert(cluster.member(oldLeader).raw.propose(cmd(`lost${i}`)).ok);
    await cluster.stabilize();
    const lostLast = cluster.member(oldLeader).log.lastIndex();
    const lostTerm = cluster.member(oldLeader).log.term(lostLast);
    await cluster.tick(30);
    for (let i = 0; i < 10; i++) await propose(`b${i}`);
    cluster.heal();
    await cluster.tick(5);
    assert.notEqual(cluster.member(oldLeader).log.term(lostLast), lostTerm, 'the uncommitted suffix was overwritten');

    // Compact everyone, then a new member can only join from a snapshot built by the storage's source.
    for (const member of cluster.members.values()) {
      assert.equal(member.log.compact(member.log.appliedIndex(), member.raw.confState()), 'ok');
    }
    await Promise.all([...cluster.members.values()].map((m) => m.store.commitAll()));
    cluster.add(4, null);
    await cluster.changeMembership('addLearner', 4);
    await cluster.tick(5);
    assert.ok(cluster.member(4).log.firstIndex() > 1, 'the learner started from a snapshot');
    await cluster.changeMembership('promoteLearner', 4);
    for (let i = 0; i < 10; i++) await propose(`c${i}`);

    // Restart members from disk one by one while the cluster keeps taking writes.
    for (const id of [2, 4, oldLeader]) {
      cluster.member(id).down = true;
      await propose(`d${id}`);
      await cluster.member(id).restart();
      await cluster.tick(3);
    }
    // Then all at once: everything must come back from disk.
    for (const member of cluster.members.values()) await member.restart();
    await cluster.tick(3);
    for (let i = 0; i < 5; i++) await propose(`e${i}`);
    await cluster.tick(3);

    const reference = cluster.member(1).state();
    for (const member of cluster.members.values()) {
      assert.deepEqual(member.state(), reference, `member ${member.id} applied the same log`);
      assert.equal(member.log.appliedIndex(), member.raw.basicStatus().commit);
    }
    assert.deepEqual(commands(cluster.member(1)), acknowledged, 'every acknowledged command applied once, in order, no lost one');
  });
}
