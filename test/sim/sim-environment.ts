/**
 * The environment a simulated process runs on: the scheduler's virtual clock and timers, a seeded random,
 * and a halt that fails the run. One per process incarnation: once it crashes (`alive()` false), nothing
 * it scheduled runs, and what it sleeps on never wakes, as a dead process runs nothing. While its
 * `PauseGate` is paused (a stopped process: a long GC pause, SIGSTOP, a VM descheduled), its timers that
 * come due wait, and run in order when it resumes.
 */
import type { Environment } from '../../src/common/environment.js';
import type { Scheduler } from './scheduler.js';

/** A promise that never settles: what a crashed process's pending work waits for. */
export const NEVER = new Promise<never>(() => {});

/**
 * Whether a process runs or is stopped: what comes to a stopped process (a timer due, a message, an
 * fsync's completion, a client's request) waits, and runs in the order it came once the process resumes.
 */
export class PauseGate {
  /** What came while stopped, oldest first; undefined while running. */
  private waiting: (() => void)[] | undefined;
  private stoppedSinceMs = 0;
  /** Virtual ms spent stopped before the current pause. */
  private stoppedBeforeMs = 0;

  constructor(private readonly scheduler: Scheduler) {}

  get paused(): boolean {
    return this.waiting !== undefined;
  }

  /** Runs `fn` now, or when the process resumes. */
  run(fn: () => void): void {
    if (this.waiting === undefined) fn();
    else this.waiting.push(fn);
  }

  pause(): void {
    if (this.waiting !== undefined) return;
    this.waiting = [];
    this.stoppedSinceMs = this.scheduler.now();
  }

  /** Virtual ms the process has spent stopped so far: its timers stood still that long. */
  stoppedMs(): number {
    return this.stoppedBeforeMs + (this.waiting === undefined ? 0 : this.scheduler.now() - this.stoppedSinceMs);
  }

  /** Each waiting callback runs as an event of its own, in order, so each sees the last one's effects settled. */
  resume(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    this.stoppedBeforeMs = this.stoppedMs();
    this.waiting = undefined;
    for (const fn of waiting) this.scheduler.after(0, () => this.run(fn));
  }
}

export function simEnvironment(
  scheduler: Scheduler,
  random: () => number,
  alive: () => boolean,
  halt: (reason: string) => void,
  gate: PauseGate = new PauseGate(scheduler),
): Environment {
  const after = (ms: number, fn: () => void): (() => void) => {
    // A timer cancelled while its callback waits for the process to resume stays cancelled.
    let cancelled = false;
    const id = scheduler.after(ms, () => {
      if (alive()) gate.run(() => (alive() && !cancelled ? fn() : undefined));
    });
    return () => {
      cancelled = true;
      scheduler.cancel(id);
    };
  };
  return {
    now: () => scheduler.now(),
    random,
    after,
    every: (ms, fn) => {
      let cancelNext = (): void => {};
      let stopped = false;
      const run = (): void => {
        if (stopped) return;
        cancelNext = after(ms, run);
        fn();
      };
      // Processes' timers do not fire in lockstep: the first tick comes at its own offset.
      cancelNext = after(1 + Math.floor(random() * ms), run);
      return () => {
        stopped = true;
        cancelNext();
      };
    },
    soon: (fn) => void after(0, fn),
    sleep: (ms) => (alive() ? new Promise<void>((resolve) => void after(ms, resolve)) : NEVER),
    halt,
  };
}
