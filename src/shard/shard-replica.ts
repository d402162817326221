/**
 * One replica of a shard: the shard's data and the deterministic application of its Raft log to it.
 * Writes reach the data only through `apply` of a committed entry, on every replica alike; reads run
 * directly against the data (on the leader after a ReadIndex barrier, on a follower after READONLY).
 * Nothing here reads a clock: the timestamp comes from the entry, chosen once by the leader, and applies
 * no earlier than the shard's replicated clock (the latest time its log has applied), so expiry never goes
 * back when a leader whose clock is behind takes over.
 */
import { commandKeys, expireIfDue, resolveCommand } from '../commands/table.js';
import type { CommandSpec, SteppedKeyHandler } from '../commands/types.js';
import { SlicedApply } from '../common/sliced-apply.js';
import type { Entry } from '../raft/index.js';
import { error, int, OK, type Reply } from '../resp/reply.js';
import type { ShardData, ShardSnapshotChunk, ShardSnapshotReader } from '../storage/types.js';
import { decodeShardCommand, type ShardCommand } from './shard-command.js';
import { ShardSplit } from './split-machine.js';
import type { EndedSplit, OwnedRange, ShardSplitState, SplitApplyResult } from './split-state.js';

/** Writes use no randomness (only read-only commands like HRANDFIELD do), so apply gets a constant. */
const NO_RANDOMNESS = (): number => 0;

/**
 * A command of its log with more arguments than this, and steps to apply them in (DEL, MSET), applies
 * this many keys per turn of the event loop (SlicedApply): at a few microseconds a key, a slice is
 * milliseconds, where a million keys at once held every shard of the node for seconds.
 */
export const APPLY_SLICE_KEYS = 4096;

/**
 * What apply answers a key command whose slot this shard has given away in a split: it was not applied.
 * The node turns it into a MOVED to the new owner; a client that sees it as is retries.
 */
export const NOT_OWNED: Reply = error('TRYAGAIN the slot is moving to another shard; retry shortly');

/** Bytes of keys and values per slot range, and the slot that halves them. */
export interface RangeSize {
  readonly keys: number;
  readonly bytes: number;
}

export class ShardReplica {
  /** Commands served since the last `takeOps()`: the node reports ops/s to the pilot from it. */
  private opsSinceReport = 0;
  /** Unix ms of the last command served, 0 if none. */
  lastAccessMs = 0;

  private readonly split: ShardSplit;

  constructor(
    readonly id: string,
    readonly data: ShardData,
  ) {
    this.split = new ShardSplit(data);
  }

  /**
   * Applies a committed entry of the shard's log; the result answers the client that proposed it: a Reply
   * for key commands, a SplitApplyResult for split entries; a SlicedApply giving the Reply at its end for a
   * key command too large to apply at once.
   */
  apply(entry: Entry): Reply | SplitApplyResult | SlicedApply {
    const command = decodeShardCommand(entry.data);
    switch (command.kind) {
      case 'command':
      case 'expire':
        return this.applyKeyCommand(command, true);
      case 'flush':
        this.advanceClock(command.nowMs);
        // A target receives its range's data only from the source, a FLUSHALL included (forwarded).
        if (this.split.state?.role === 'target') return OK;
        this.data.clear();
        return OK;
      default: {
        const result = this.split.apply(command, entry.index, (data) => this.applyForwarded(data));
        // The range a target receives was judged against the source's clock: at its snapshot, then at the handoff.
        if (result.ok && (command.kind === 'split-reset' || command.kind === 'split-handoff')) this.advanceClock(command.sourceClockMs);
        return result;
      }
    }
  }

  /** The latest time this shard's log has applied (Unix ms; 0 before any entry). */
  get clockMs(): number {
    return this.data.clockMs;
  }

  /** The time a read judges expiry at: the local clock, never behind what the shard's log has applied. */
  readNowMs(localMs: number): number {
    return Math.max(localMs, this.data.clockMs);
  }

  /** The split this shard takes part in, as its log has decided it; null when none. */
  splitState(): ShardSplitState | null {
    return this.split.state;
  }

  /** How this shard's log ended split `taskId` as its source; undefined if it did not. */
  endedSplit(taskId: string): EndedSplit | undefined {
    return this.split.ended(taskId);
  }

  /** The slots this shard's own log says it owns; null when it never took part in a split. */
  ownedRange(): OwnedRange | null {
    return this.split.owned;
  }

  ownsSlot(slot: number): boolean {
    return this.split.ownsSlot(slot);
  }

  /** Runs a read-only command against the data as it is now, at `readNowMs(localMs)`. */
  read(spec: CommandSpec, argv: readonly Buffer[], localMs: number, random: () => number, protocol: 2 | 3): Reply {
    return this.run(spec, argv, this.readNowMs(localMs), random, protocol);
  }

  openSnapshot(): ShardSnapshotReader {
    return this.data.openSnapshot();
  }

  /** The keys of slots [fromSlot, endSlot) as of now, for a split's target; opened when nothing is pending. */
  openRangeSnapshot(fromSlot: number, endSlot: number): ShardSnapshotReader {
    return this.data.openSnapshot({ fromSlot, endSlot });
  }

  restore(chunks: readonly ShardSnapshotChunk[]): void {
    this.data.clear();
    for (const chunk of chunks) this.data.restoreChunk(chunk);
    this.split.reload();
  }

  /**
   * Keys and bytes (keys + encoded values) of slots [fromSlot, endSlot). Reads a range snapshot, so like
   * `openRangeSnapshot` it needs nothing pending (the node's stable state; `data.flushed()` alone is not
   * enough while writes keep arriving).
   */
  rangeSize(fromSlot: number, endSlot: number): RangeSize {
    const perSlot = this.slotBytes(fromSlot, endSlot);
    let keys = 0;
    let bytes = 0;
    for (const slot of perSlot.values()) {
      keys += slot.keys;
      bytes += slot.bytes;
    }
    return { keys, bytes };
  }

  /**
   * The slot in (start, end) where the bytes of [start, slot) first reach half of the range's: the split
   * point that halves the shard. Slots are atomic (a hash slot never splits), so a hot slot stays whole.
   * The midpoint when the range is empty. Needs nothing pending, as `rangeSize`.
   */
  chooseSplitSlot(start: number, end: number): number {
    const perSlot = this.slotBytes(start, end);
    let total = 0;
    for (const slot of perSlot.values()) total += slot.bytes;
    const lowest = start + 1;
    const highest = end - 1;
    if (total === 0) return Math.min(highest, Math.max(lowest, Math.floor((start + end) / 2)));
    let sum = 0;
    for (const [slot, size] of [...perSlot].sort((a, b) => a[0] - b[0])) {
      sum += size.bytes;
      // [start, slot + 1) holds half: cut after this slot.
      if (sum * 2 >= total) return Math.min(highest, Math.max(lowest, slot + 1));
    }
    return highest;
  }

  /** Returns and resets the count of commands served since the last call. */
  takeOps(): number {
    const ops = this.opsSinceReport;
    this.opsSinceReport = 0;
    return ops;
  }

  /** Keys and bytes per non-empty slot of [fromSlot, endSlot): a range read in one LMDB read transaction, O(keys in the range). */
  private slotBytes(fromSlot: number, endSlot: number): Map<number, RangeSize> {
    const sizes = new Map<number, RangeSize>();
    const reader = this.data.openSnapshot({ fromSlot, endSlot });
    try {
      for (let cursor: Uint8Array | null = null, first = true; first || cursor !== null; first = false) {
        const chunk = reader.chunk(cursor, 1 << 20);
        for (let i = 0; i + 1 < chunk.entries.length; i += 2) {
          const key = chunk.entries[i]!;
          const slot = (key[0]! << 8) | key[1]!;
          const before = sizes.get(slot) ?? { keys: 0, bytes: 0 };
          sizes.set(slot, { keys: before.keys + 1, bytes: before.bytes + key.byteLength - 2 + chunk.entries[i + 1]!.byteLength });
        }
        cursor = chunk.next;
      }
    } finally {
      reader.close();
    }
    return sizes;
  }

  /**
   * A key command or expiry: from this shard's log (`ownedOnly`: keys of slots given away are left alone),
   * or forwarded from a split's source (keys of the range this shard does not own yet).
   */
  private applyKeyCommand(command: Extract<ShardCommand, { kind: 'command' | 'expire' }>, ownedOnly: true): Reply | SlicedApply;
  private applyKeyCommand(command: Extract<ShardCommand, { kind: 'command' | 'expire' }>, ownedOnly: false): Reply;
  private applyKeyCommand(command: Extract<ShardCommand, { kind: 'command' | 'expire' }>, ownedOnly: boolean): Reply | SlicedApply {
    const nowMs = this.advanceClock(command.nowMs);
    if (command.kind === 'expire') {
      const ctx = { data: this.data, nowMs, random: NO_RANDOMNESS };
      let deleted = 0;
      for (const key of command.keys) {
        const buffer = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
        if ((!ownedOnly || this.split.ownsKey(buffer)) && expireIfDue(ctx, buffer)) deleted++;
      }
      return int(deleted);
    }
    const argv = command.argv.map((arg) => (Buffer.isBuffer(arg) ? arg : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength)));
    const resolved = resolveCommand(argv);
    // The leader resolved it before proposing; a log written by a version that knew more commands is
    // the only way here.
    if ('error' in resolved) return resolved.error;
    // One slot per command (CROSSSLOT is refused before proposing), so the first key decides.
    const key = !ownedOnly || this.split.owned === null ? undefined : commandKeys(resolved.spec, argv)[0];
    if (key !== undefined && !this.split.ownsKey(key)) return NOT_OWNED;
    // A forwarded entry applies at once: it is one step of the target's own entry.
    const inSteps = resolved.spec.applyInSteps;
    if (ownedOnly && inSteps !== undefined && argv.length > APPLY_SLICE_KEYS) return this.runInSlices(inSteps, argv, nowMs);
    return this.run(resolved.spec, argv, nowMs, NO_RANDOMNESS, 2);
  }

  /** A source entry forwarded to this target: its effect on the moving range, whose keys this shard does not own yet. */
  private applyForwarded(data: Uint8Array): void {
    const command = decodeShardCommand(data);
    if (command.kind === 'flush') {
      this.advanceClock(command.nowMs);
      this.data.clear();
    } else if (command.kind === 'command' || command.kind === 'expire') this.applyKeyCommand(command, false);
  }

  /**
   * The time an entry proposed at `proposedMs` applies at: the later of it and the shard's clock, which it
   * advances. Every replica applies the same entries in order, so every replica computes the same time.
   */
  private advanceClock(proposedMs: number): number {
    if (proposedMs > this.data.clockMs) this.data.setClockMs(proposedMs);
    return this.data.clockMs;
  }

  private run(spec: CommandSpec, argv: readonly Buffer[], nowMs: number, random: () => number, protocol: 2 | 3): Reply {
    this.opsSinceReport++;
    this.lastAccessMs = nowMs;
    try {
      return spec.apply!({ data: this.data, nowMs, random, protocol }, argv);
    } catch (err) {
      return thrownReply(err);
    }
  }

  private runInSlices(handler: SteppedKeyHandler, argv: readonly Buffer[], nowMs: number): SlicedApply {
    this.opsSinceReport++;
    this.lastAccessMs = nowMs;
    return new SlicedApply(slicesOf(handler({ data: this.data, nowMs, random: NO_RANDOMNESS, protocol: 2 }, argv)));
  }
}

/** A stepped command's steps, APPLY_SLICE_KEYS of them per slice. */
function* slicesOf(steps: Generator<void, Reply, void>): Generator<void, Reply, void> {
  try {
    for (let taken = 1; ; taken++) {
      const step = steps.next();
      if (step.done === true) return step.value;
      if (taken % APPLY_SLICE_KEYS === 0) yield;
    }
  } catch (err) {
    return thrownReply(err);
  }
}

/** What a command that threw answers: deterministic on every replica, so the replicas stay identical. */
function thrownReply(err: unknown): Reply {
  return error(`ERR ${(err as Error).message}`);
}
