/**
 * A shard's part in splits, applied from its Raft log (docs/SPLIT.md): the split state and the slots the
 * shard's own log says it owns, kept in the shard data's meta so they are durable with the data they
 * describe and ride in Raft snapshots. Deterministic: no clock, no I/O beyond the shard's data.
 */
import { Packr } from 'msgpackr';
import { keyHashSlot } from '../common/slots.js';
import type { ShardData } from '../storage/types.js';
import type { ForwardedEntry, SplitCommand } from './shard-command.js';
import { forwardedPart } from './split-forward.js';
import type { EndedSplit, OwnedRange, ShardSplitState, SplitApplyResult, TargetSplitState } from './split-state.js';

const packr = new Packr({ useRecords: false });

/** Ended splits a shard remembers: a stale request names the latest ones, never one many splits old. */
const ENDED_SPLITS_KEPT = 8;

/** What the meta holds. Version 2: `[2, split, owned, ended]`; version 1 had no `ended`. */
interface SplitMeta {
  readonly split: ShardSplitState | null;
  readonly owned: OwnedRange | null;
  readonly ended: readonly EndedSplit[];
}

function decodeMeta(meta: Uint8Array | undefined): SplitMeta {
  if (meta === undefined) return { split: null, owned: null, ended: [] };
  const [, split, owned, ended] = packr.unpack(meta) as [number, ShardSplitState | null, OwnedRange | null, EndedSplit[] | undefined];
  return { split: withAttempt(split ?? null), owned: owned ?? null, ended: ended ?? [] };
}

/** A target state stored before snapshot attempts were numbered holds attempt 0, as its entries do. */
function withAttempt(split: ShardSplitState | null): ShardSplitState | null {
  return split?.role === 'target' && split.attempt === undefined ? { ...split, attempt: 0 } : split;
}

function encodeMeta(meta: SplitMeta): Uint8Array | undefined {
  return meta.split === null && meta.owned === null && meta.ended.length === 0 ? undefined : packr.pack([2, meta.split, meta.owned, meta.ended]);
}

/** Whether two snapshot cursors name the same chunk (null: the first). */
export function sameCursor(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * Why a reset of the task under way must not start over: a numbered attempt must be newer than the one in
 * place (a duplicate or a stale reset is not) and must not take the target behind the source index it has
 * applied — a source's leader snapshots at an applied index no earlier than anything forwarded before.
 * Unnumbered resets, from logs written before attempts were, keep their old meaning.
 */
function resetRefusal(split: TargetSplitState, reset: Extract<SplitCommand, { kind: 'split-reset' }>): string | undefined {
  if (reset.attempt === 0) return undefined;
  if (reset.attempt <= split.attempt) return `snapshot attempt ${reset.attempt} is not newer than attempt ${split.attempt}`;
  if (reset.snapshotIndex < split.lastSourceIndex) return `a snapshot at source index ${reset.snapshotIndex} is behind the applied index ${split.lastSourceIndex}`;
  return undefined;
}

/** Applies a forwarded source entry's data (a key command, expiry or flush) on the target, by the replica's own command path. */
export type ApplyForwarded = (data: Uint8Array) => void;

export class ShardSplit {
  private meta: SplitMeta;

  constructor(private readonly data: ShardData) {
    this.meta = decodeMeta(data.meta);
  }

  /** Reads the meta again: after a snapshot restore replaced it. */
  reload(): void {
    this.meta = decodeMeta(this.data.meta);
  }

  get state(): ShardSplitState | null {
    return this.meta.split;
  }

  get owned(): OwnedRange | null {
    return this.meta.owned;
  }

  /** How this shard's log ended `taskId` as its source; undefined if it did not (yet). */
  ended(taskId: string): EndedSplit | undefined {
    return this.meta.ended.find((e) => e.taskId === taskId);
  }

  ownsSlot(slot: number): boolean {
    const owned = this.meta.owned;
    return owned === null || (slot >= owned.start && slot < owned.end);
  }

  ownsKey(key: Uint8Array): boolean {
    return this.meta.owned === null || this.ownsSlot(keyHashSlot(key));
  }

  apply(command: SplitCommand, index: number, applyForwarded: ApplyForwarded): SplitApplyResult {
    const split = this.meta.split;
    switch (command.kind) {
      case 'split-begin': {
        if (split !== null) return split.taskId === command.taskId ? this.skip('already begun') : this.skip(`split ${split.taskId} is under way`);
        if (this.ended(command.taskId) !== undefined) return this.skip(`split ${command.taskId} is over`);
        const { start, splitSlot, end } = command;
        if (!(start < splitSlot && splitSlot < end)) return this.skip(`split slot ${splitSlot} is not inside [${start}, ${end})`);
        if (this.meta.owned !== null && (this.meta.owned.start !== start || this.meta.owned.end !== end))
          return this.skip(`the shard owns [${this.meta.owned.start}, ${this.meta.owned.end}), not [${start}, ${end})`);
        return this.set({ role: 'source', taskId: command.taskId, target: command.target, splitSlot, end, phase: 'begun', commitIndex: 0 }, { start, end });
      }
      case 'split-commit': {
        if (split?.role !== 'source' || split.taskId !== command.taskId) return this.skip('no such split here');
        if (split.phase === 'committed') return this.skip('already committed');
        return this.set({ ...split, phase: 'committed', commitIndex: index }, { start: this.meta.owned!.start, end: split.splitSlot });
      }
      case 'split-abort': {
        if (split?.role !== 'source' || split.taskId !== command.taskId) return this.skip('no such split here');
        // After the commit the split only rolls forward.
        if (split.phase === 'committed') return this.skip('the split is committed');
        return this.set(null, this.meta.owned, null, { taskId: split.taskId, splitSlot: split.splitSlot, outcome: 'aborted', reason: command.reason });
      }
      case 'split-cleanup': {
        if (split?.role !== 'source' || split.taskId !== command.taskId || split.phase !== 'committed') return this.skip('no committed split to clean up');
        for (const key of command.keys) {
          const buffer = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
          if (!this.ownsKey(buffer)) this.data.delete(buffer);
        }
        return command.keys.length === 0
          ? this.set(null, this.meta.owned, null, { taskId: split.taskId, splitSlot: split.splitSlot, outcome: 'completed' })
          : { ok: true, state: split };
      }
      case 'split-reset': {
        if (split !== null && split.role === 'source') return this.skip('this shard is the source of a split');
        if (split?.role === 'target' && split.taskId !== command.taskId) return this.skip(`split ${split.taskId} is under way`);
        if (this.meta.owned !== null && this.meta.owned.start !== this.meta.owned.end) return this.skip('the shard serves slots already');
        if (split?.role === 'target') {
          const refusal = resetRefusal(split, command);
          if (refusal !== undefined) return this.skip(refusal);
        }
        this.data.clear();
        const state: TargetSplitState = {
          role: 'target',
          taskId: command.taskId,
          source: command.source,
          splitSlot: command.splitSlot,
          end: command.end,
          snapshotIndex: command.snapshotIndex,
          attempt: command.attempt,
          nextCursor: null,
          snapshotDone: false,
          lastSourceIndex: command.snapshotIndex,
          handedOff: false,
          bytesIngested: 0,
        };
        // Owns nothing until the handoff.
        return this.set(state, { start: command.splitSlot, end: command.splitSlot });
      }
      case 'split-ingest': {
        if (split?.role !== 'target' || split.taskId !== command.taskId || split.attempt !== command.attempt || split.snapshotIndex !== command.snapshotIndex) {
          return this.skip('not the snapshot under way');
        }
        if (split.snapshotDone || !sameCursor(split.nextCursor, command.cursor)) return this.skip('not the chunk expected next');
        let bytes = 0;
        for (const entry of command.entries) bytes += entry.byteLength;
        this.data.restoreChunk({ entries: command.entries, next: command.next });
        return this.set({ ...split, nextCursor: command.next, snapshotDone: command.next === null, bytesIngested: split.bytesIngested + bytes }, this.meta.owned);
      }
      case 'split-forward': {
        if (split?.role !== 'target' || split.taskId !== command.taskId || !split.snapshotDone) return this.skip('not catching up');
        // Entries up to `throughIndex` that were not sent touch nothing that moves: applied, as it were.
        const last = Math.max(this.applyEntries(split, command.entries, applyForwarded), command.throughIndex);
        if (last === split.lastSourceIndex) return this.skip('nothing new');
        return this.set({ ...split, lastSourceIndex: last }, this.meta.owned);
      }
      case 'split-handoff': {
        if (split?.role !== 'target' || split.taskId !== command.taskId) return this.skip('no such split here');
        // What the handoff carries completes the source's log through `finalIndex` only from `fromIndex` on.
        if (!split.snapshotDone || split.lastSourceIndex < Math.min(command.fromIndex, command.finalIndex)) {
          return this.skip(`applied up to source index ${split.lastSourceIndex}, not ${command.fromIndex}`);
        }
        this.applyEntries(split, command.entries, applyForwarded);
        // The shard serves the range from here; the split state is done with.
        return this.set(null, { start: split.splitSlot, end: split.end }, { ...split, lastSourceIndex: Math.max(split.lastSourceIndex, command.finalIndex), handedOff: true });
      }
    }
  }

  /** Applies forwarded entries above the last one applied, in order, each once; the last index applied. */
  private applyEntries(split: TargetSplitState, entries: readonly ForwardedEntry[], applyForwarded: ApplyForwarded): number {
    let last = split.lastSourceIndex;
    for (const entry of entries) {
      if (entry.index <= last) continue;
      // The source sends only the moving part; cutting it again here keeps a wrong sender from writing
      // keys this shard will never own.
      const part = forwardedPart(entry.data, split.splitSlot, split.end);
      if (part !== null) applyForwarded(part);
      last = entry.index;
    }
    return last;
  }

  /**
   * Records the new state in the meta, and `ended` among the ended splits; `reported` is what the proposer
   * hears (the state before it is cleared).
   */
  private set(split: ShardSplitState | null, owned: OwnedRange | null, reported: ShardSplitState | null = split, ended?: EndedSplit): SplitApplyResult {
    this.meta = { split, owned, ended: ended === undefined ? this.meta.ended : [...this.meta.ended, ended].slice(-ENDED_SPLITS_KEPT) };
    this.data.setMeta(encodeMeta(this.meta));
    return { ok: true, state: reported };
  }

  private skip(reason: string): SplitApplyResult {
    return { ok: false, reason, state: this.meta.split };
  }
}
