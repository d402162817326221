/**
 * The environment a simulated process runs on: the scheduler's virtual clock and timers, a seeded random,
 * and a halt that fails the run. One per process incarnation: once it crashes (`alive()` false), nothing
 * it scheduled runs, and what it sleeps on never wakes, as a dead process runs nothing.
 */
import type { Environment } from '../../src/common/environment.js';
import type { Scheduler } from './scheduler.js';

/** A promise that never settles: what a crashed process's pending work waits for. */
export const NEVER = new Promise<never>(() => {});

export function simEnvironment(scheduler: Scheduler, random: () => number, alive: () => boolean, halt: (reason: string) => void): Environment {
  const after = (ms: number, fn: () => void): (() => void) => {
    const id = scheduler.after(ms, () => (alive() ? fn() : undefined));
    return () => void scheduler.cancel(id);
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
    sleep: (ms) => (alive() ? scheduler.sleep(ms).then(() => (alive() ? undefined : NEVER)) : NEVER),
    halt,
  };
}
