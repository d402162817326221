/**
 * Virtual time for the whole-cluster simulation: a discrete-event scheduler.
 *
 * Every timer, message delivery and fsync of the simulated cluster is an event at a virtual time in
 * milliseconds. Events run one at a time in (time, insertion) order, so two runs that schedule the same
 * events see the same interleaving: equal times never race. Nothing here reads the wall clock.
 *
 * Simulated code is async (the node driver awaits persists), so an event's callback usually leaves
 * promise continuations behind. Before each event the run loop waits for `setImmediate`: Node runs every
 * queued microtask (and process.nextTick callback), including the ones those microtasks queue, before it
 * reaches the immediates, so each event starts on an empty microtask queue and every continuation of the
 * previous event has run, at the previous event's virtual time. `await Promise.resolve()` would not do:
 * it lets only one link of a promise chain run. The order of microtasks is fixed by the program, and the
 * simulation does no real I/O that could slip in between, so this stays deterministic.
 */
import { assert } from '../../src/common/errors.js';

/** Names a scheduled event, for `cancel`. */
export type EventId = number;

/** What an event runs. A returned promise that rejects fails the run that ran the event. */
export type EventCallback = () => unknown;

interface ScheduledEvent {
  readonly id: EventId;
  readonly atMs: number;
  readonly callback: EventCallback;
}

/**
 * Most events one `runUntil` runs by default: far more than a simulation of a few virtual minutes needs,
 * and low enough that a callback rescheduling itself at the same instant fails instead of hanging.
 */
const RUN_EVENTS_MAX_DEFAULT = 50_000_000;

/** Cancelled events the heap may hold beyond twice the live ones before it is rebuilt. */
const HEAP_SLACK_EVENTS = 1024;

/** Lets every queued microtask run; see the module comment. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A virtual clock with a queue of events; see the module comment. */
export class Scheduler {
  private nowMs: number;
  private nextId = 1;
  /** Binary min-heap on (atMs, id); cancelled events stay until popped. */
  private readonly heap: ScheduledEvent[] = [];
  /** Events scheduled and neither run nor cancelled, by id. */
  private readonly live = new Map<EventId, ScheduledEvent>();
  private running = false;
  /** The first failure of an async callback, reported by the run that ran it. */
  private failure: { readonly error: unknown } | undefined;

  constructor(startMs = 0) {
    assert(Number.isFinite(startMs), `start time ${startMs} must be finite`);
    this.nowMs = startMs;
  }

  /** The virtual time: the time of the event running now, or where the last run stopped. */
  now(): number {
    return this.nowMs;
  }

  /** Runs `callback` at virtual time `timeMs` (not in the past), after every event scheduled earlier for that time. */
  at(timeMs: number, callback: EventCallback): EventId {
    assert(Number.isFinite(timeMs), `event time ${timeMs} must be finite`);
    assert(timeMs >= this.nowMs, `event time ${timeMs} is in the past (now ${this.nowMs})`);
    const event: ScheduledEvent = { id: this.nextId++, atMs: timeMs, callback };
    this.live.set(event.id, event);
    this.push(event);
    return event.id;
  }

  /** Runs `callback` `delayMs` from now. */
  after(delayMs: number, callback: EventCallback): EventId {
    assert(delayMs >= 0, `delay ${delayMs} must not be negative`);
    return this.at(this.nowMs + delayMs, callback);
  }

  /** Resolves `delayMs` of virtual time from now: `await scheduler.sleep(10)` in simulated async code. */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.after(delayMs, resolve));
  }

  /** Forgets a scheduled event; false if it already ran or was cancelled. */
  cancel(id: EventId): boolean {
    if (!this.live.delete(id)) return false;
    // Cancelled events wait in the heap until popped; rebuild it when they outnumber the live ones, so a
    // simulation that keeps re-arming far-off timers holds memory in proportion to what is scheduled.
    if (this.heap.length > 2 * this.live.size + HEAP_SLACK_EVENTS) this.rebuildHeap();
    return true;
  }

  /** Number of events scheduled and not yet run or cancelled. */
  get pendingCount(): number {
    return this.live.size;
  }

  /** Time of the next event to run, undefined when none is scheduled. */
  nextEventMs(): number | undefined {
    this.dropCancelledHead();
    return this.heap[0]?.atMs;
  }

  /**
   * Runs every event due at or before `timeMs`, including ones those events schedule, then leaves the
   * clock at `timeMs`. Resolves with the number of events run. Fails when an event throws (or its promise
   * rejects), and when more than `eventsMax` events would run: a livelock at one instant is a bug.
   */
  async runUntil(timeMs: number, eventsMax = RUN_EVENTS_MAX_DEFAULT): Promise<number> {
    assert(timeMs >= this.nowMs, `runUntil(${timeMs}) is in the past (now ${this.nowMs})`);
    const ran = await this.run(timeMs, eventsMax);
    assert(ran <= eventsMax, `more than ${eventsMax} events before virtual time ${timeMs}`);
    this.nowMs = timeMs;
    return ran;
  }

  /**
   * Runs events until none is left, or until `eventsMax` have run. 'limit' means events remain (a
   * periodic timer never lets the queue empty); the clock is then at the last event run.
   */
  async runUntilIdle(eventsMax: number): Promise<'idle' | 'limit'> {
    const ran = await this.run(Number.POSITIVE_INFINITY, eventsMax);
    return ran > eventsMax || this.nextEventMs() !== undefined ? 'limit' : 'idle';
  }

  /**
   * Runs due events in order; returns how many ran, or eventsMax + 1 when it stopped because an
   * (eventsMax + 1)th was due.
   */
  private async run(untilMs: number, eventsMax: number): Promise<number> {
    assert(!this.running, 'the scheduler is already running: an event must not start another run');
    assert(Number.isSafeInteger(eventsMax) && eventsMax >= 0, `eventsMax ${eventsMax} must be a non-negative integer`);
    this.running = true;
    let ran = 0;
    try {
      for (;;) {
        await drainMicrotasks();
        this.throwFailure();
        this.dropCancelledHead();
        const next = this.heap[0];
        if (next === undefined || next.atMs > untilMs) return ran;
        if (ran === eventsMax) return ran + 1;
        this.pop();
        this.live.delete(next.id);
        this.nowMs = next.atMs;
        ran++;
        const result = next.callback();
        if (result instanceof Promise) {
          result.catch((error: unknown) => {
            this.failure ??= { error };
          });
        }
      }
    } finally {
      this.running = false;
    }
  }

  private throwFailure(): void {
    const failure = this.failure;
    if (failure === undefined) return;
    this.failure = undefined;
    throw failure.error;
  }

  private dropCancelledHead(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0]!.id)) this.pop();
  }

  // --- the heap ---------------------------------------------------------------------------------------

  private rebuildHeap(): void {
    this.heap.length = 0;
    for (const event of this.live.values()) this.push(event);
  }

  private push(event: ScheduledEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}

/** Heap order: earlier time first, then earlier insertion (ids grow). */
function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.atMs !== b.atMs ? a.atMs < b.atMs : a.id < b.id;
}
