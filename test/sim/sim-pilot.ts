/**
 * The pilot of the whole-cluster simulation: one or three replicas of the shipped pilot (Pilot over its
 * PilotStateDriver), each its own simulated process with
 * - the scheduler's virtual clock and timers and a seeded random (sim-environment.ts);
 * - a bus on the simulation's network (sim-bus.ts), so Raft between the replicas is lost, delayed,
 *   duplicated and cut like the nodes' traffic;
 * - the real NodeStore over a fake LMDB (sim-store.ts): a crash keeps what had landed, and the next
 *   incarnation opens that image, as a restarted pilot process opens its data dir.
 * The group's first change imports the cluster the simulation chose, as a pilot imports the log of a
 * single-process pilot (`import-state`): the first replica holds it and the group takes it once that
 * replica leads. So the pilot starts with exactly the simulation's nodes and shards.
 */
import { Pilot, type PilotConfig } from '../../src/pilot/pilot.js';
import type { PilotPeer } from '../../src/pilot/pilot-peers.js';
import type { PilotState } from '../../src/pilot/state.js';
import type { FakeLmdbImage } from './fake-lmdb.js';
import type { Scheduler } from './scheduler.js';
import { SimBus } from './sim-bus.js';
import { simEnvironment } from './sim-environment.js';
import { simLogger } from './sim-logger.js';
import type { SimNetwork } from './sim-network.js';
import { emptyFakeLmdbImage, openSimStore, type SimStore } from './sim-store.js';

/** What the pilot replicas need from the simulation around them. */
export interface SimPilotEnv {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<Buffer>;
  /** A seeded random stream for one incarnation of the replica with Raft id `replicaNumber`. */
  random(replicaNumber: number, incarnation: number): () => number;
  trace(line: string): void;
  fail(message: string): void;
}

/** The pilot group a simulation runs. */
export interface SimPilotOptions {
  /** Replicas pilot1..pilotN. */
  readonly replicas: number;
  readonly config: PilotConfig;
  /** What the group starts with: the simulation's nodes and shards. */
  readonly initialState: PilotState;
  readonly tickMs: number;
  readonly electionTimeoutMs: number;
  /** Applied entries kept before the group's log is compacted: few, and a lagging replica restores a snapshot. */
  readonly logEntriesMax: number;
  /** Virtual ms from a transaction's first write to its fsync, drawn per transaction. */
  readonly fsyncDelayMsMax: number;
}

/** One incarnation of a pilot replica. */
export interface SimPilotReplica {
  readonly id: string;
  readonly incarnation: number;
  alive: boolean;
  /** Set once `Pilot.open` returned: until then the process answers nothing. */
  pilot: Pilot | undefined;
  /** Settles when this incarnation crashes: what a caller waiting for its answer learns. */
  readonly crashed: Promise<void>;
}

interface Incarnation extends SimPilotReplica {
  readonly disk: SimStore;
  readonly crash: () => void;
}

/** The pilot replicas, their crashes and restarts, and the state the checkers read; see the module comment. */
export class SimPilotGroup {
  readonly peers: readonly PilotPeer[];
  private readonly current = new Map<string, Incarnation>();
  private readonly images = new Map<string, FakeLmdbImage>();
  /** The newest state read from a live replica: what the checkers see while none runs. */
  private lastState: PilotState;
  private lastAppliedIndex = 0;

  constructor(
    private readonly env: SimPilotEnv,
    private readonly options: SimPilotOptions,
  ) {
    this.peers = Array.from({ length: options.replicas }, (_, i) => ({ id: `pilot${i + 1}`, host: `pilot${i + 1}`, port: 7100 + i + 1, busPort: 17100 + i + 1 }));
    this.lastState = options.initialState;
  }

  get ids(): string[] {
    return this.peers.map((p) => p.id);
  }

  /** Starts every replica on an empty disk. */
  start(): void {
    for (const { id } of this.peers) {
      this.env.network.addNode(id);
      this.images.set(id, emptyFakeLmdbImage());
      this.restart(id);
    }
  }

  /** The replica's current incarnation if it runs and has opened its state. */
  replica(id: string): SimPilotReplica | undefined {
    const replica = this.current.get(id);
    return replica?.alive === true && replica.pilot !== undefined ? replica : undefined;
  }

  isUp(id: string): boolean {
    return this.current.get(id)?.alive === true;
  }

  /** The live replica that leads and serves (in the highest term, should an old leader not know yet). */
  serving(): SimPilotReplica | undefined {
    let best: SimPilotReplica | undefined;
    let bestTerm = -1;
    for (const { id } of this.peers) {
      const replica = this.replica(id);
      const status = replica?.pilot?.replication();
      if (status?.serving === true && status.term > bestTerm) {
        best = replica;
        bestTerm = status.term;
      }
    }
    return best;
  }

  /**
   * What the serving replica answers, as the operator's CLI gets it; undefined while none serves, or when
   * it crashes before it answers.
   */
  async ask<T>(handle: (pilot: Pilot) => Promise<T>): Promise<T | undefined> {
    const replica = this.serving();
    if (replica === undefined) return undefined;
    return Promise.race([handle(replica.pilot!), replica.crashed.then(() => undefined)]);
  }

  /**
   * The pilot's state as the checkers see it: the serving replica's, else the newest a live replica has
   * applied, else the last one read (every replica is down; it is what their disks hold).
   */
  get state(): PilotState {
    const serving = this.serving()?.pilot;
    if (serving !== undefined) return this.remember(serving);
    let newest: Pilot | undefined;
    for (const { id } of this.peers) {
      const pilot = this.replica(id)?.pilot;
      if (pilot !== undefined && (newest === undefined || pilot.replication().appliedIndex > newest.replication().appliedIndex)) newest = pilot;
    }
    return newest === undefined ? this.lastState : this.remember(newest);
  }

  /** Crashes a replica if it runs: it keeps only what its disk had made durable. */
  crash(id: string): void {
    this.current.get(id)?.crash();
  }

  /** Starts a replica's next incarnation from its disk image if it is down. */
  restart(id: string): void {
    if (this.isUp(id)) return;
    const network = this.env.network;
    if (!network.isUp(id)) network.restart(id);
    const incarnation = (this.current.get(id)?.incarnation ?? 0) + 1;
    const random = this.env.random(Number(id.slice('pilot'.length)), incarnation);
    let markCrashed = (): void => {};
    const crashed = new Promise<void>((resolve) => (markCrashed = resolve));
    const alive = (): boolean => replica.alive;
    const fail = (message: string): void => this.env.fail(message);
    const environment = simEnvironment(this.env.scheduler, random, alive, (reason) => fail(`${id} halts: ${reason}`));
    const disk = openSimStore({ timers: this.env.scheduler, fsyncDelayMs: () => 1 + Math.floor(random() * this.options.fsyncDelayMsMax), image: this.images.get(id)! });
    const replica: Incarnation = {
      id,
      incarnation,
      alive: true,
      pilot: undefined,
      crashed,
      disk,
      crash: () => {
        if (!replica.alive) return;
        replica.alive = false;
        if (network.isUp(id)) network.crash(id);
        this.images.set(id, disk.crash());
        markCrashed();
      },
    };
    this.current.set(id, replica);
    this.env.trace(`${id} starts (incarnation ${incarnation})`);
    const bus = new SimBus(id, network, environment, alive, fail);
    const { config, initialState, tickMs, electionTimeoutMs, logEntriesMax } = this.options;
    let clusterIds = 0;
    Pilot.open(
      config,
      {
        env: environment,
        store: disk.store,
        openBus: async () => bus,
        // Asked only while the group's state is empty: the first replica brings the simulation's cluster.
        recoverOldLog: async () => (id === this.peers[0]!.id ? { state: initialState, path: 'the simulation' } : undefined),
        // Nodes never register anew here: they are in the imported state.
        newClusterId: () => (++clusterIds).toString(16).padStart(40, '0'),
        logger: simLogger({ name: id, alive, trace: (line) => this.env.trace(line), fail }),
      },
      { selfId: id, peers: this.peers, tickMs, electionTimeoutMs, logEntriesMax },
    ).then(
      (pilot) => {
        if (replica.alive) replica.pilot = pilot;
      },
      (error: unknown) => {
        if (replica.alive) fail(`${id} did not open: ${error instanceof Error ? error.stack : String(error)}`);
      },
    );
  }

  private remember(pilot: Pilot): PilotState {
    const { appliedIndex } = pilot.replication();
    if (appliedIndex >= this.lastAppliedIndex) {
      this.lastAppliedIndex = appliedIndex;
      this.lastState = pilot.state;
    }
    return pilot.state;
  }
}
