/**
 * One replica of a shard: the shard's data and the deterministic application of its Raft log to it.
 * Writes reach the data only through `apply` of a committed entry, on every replica alike; reads run
 * directly against the data (on the leader after a ReadIndex barrier, on a follower after READONLY).
 * Nothing here reads a clock: the timestamp comes from the entry, chosen once by the leader.
 */
import { expireIfDue, resolveCommand } from '../commands/table.js';
import type { CommandSpec } from '../commands/types.js';
import type { Entry } from '../raft/index.js';
import { error, int, OK, type Reply } from '../resp/reply.js';
import type { ShardData, ShardSnapshotChunk, ShardSnapshotReader } from '../storage/types.js';
import { decodeShardCommand } from './shard-command.js';

/** Writes use no randomness (only read-only commands like HRANDFIELD do), so apply gets a constant. */
const NO_RANDOMNESS = (): number => 0;

export class ShardReplica {
  /** Commands served since the last `takeOps()`: the node reports ops/s to the pilot from it. */
  private opsSinceReport = 0;
  /** Unix ms of the last command served, 0 if none. */
  lastAccessMs = 0;

  constructor(
    readonly id: string,
    readonly data: ShardData,
  ) {}

  /** Applies a committed entry of the shard's log; the reply answers the client that proposed it. */
  apply(entry: Entry): Reply {
    const command = decodeShardCommand(entry.data);
    switch (command.kind) {
      case 'command': {
        const argv = command.argv.map((arg) => Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength));
        const resolved = resolveCommand(argv);
        // The leader resolved it before proposing; a log written by a version that knew more commands is
        // the only way here.
        if ('error' in resolved) return resolved.error;
        return this.run(resolved.spec, argv, command.nowMs, NO_RANDOMNESS, 2);
      }
      case 'expire': {
        const ctx = { data: this.data, nowMs: command.nowMs, random: NO_RANDOMNESS };
        let deleted = 0;
        for (const key of command.keys) if (expireIfDue(ctx, Buffer.from(key.buffer, key.byteOffset, key.byteLength))) deleted++;
        return int(deleted);
      }
      case 'flush':
        this.data.clear();
        return OK;
    }
  }

  /** Runs a read-only command against the data as it is now. */
  read(spec: CommandSpec, argv: readonly Buffer[], nowMs: number, random: () => number, protocol: 2 | 3): Reply {
    return this.run(spec, argv, nowMs, random, protocol);
  }

  openSnapshot(): ShardSnapshotReader {
    return this.data.openSnapshot();
  }

  restore(chunks: readonly ShardSnapshotChunk[]): void {
    this.data.clear();
    for (const chunk of chunks) this.data.restoreChunk(chunk);
  }

  /** Returns and resets the count of commands served since the last call. */
  takeOps(): number {
    const ops = this.opsSinceReport;
    this.opsSinceReport = 0;
    return ops;
  }

  private run(spec: CommandSpec, argv: readonly Buffer[], nowMs: number, random: () => number, protocol: 2 | 3): Reply {
    this.opsSinceReport++;
    this.lastAccessMs = nowMs;
    try {
      return spec.apply!({ data: this.data, nowMs, random, protocol }, argv);
    } catch (err) {
      // Deterministic on every replica, so answering an error keeps them identical.
      return error(`ERR ${(err as Error).message}`);
    }
  }
}
