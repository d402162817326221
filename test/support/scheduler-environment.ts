/**
 * An Environment on a Scheduler's virtual time, for tests that run a core (the pilot's, a node's) by hand:
 * timers are scheduler events, `soon` is an event at the current instant, randomness is seeded, and
 * `halt` records why and throws, which fails the scheduler's run.
 */
import type { Environment } from '../../src/common/environment.js';
import type { Scheduler } from '../sim/scheduler.js';
import { seededRandom } from './seeded-random.js';

export interface SchedulerEnvironment extends Environment {
  /** Why `halt` was called, in order. */
  readonly halts: readonly string[];
}

export function schedulerEnvironment(scheduler: Scheduler, seed: number): SchedulerEnvironment {
  const halts: string[] = [];
  const after = (ms: number, fn: () => void): (() => void) => {
    const id = scheduler.after(ms, fn);
    return () => void scheduler.cancel(id);
  };
  return {
    halts,
    now: () => scheduler.now(),
    random: seededRandom(seed),
    after,
    every: (ms, fn) => {
      let cancel = (): void => {};
      const arm = (): void => {
        cancel = after(ms, () => {
          arm();
          fn();
        });
      };
      arm();
      return () => cancel();
    },
    soon: (fn) => void scheduler.after(0, fn),
    sleep: (ms) => scheduler.sleep(ms),
    halt: (reason) => {
      halts.push(reason);
      throw new Error(`halted: ${reason}`);
    },
  };
}
