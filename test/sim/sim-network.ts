/**
 * The network of the whole-cluster simulation: opaque messages between node ids ('node1', ...), carried
 * on the virtual-time scheduler, with the faults a real network has and a few it rarely shows but that
 * find bugs quickly:
 * - a random delay per message (so messages reorder), random loss and random duplication;
 * - partitions: links cut between two groups (or around one isolated node) until `heal()`; a message on a
 *   cut link is dropped when sent and when it would arrive, so nothing ever crosses a cut;
 * - clogging (FoundationDB's "swizzle-clogging"): a clogged node's messages, both ways, are held, not
 *   dropped, and go out with a fresh delay when it is unclogged; a swizzle clogs a random subset of nodes
 *   one by one, then unclogs them in a random order, which makes links fail and recover in patterns
 *   that a plain partition never produces;
 * - crashes: a crashed node sends nothing and receives nothing; a message sent to one incarnation of a
 *   node is never delivered to the next (its connection died with the process);
 * - pauses: a stopped process (a long GC pause, SIGSTOP, a descheduled VM) whose connections stay up: the
 *   plan's 'pause' and 'resume' steps call the simulation's hooks, which stop the node's timers and hold
 *   what reaches it, in order, until it resumes (sim-environment.ts's PauseGate). What it had sent before
 *   arrives; what was sent to it waits past its senders' timeouts, and what it does on resuming it does
 *   on a view of the cluster as old as the pause.
 *
 * Every random choice comes from the `random` given to the constructor, and the order of events from the
 * scheduler, so a seed replays the same deliveries. `faultPlan` draws a schedule of faults for a
 * simulation's safety phase; `quiesce` ends every fault for its liveness phase.
 *
 * Payloads are delivered as given, and a duplicate is the same object: send encoded bytes or immutable
 * data.
 */
import { assert } from '../../src/common/errors.js';
import type { EventId, Scheduler } from './scheduler.js';

/** Receives the messages addressed to one node. */
export type MessageHandler<T> = (from: string, payload: T) => void;

/** How the network behaves when no fault plan says otherwise. */
export interface SimNetworkOptions {
  /** Each message takes a whole number of milliseconds, uniform in [delayMsMin, delayMsMax]. */
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** Chance that a message is lost. */
  readonly lossProbability: number;
  /** Chance that a message that is not lost is delivered twice (each copy with its own delay). */
  readonly duplicateProbability: number;
  /** Most messages in flight or held; more are dropped, as a full socket buffer would. Default 1,000,000. */
  readonly inFlightMax?: number;
}

/** What happened to the messages sent so far. */
export interface SimNetworkStats {
  /** Calls to `deliver`. */
  sent: number;
  /** Copies handed to a receiver. */
  delivered: number;
  /** Lost to the loss probability. */
  lost: number;
  /** Extra copies made. */
  duplicated: number;
  /** Dropped because the link was cut when sent or when arriving. */
  droppedPartitioned: number;
  /** Dropped because the sender or receiver was crashed, or the receiver restarted meanwhile. */
  droppedCrashed: number;
  /** Dropped because `inFlightMax` messages were already in flight. */
  droppedOverflow: number;
  /** Times a copy was held by a clog (a copy held, released and held again counts twice). */
  held: number;
}

/** One step of a fault plan, `atMs` after the plan starts. */
export type FaultStep =
  | { readonly atMs: number; readonly kind: 'partition'; readonly groupA: readonly string[]; readonly groupB: readonly string[] }
  | { readonly atMs: number; readonly kind: 'isolate'; readonly node: string }
  | { readonly atMs: number; readonly kind: 'heal' }
  | { readonly atMs: number; readonly kind: 'clog'; readonly node: string }
  | { readonly atMs: number; readonly kind: 'unclog'; readonly node: string }
  | { readonly atMs: number; readonly kind: 'crash'; readonly node: string }
  | { readonly atMs: number; readonly kind: 'restart'; readonly node: string }
  | { readonly atMs: number; readonly kind: 'pause'; readonly node: string }
  | { readonly atMs: number; readonly kind: 'resume'; readonly node: string };

/** What the simulation does when a planned crash or restart comes: rebuild the node from its disk, etc. */
export interface FaultHooks {
  /** Called after the network marked the node crashed. */
  readonly onCrash?: (node: string) => void;
  /** Called after the network marked the node up again (attach its new handler here). */
  readonly onRestart?: (node: string) => void;
  /** Stops the node's process, which keeps its connections (see the module comment). */
  readonly onPause?: (node: string) => void;
  readonly onResume?: (node: string) => void;
}

interface InFlight<T> {
  readonly from: string;
  readonly to: string;
  readonly payload: T;
  /** The receiver's incarnation when sent: a restart in between means the connection is gone. */
  readonly toIncarnation: number;
}

interface NodeState<T> {
  handler: MessageHandler<T> | undefined;
  up: boolean;
  incarnation: number;
  clogged: boolean;
}

const IN_FLIGHT_MAX_DEFAULT = 1_000_000;

/** A simulated network; see the module comment. */
export class SimNetwork<T> {
  readonly stats: SimNetworkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    droppedPartitioned: 0,
    droppedCrashed: 0,
    droppedOverflow: 0,
    held: 0,
  };
  private readonly nodes = new Map<string, NodeState<T>>();
  /** Cut links, as `linkKey(a, b)`. */
  private readonly cut = new Set<string>();
  /** Messages held by a clog, oldest first. */
  private held: InFlight<T>[] = [];
  private inFlight = 0;
  private lossProbability: number;
  private duplicateProbability: number;
  private readonly delayMsMin: number;
  private readonly delayMsMax: number;
  private readonly inFlightMax: number;
  /** Fault steps scheduled and not yet run: `quiesce` cancels them. */
  private readonly faultEvents = new Set<EventId>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: () => number,
    options: SimNetworkOptions,
  ) {
    assert(Number.isInteger(options.delayMsMin) && options.delayMsMin >= 0, `delayMsMin ${options.delayMsMin} must be a non-negative integer`);
    assert(Number.isInteger(options.delayMsMax) && options.delayMsMax >= options.delayMsMin, `delayMsMax ${options.delayMsMax} must be an integer ≥ delayMsMin`);
    assertProbability(options.lossProbability, 'lossProbability');
    assertProbability(options.duplicateProbability, 'duplicateProbability');
    this.delayMsMin = options.delayMsMin;
    this.delayMsMax = options.delayMsMax;
    this.lossProbability = options.lossProbability;
    this.duplicateProbability = options.duplicateProbability;
    this.inFlightMax = options.inFlightMax ?? IN_FLIGHT_MAX_DEFAULT;
  }

  /** Adds a node (up, unclogged); `attach` its handler before messages reach it. */
  addNode(node: string, handler?: MessageHandler<T>): void {
    assert(!this.nodes.has(node), `node ${node} is already on the network`);
    this.nodes.set(node, { handler, up: true, incarnation: 0, clogged: false });
  }

  /** Sets the handler of a node: at the start, and after each restart for the new incarnation. */
  attach(node: string, handler: MessageHandler<T>): void {
    this.state(node).handler = handler;
  }

  /** The nodes on the network, in the order added. */
  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  /**
   * Sends a message from `from` to `to`; it arrives later, maybe never, and maybe twice unless `once`:
   * the bus's requests and responses, which a real connection never delivers twice.
   */
  deliver(from: string, to: string, payload: T, once = false): void {
    const sender = this.state(from);
    const receiver = this.state(to);
    this.stats.sent++;
    if (!sender.up || !receiver.up) {
      this.stats.droppedCrashed++;
      return;
    }
    if (this.cut.has(linkKey(from, to))) {
      this.stats.droppedPartitioned++;
      return;
    }
    if (this.random() < this.lossProbability) {
      this.stats.lost++;
      return;
    }
    const message: InFlight<T> = { from, to, payload, toIncarnation: receiver.incarnation };
    this.send(message);
    if (this.random() < this.duplicateProbability && !once) {
      this.stats.duplicated++;
      this.send(message);
    }
  }

  // --- faults ----------------------------------------------------------------------------------------

  /** Cuts every link between a node of `groupA` and a node of `groupB` (the groups must not overlap). */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA) {
      assert(!groupB.includes(a), `node ${a} is on both sides of a partition`);
      this.state(a);
      for (const b of groupB) {
        this.state(b);
        this.cut.add(linkKey(a, b));
      }
    }
  }

  /** Cuts every link of `node`. */
  isolate(node: string): void {
    this.partition(
      [node],
      this.nodeIds().filter((other) => other !== node),
    );
  }

  /** Restores every cut link. */
  heal(): void {
    this.cut.clear();
  }

  /** Whether the link between two nodes is cut. */
  isCut(a: string, b: string): boolean {
    return this.cut.has(linkKey(a, b));
  }

  /** Holds every message to or from `node` until it is unclogged. */
  clog(node: string): void {
    this.state(node).clogged = true;
  }

  /** Releases the held messages of `node` whose other end is not clogged, each with a fresh delay. */
  unclog(node: string): void {
    const state = this.state(node);
    if (!state.clogged) return;
    state.clogged = false;
    const stillHeld: InFlight<T>[] = [];
    const released: InFlight<T>[] = [];
    for (const message of this.held) {
      if (this.isClogged(message.from) || this.isClogged(message.to)) stillHeld.push(message);
      else released.push(message);
    }
    this.held = stillHeld;
    for (const message of released) this.schedule(message);
  }

  isClogged(node: string): boolean {
    return this.state(node).clogged;
  }

  /** Marks `node` crashed: it sends nothing, and nothing sent to it so far will arrive. */
  crash(node: string): void {
    const state = this.state(node);
    state.up = false;
    state.incarnation++;
    state.handler = undefined;
  }

  /** Marks `node` up again (a new incarnation): `attach` its new handler. */
  restart(node: string): void {
    this.state(node).up = true;
  }

  isUp(node: string): boolean {
    return this.state(node).up;
  }

  /**
   * Runs a fault plan from now on (see `faultPlan`): each step at now + its atMs. Crash and restart steps
   * mark the node on the network, then call the hooks, which restart the node itself.
   */
  scheduleFaults(plan: readonly FaultStep[], hooks: FaultHooks = {}): void {
    for (const step of plan) {
      const id = this.scheduler.after(step.atMs, () => {
        this.faultEvents.delete(id);
        this.applyFault(step, hooks);
      });
      this.faultEvents.add(id);
    }
  }

  /**
   * Ends every fault for a liveness phase: cancels the fault steps still to come, heals partitions,
   * unclogs every node (releasing what it held), and stops loss and duplication. Delays stay. Returns the
   * nodes still crashed, for the simulation to restart.
   */
  quiesce(): string[] {
    for (const id of this.faultEvents) this.scheduler.cancel(id);
    this.faultEvents.clear();
    this.heal();
    this.lossProbability = 0;
    this.duplicateProbability = 0;
    for (const node of this.nodeIds()) this.unclog(node);
    return this.nodeIds().filter((node) => !this.isUp(node));
  }

  /** Messages in flight or held. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  private applyFault(step: FaultStep, hooks: FaultHooks): void {
    switch (step.kind) {
      case 'partition':
        this.partition(step.groupA, step.groupB);
        return;
      case 'isolate':
        this.isolate(step.node);
        return;
      case 'heal':
        this.heal();
        return;
      case 'clog':
        this.clog(step.node);
        return;
      case 'unclog':
        this.unclog(step.node);
        return;
      case 'crash':
        this.crash(step.node);
        hooks.onCrash?.(step.node);
        return;
      case 'restart':
        this.restart(step.node);
        hooks.onRestart?.(step.node);
        return;
      case 'pause':
        hooks.onPause?.(step.node);
        return;
      case 'resume':
        hooks.onResume?.(step.node);
        return;
    }
  }

  // --- carrying messages --------------------------------------------------------------------------------

  /** Puts one copy on the wire. */
  private send(message: InFlight<T>): void {
    if (this.inFlight >= this.inFlightMax) {
      this.stats.droppedOverflow++;
      return;
    }
    this.inFlight++;
    this.schedule(message);
  }

  /** Schedules the arrival of a copy already counted in flight. */
  private schedule(message: InFlight<T>): void {
    const delayMs = this.delayMsMin + Math.floor(this.random() * (this.delayMsMax - this.delayMsMin + 1));
    this.scheduler.after(delayMs, () => this.arrive(message));
  }

  private arrive(message: InFlight<T>): void {
    const receiver = this.state(message.to);
    if (!receiver.up || receiver.incarnation !== message.toIncarnation || receiver.handler === undefined) {
      this.inFlight--;
      this.stats.droppedCrashed++;
      return;
    }
    if (this.cut.has(linkKey(message.from, message.to))) {
      this.inFlight--;
      this.stats.droppedPartitioned++;
      return;
    }
    if (this.isClogged(message.from) || receiver.clogged) {
      this.stats.held++;
      this.held.push(message);
      return;
    }
    this.inFlight--;
    this.stats.delivered++;
    receiver.handler(message.from, message.payload);
  }

  private state(node: string): NodeState<T> {
    const state = this.nodes.get(node);
    assert(state !== undefined, `node ${node} is not on the network`);
    return state;
  }
}

/** Tuning of `faultPlan`. */
export interface FaultPlanOptions {
  /** Each fault lasts a random time in [faultMsMin, faultMsMax]. Defaults: 1 s and 10 s. */
  readonly faultMsMin?: number;
  readonly faultMsMax?: number;
  /** Calm between faults, uniform in [0, calmMsMax]. Default 3 s. */
  readonly calmMsMax?: number;
  /** A swizzle clogs (and later unclogs) its nodes one every [1, swizzleStepMsMax] ms. Default 500 ms. */
  readonly swizzleStepMsMax?: number;
  /** Whether the plan crashes and restarts nodes (the simulation must pass hooks that rebuild them). Default false. */
  readonly crashes?: boolean;
  /** Whether the plan pauses and resumes nodes (the simulation must pass hooks that stop them). Default false. */
  readonly pauses?: boolean;
  /** A pause lasts at most this long (and at most the fault's length). Default 2.5 s. */
  readonly pauseMsMax?: number;
}

type FaultKind = 'partition' | 'isolate' | 'swizzle' | 'crash' | 'pause';

/**
 * A random schedule of faults over [0, durationMs) for a safety phase: one fault at a time — a partition
 * into two random groups, an isolated node, a swizzle-clog of a random subset, (with `crashes`) a
 * crashed node, or (with `pauses`) a paused node — each undone before the next starts, with calm stretches between. Every fault is undone
 * by `durationMs`. Plain data: print it next to the seed to see what a failing run went through.
 */
export function faultPlan(random: () => number, nodes: readonly string[], durationMs: number, options: FaultPlanOptions = {}): FaultStep[] {
  const faultMsMin = options.faultMsMin ?? 1_000;
  const faultMsMax = options.faultMsMax ?? 10_000;
  const calmMsMax = options.calmMsMax ?? 3_000;
  const swizzleStepMsMax = options.swizzleStepMsMax ?? 500;
  const pauseMsMax = options.pauseMsMax ?? 2_500;
  assert(nodes.length >= 2, 'a fault plan needs at least two nodes');
  assert(faultMsMin > 0 && faultMsMax >= faultMsMin, `fault duration range [${faultMsMin}, ${faultMsMax}] is empty or not positive`);
  assert(swizzleStepMsMax >= 1, `swizzleStepMsMax ${swizzleStepMsMax} must be at least 1`);
  const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const kinds: FaultKind[] = ['partition', 'isolate', 'swizzle'];
  if (options.crashes === true) kinds.push('crash');
  if (options.pauses === true) kinds.push('pause');
  const steps: FaultStep[] = [];
  let t = between(0, calmMsMax);
  for (;;) {
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    const lengthMs = between(faultMsMin, faultMsMax);
    // Every fault must be over before the plan ends.
    if (t + lengthMs >= durationMs) break;
    const end = t + lengthMs;
    switch (kind) {
      case 'partition': {
        const shuffled = shuffle(random, nodes);
        const sizeA = between(1, nodes.length - 1);
        steps.push({ atMs: t, kind: 'partition', groupA: shuffled.slice(0, sizeA), groupB: shuffled.slice(sizeA) }, { atMs: end, kind: 'heal' });
        break;
      }
      case 'isolate':
        steps.push({ atMs: t, kind: 'isolate', node: pick(random, nodes) }, { atMs: end, kind: 'heal' });
        break;
      case 'crash': {
        const node = pick(random, nodes);
        steps.push({ atMs: t, kind: 'crash', node }, { atMs: end, kind: 'restart', node });
        break;
      }
      case 'pause': {
        const node = pick(random, nodes);
        steps.push({ atMs: t, kind: 'pause', node }, { atMs: t + Math.min(lengthMs, pauseMsMax), kind: 'resume', node });
        break;
      }
      case 'swizzle': {
        const chosen = shuffle(random, nodes).slice(0, between(1, nodes.length));
        let at = t;
        for (const node of chosen) {
          steps.push({ atMs: at, kind: 'clog', node });
          at += between(1, swizzleStepMsMax);
        }
        // Hold the last clog a while, then unclog in a new random order, all before `end` when it fits.
        at = Math.max(at, end - chosen.length * swizzleStepMsMax);
        for (const node of shuffle(random, chosen)) {
          steps.push({ atMs: Math.min(at, durationMs - 1), kind: 'unclog', node });
          at += between(1, swizzleStepMsMax);
        }
        break;
      }
    }
    t = Math.max(end, steps[steps.length - 1]!.atMs) + between(0, calmMsMax);
  }
  // Steps at one time run in plan order, so a stable sort keeps each clog before its unclog.
  return steps.sort((a, b) => a.atMs - b.atMs);
}

function pick<U>(random: () => number, items: readonly U[]): U {
  return items[Math.floor(random() * items.length)]!;
}

/** A Fisher–Yates shuffle of a copy. */
function shuffle<U>(random: () => number, items: readonly U[]): U[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

function assertProbability(p: number, name: string): void {
  assert(p >= 0 && p <= 1, `${name} ${p} must be within [0, 1]`);
}
