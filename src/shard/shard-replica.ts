/**
 * One replica of a shard: the shard's data and the deterministic application of key commands to it.
 * Today a command is applied as soon as the node accepts it; with replication the same `apply` runs for
 * each committed log entry, so nothing here reads a clock or decides anything on its own: the timestamp
 * and randomness come from the caller.
 */
import type { CommandSpec } from '../commands/types.js';
import type { Reply } from '../resp/reply.js';
import type { ShardData } from '../storage/types.js';

export class ShardReplica {
  /** Commands applied since the last `takeOps()`: the node reports ops/s to the pilot from it. */
  private opsSinceReport = 0;
  /** Unix ms of the last command applied, 0 if none. */
  lastAccessMs = 0;
  private commitScheduled: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly data: ShardData,
  ) {}

  /** Applies a key command and returns its reply. Writes stay pending until `commitSoon()` resolves. */
  apply(spec: CommandSpec, argv: readonly Buffer[], nowMs: number, random: () => number, protocol: 2 | 3 = 2): Reply {
    this.opsSinceReport++;
    this.lastAccessMs = nowMs;
    return spec.apply!({ data: this.data, nowMs, random, protocol }, argv);
  }

  /**
   * The commit that will make every write applied so far durable. All writes of one event-loop turn
   * share one commit (group commit): it runs after the turn's I/O callbacks.
   */
  commitSoon(): Promise<void> {
    if (this.commitScheduled === undefined) {
      this.commitScheduled = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          this.commitScheduled = undefined;
          this.data.commit().then(resolve, reject);
        });
      });
    }
    return this.commitScheduled;
  }

  /** Returns and resets the count of commands applied since the last call. */
  takeOps(): number {
    const ops = this.opsSinceReport;
    this.opsSinceReport = 0;
    return ops;
  }
}
