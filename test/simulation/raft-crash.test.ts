/**
 * The simulation's building blocks together under a minimal driver: one Raft group of three members on
 * virtual time, each on its own NodeStore over the fake LMDB, talking through the simulated network,
 * driven as the node's driver must (stage a Ready, one commitAll, then send and advance), through a
 * randomized safety phase of partitions, swizzle-clogs and crashes (which drop every write not yet
 * fsync'd), then a quiet liveness phase. Checks: one leader per term, every member applies the same entry
 * at each index, and every proposal acknowledged (applied by its proposer, durably) is in the final state
 * of every member exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawNode, type Entry, type Message, type NodeId, type Ready } from '../../src/raft/index.js';
import type { LmdbRaftLogStorage } from '../../src/storage/raft-log-store.js';
import type { ShardData } from '../../src/storage/types.js';
import { Scheduler, type EventId } from '../sim/scheduler.js';
import { faultPlan, SimNetwork, type FaultStep } from '../sim/sim-network.js';
import { openSimStore, type FakeLmdbImage, type SimStore } from '../sim/sim-store.js';
import { seededRandom } from '../support/seeded-random.js';

const GROUP_ID = 'g';
const TICK_MS = 10;
const SAFETY_PHASE_MS = 20_000;
const LIVENESS_PHASE_MS = 20_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const nodeName = (id: NodeId): string => `node${id}`;
const nodeId = (name: string): NodeId => Number(name.slice(4));
/** The state machine's key for entry `index`: every applied entry leaves one, so members can be compared. */
const entryKey = (index: number): Buffer => Buffer.from(`e${String(index).padStart(10, '0')}`);
const appliedValue = (entry: Entry): string => `${entry.term}/${entry.type === 'normal' ? decoder.decode(entry.data) : 'cc'}`;

/** One incarnation of a member: a crash ends it, a restart builds the next from the disk image. */
class Member {
  readonly disk: SimStore;
  readonly log: LmdbRaftLogStorage;
  readonly shard: ShardData;
  readonly raw: RawNode;
  alive = true;
  /** Proposals made through this incarnation, acknowledged once it applied them durably. */
  readonly proposals = new Set<string>();
  private persisting = false;
  private tickTimer: EventId;

  constructor(
    readonly id: NodeId,
    private readonly sim: Simulation,
    image: FakeLmdbImage | undefined,
    incarnation: number,
  ) {
    this.disk = openSimStore({ timers: sim.scheduler, fsyncDelayMs: () => 1 + Math.floor(sim.random() * 8), image });
    this.log = this.disk.store.openRaftLog(GROUP_ID);
    this.shard = this.disk.store.openShard(GROUP_ID);
    this.log.setSnapshotSource(() => {
      const index = this.log.appliedIndex();
      const term = this.log.term(index);
      assert(typeof term === 'number');
      return { metadata: { index, term, confState: this.raw.confState() }, data: encoder.encode(JSON.stringify(this.state())) };
    });
    // No `applied`: Raft starts from the compaction point and re-delivers what the data already holds.
    this.raw = new RawNode({
      id,
      storage: this.log,
      random: seededRandom(sim.seed * 7919 + id * 104729 + incarnation),
      electionTicks: 10,
      heartbeatTicks: 1,
      maxInflightMsgs: 16,
      maxSizePerMsgBytes: 1024,
    });
    sim.network.attach(nodeName(id), (from, message) => {
      if (!this.alive) return;
      assert.equal(nodeId(from), message.from);
      this.raw.step(message);
      this.pump();
    });
    const tick = (): void => {
      this.raw.tick();
      this.pump();
      this.tickTimer = sim.scheduler.after(TICK_MS, tick);
    };
    this.tickTimer = sim.scheduler.after(TICK_MS * sim.random(), tick);
  }

  crash(): FakeLmdbImage {
    this.alive = false;
    this.sim.scheduler.cancel(this.tickTimer);
    return this.disk.crash();
  }

  /** The applied state machine, in index order: `index=term/payload`. */
  state(): string[] {
    const state: string[] = [];
    for (let index = 2; index <= this.log.appliedIndex(); index++) {
      const stored = this.shard.get(entryKey(index));
      assert(stored?.type === 'string', `member ${this.id} lacks applied entry ${index}`);
      state.push(`${index}=${stored.value.toString()}`);
    }
    return state;
  }

  /** Carries out one Ready at a time: stage, one commitAll, then send, acknowledge and advance. */
  pump(): void {
    if (!this.alive || this.persisting || !this.raw.hasReady()) return;
    const ready = this.raw.ready();
    this.sim.observeLeader(this);
    this.stage(ready);
    this.persisting = true;
    // On a crash this never resolves: the Ready's messages are never sent, as a dead process sends nothing.
    void this.disk.store.commitAll().then(() => {
      if (!this.alive) return;
      this.persisting = false;
      for (const message of ready.messages) this.sim.network.deliver(nodeName(message.from), nodeName(message.to), structuredClone(message));
      this.raw.advance(ready);
      for (const message of ready.messages) if (message.type === 'MsgSnap') this.raw.reportSnapshot(message.to, true);
      for (const entry of ready.committedEntries) {
        const payload = decoder.decode(entry.data);
        if (this.proposals.delete(payload)) this.sim.acknowledged.add(payload);
      }
      this.pump();
    });
  }

  private stage(ready: Ready): void {
    if (ready.snapshot !== null) {
      assert.equal(this.log.applySnapshot(ready.snapshot), 'ok');
      this.shard.clear();
      for (const line of JSON.parse(decoder.decode(ready.snapshot.data)) as string[]) {
        const [index, value] = line.split('=') as [string, string];
        this.shard.put(entryKey(Number(index)), { type: 'string', value: Buffer.from(value), expireAtMs: 0 });
      }
    }
    this.log.append(ready.entries);
    if (ready.hardState !== null) this.log.setHardState(ready.hardState);
    for (const entry of ready.committedEntries) {
      const value = appliedValue(entry);
      this.sim.recordApplied(this, entry.index, value);
      // After a restart Raft re-delivers entries the data already holds: they must be the same ones.
      if (entry.index <= this.log.appliedIndex()) {
        const stored = this.shard.get(entryKey(entry.index));
        assert(stored?.type === 'string' && stored.value.toString() === value, `member ${this.id} re-applies ${value} at ${entry.index} over other data`);
        continue;
      }
      this.shard.put(entryKey(entry.index), { type: 'string', value: Buffer.from(value), expireAtMs: 0 });
      this.log.setApplied(entry.index);
    }
    // Keep the log short, so that members that fell behind catch up from a snapshot.
    const applied = this.log.appliedIndex();
    if (applied - this.log.firstIndex() > 40) this.log.compact(applied - 10, this.raw.confState());
  }
}

class Simulation {
  readonly scheduler = new Scheduler();
  readonly random: () => number;
  readonly network: SimNetwork<Message>;
  readonly members = new Map<NodeId, Member>();
  readonly acknowledged = new Set<string>();
  private readonly images = new Map<NodeId, FakeLmdbImage>();
  private readonly incarnations = new Map<NodeId, number>();
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly appliedAt = new Map<number, string>();
  crashes = 0;

  constructor(readonly seed: number) {
    this.random = seededRandom(seed);
    this.network = new SimNetwork<Message>(this.scheduler, seededRandom(seed * 31 + 7), {
      delayMsMin: 1,
      delayMsMax: 20,
      lossProbability: 0.05,
      duplicateProbability: 0.05,
    });
  }

  /** Founding members, with their bootstrap durable before the run starts. */
  async start(ids: readonly NodeId[]): Promise<void> {
    for (const id of ids) {
      const disk = openSimStore({ timers: this.scheduler });
      disk.store.openRaftLog(GROUP_ID).bootstrap(ids);
      disk.store.openShard(GROUP_ID);
      void disk.store.commitAll();
      await this.scheduler.runUntil(this.scheduler.now() + 1);
      this.images.set(id, disk.crash());
      this.network.addNode(nodeName(id));
    }
    for (const id of ids) this.restart(id);
  }

  /** Crashes the member if it runs (the fault plan and the random crashes may both pick it). */
  crash(id: NodeId): void {
    const member = this.members.get(id);
    if (member === undefined || !member.alive) return;
    if (this.network.isUp(nodeName(id))) this.network.crash(nodeName(id));
    this.images.set(id, member.crash());
    this.crashes++;
  }

  /** Restarts the member from its disk image if it is down. */
  restart(id: NodeId): void {
    if (this.members.get(id)?.alive === true) return;
    if (!this.network.isUp(nodeName(id))) this.network.restart(nodeName(id));
    const incarnation = (this.incarnations.get(id) ?? 0) + 1;
    this.incarnations.set(id, incarnation);
    this.members.set(id, new Member(id, this, this.images.get(id), incarnation));
  }

  /** Proposes through whichever running member thinks it leads; false if none does. */
  propose(payload: string): boolean {
    for (const member of this.members.values()) {
      if (!member.alive || member.raw.basicStatus().role !== 'leader') continue;
      if (!member.raw.propose(encoder.encode(payload)).ok) return false;
      member.proposals.add(payload);
      member.pump();
      return true;
    }
    return false;
  }

  observeLeader(member: Member): void {
    const status = member.raw.basicStatus();
    if (status.role !== 'leader') return;
    const known = this.leaderOfTerm.get(status.term);
    assert(known === undefined || known === member.id, `election safety: ${known} and ${member.id} both lead term ${status.term}`);
    this.leaderOfTerm.set(status.term, member.id);
  }

  recordApplied(member: Member, index: number, value: string): void {
    const known = this.appliedAt.get(index);
    assert(known === undefined || known === value, `state machine safety: member ${member.id} applies ${value} at ${index}, another applied ${known}`);
    this.appliedAt.set(index, value);
  }
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`a Raft group on NodeStores that crash keeps every acknowledged write through partitions, clogs and crashes (seed ${seed})`, async () => {
    const sim = new Simulation(seed);
    const ids = [1, 2, 3];
    await sim.start(ids);
    const plan: FaultStep[] = faultPlan(seededRandom(seed * 17), ids.map(nodeName), SAFETY_PHASE_MS, {
      crashes: true,
      faultMsMin: 200,
      faultMsMax: 3_000,
      calmMsMax: 1_000,
      swizzleStepMsMax: 100,
    });
    sim.network.scheduleFaults(plan, { onCrash: (name) => sim.crash(nodeId(name)), onRestart: (name) => sim.restart(nodeId(name)) });
    // Crashes also come at random moments of their own, often in the middle of an fsync.
    for (let atMs = 500; atMs < SAFETY_PHASE_MS; atMs += 500 + Math.floor(sim.random() * 2_000)) {
      const id = ids[Math.floor(sim.random() * ids.length)]!;
      sim.scheduler.at(sim.scheduler.now() + atMs, () => {
        sim.crash(id);
        sim.scheduler.after(50 + Math.floor(sim.random() * 500), () => sim.restart(id));
      });
    }
    let proposed = 0;
    let clientRunning = true;
    const client = (): void => {
      if (!clientRunning) return;
      if (sim.propose(`p${proposed}`)) proposed++;
      sim.scheduler.after(20, client);
    };
    client();
    await sim.scheduler.runUntil(sim.scheduler.now() + SAFETY_PHASE_MS);

    // Liveness: no more faults; whoever is down comes back; a new write must go through.
    clientRunning = false;
    for (const name of sim.network.quiesce()) sim.restart(nodeId(name));
    for (const member of [...sim.members.values()]) sim.restart(member.id);
    const deadline = sim.scheduler.now() + LIVENESS_PHASE_MS;
    const finalWritten = (): boolean => [...sim.acknowledged].some((payload) => payload.startsWith('final'));
    for (let attempt = 0; !finalWritten() && sim.scheduler.now() < deadline; attempt++) {
      sim.propose(`final${attempt}`);
      await sim.scheduler.runUntil(sim.scheduler.now() + 500);
    }
    assert.ok(finalWritten(), `seed ${seed}: a write goes through once the faults end`);
    const members = [...sim.members.values()];
    const caughtUp = (): boolean => members.every((m) => m.log.appliedIndex() === members[0]!.log.appliedIndex() && m.log.appliedIndex() === m.raw.basicStatus().commit);
    while (!caughtUp() && sim.scheduler.now() < deadline + 5_000) await sim.scheduler.runUntil(sim.scheduler.now() + 100);

    const reference = members[0]!.state();
    for (const member of members) assert.deepEqual(member.state(), reference, `seed ${seed}: member ${member.id} applied the same log`);
    const payloads = reference.map((line) => line.slice(line.indexOf('/') + 1)).filter((payload) => payload !== '' && payload !== 'cc');
    assert.equal(new Set(payloads).size, payloads.length, `seed ${seed}: no proposal applied twice`);
    const applied = new Set(payloads);
    const lost = [...sim.acknowledged].filter((payload) => !applied.has(payload));
    assert.deepEqual(lost, [], `seed ${seed}: acknowledged proposals lost`);
    assert.ok(sim.crashes >= 5, `seed ${seed}: only ${sim.crashes} crashes`);
    assert.ok(sim.acknowledged.size > 50, `seed ${seed}: only ${sim.acknowledged.size} proposals acknowledged`);
  });
}
