/**
 * What a process's core takes from the world instead of reaching for it: the time, timers, randomness and
 * a fatal stop. The node's shard groups, the split drivers and the pilot take one as a parameter; the
 * process passes `systemEnvironment()`, the simulation a seeded one on virtual time, so both run the same
 * code (the way TigerBeetle and FoundationDB test theirs).
 */

/** Stops a timer; calling it again, or after the timer fired, does nothing. */
export type Cancel = () => void;

export interface Environment {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** A number in [0, 1). */
  random(): number;
  /** Runs `fn` once, `ms` from now. */
  after(ms: number, fn: () => void): Cancel;
  /** Runs `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Cancel;
  /** Runs `fn` after the current synchronous work and its promise jobs, before any timer that is due later. */
  soon(fn: () => void): void;
  /** Resolves `ms` from now. */
  sleep(ms: number): Promise<void>;
  /**
   * The process cannot go on (memory no longer matches disk): it stops at once. The system's exits with
   * code 1; the simulation's ends the simulated process and fails the run.
   */
  halt(reason: string): void;
}

/** The real clock, timers and randomness, and `process.exit` (the process's edge). */
export function systemEnvironment(): Environment {
  return {
    now: () => Date.now(),
    random: () => Math.random(),
    after: (ms, fn) => {
      const timer = setTimeout(fn, ms);
      return () => clearTimeout(timer);
    },
    every: (ms, fn) => {
      const timer = setInterval(fn, ms);
      return () => clearInterval(timer);
    },
    soon: (fn) => void setImmediate(fn),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    halt: () => process.exit(1),
  };
}
