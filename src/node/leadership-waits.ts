import type { Environment } from '../common/environment.js';

/**
 * Requests waiting for a shard's leadership to change as this node sees it: a leader handing its
 * leadership to another replica refuses proposals until the transfer ends, and a client told `-MOVED`
 * to the very node that refused it (still the leader) would gain nothing. Each wait is bounded in time by
 * the caller's timer; the node resolves the waits of a shard once its view shows the change.
 */
export class LeadershipWaits {
  private readonly waits = new Map<string, Set<() => void>>();

  constructor(private readonly timers: Pick<Environment, 'after'>) {}

  /** Resolves at the next `changed(shardId)`, or after `timeoutMs`. */
  wait(shardId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let waiting = this.waits.get(shardId);
      if (waiting === undefined) {
        waiting = new Set();
        this.waits.set(shardId, waiting);
      }
      const set = waiting;
      const done = (): void => {
        cancel();
        set.delete(done);
        if (set.size === 0 && this.waits.get(shardId) === set) this.waits.delete(shardId);
        resolve();
      };
      const cancel = this.timers.after(timeoutMs, done);
      set.add(done);
    });
  }

  /** The leadership of `shardId` changed: every wait on it ends. */
  changed(shardId: string): void {
    const waiting = this.waits.get(shardId);
    if (waiting === undefined) return;
    this.waits.delete(shardId);
    for (const done of [...waiting]) done();
  }
}
