/**
 * Long polls for the routing table: each waiter is released as soon as the routing version exceeds the
 * version it knows, when its wait time ends, when its client goes away, or when the pilot closes.
 */
import type { Environment } from '../common/environment.js';

/** Longest a long poll may wait. */
export const ROUTING_WAIT_MS_MAX = 30_000;
/** Long polls held at once; each is a socket and a timer. */
export const ROUTING_WAITERS_MAX = 4096;

interface Waiter {
  readonly afterVersion: number;
  readonly release: () => void;
}

/** The held routing long polls, bounded by `waitersMax`. */
export class RoutingWaiters {
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly env: Environment,
    private readonly waitersMax = ROUTING_WAITERS_MAX,
  ) {}

  /**
   * Resolves once the version exceeds `afterVersion` (as announced by `notify`), after `waitMs`, or when
   * `signal` aborts; returns undefined, without waiting, when too many polls are held already.
   */
  wait(afterVersion: number, waitMs: number, signal: AbortSignal): Promise<void> | undefined {
    if (this.waiters.size >= this.waitersMax) return undefined;
    return new Promise((resolve) => {
      const release = (): void => {
        cancelTimer();
        signal.removeEventListener('abort', release);
        this.waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { afterVersion, release };
      const cancelTimer = this.env.after(Math.min(waitMs, ROUTING_WAIT_MS_MAX), release);
      signal.addEventListener('abort', release);
      this.waiters.add(waiter);
      if (signal.aborted) release();
    });
  }

  /** The routing version is now `version`: releases every waiter that knows an older one. */
  notify(version: number): void {
    for (const waiter of [...this.waiters]) if (waiter.afterVersion < version) waiter.release();
  }

  /** Releases every waiter, so a closing server does not wait for long polls to time out. */
  releaseAll(): void {
    for (const waiter of [...this.waiters]) waiter.release();
  }

  /** Long polls being held. */
  get size(): number {
    return this.waiters.size;
  }
}
