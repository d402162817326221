import { assert } from '../common/errors.js';
import { limitSize, type Entry } from './log-entry.js';
import type { Snapshot } from './snapshot.js';
import type { RaftLogStorage } from './storage.js';
import { Unstable } from './unstable.js';

/**
 * The log as Raft sees it: persisted entries (storage) followed by unstable ones, plus the commit and
 * applied indexes. Invariant: applied ≤ committed ≤ lastIndex.
 */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be stored on a quorum. */
  committed: number;
  /** Highest index the driver has applied (and told us so with advance). */
  applied: number;

  constructor(
    readonly storage: RaftLogStorage,
    /** Limit on the committed entries handed out in one Ready. */
    private readonly maxApplyBytes: number,
  ) {
    const first = storage.firstIndex();
    this.unstable = new Unstable(storage.lastIndex() + 1);
    // Everything up to the snapshot is committed and applied by definition.
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The term of entry `index`, or undefined when it is compacted or beyond the log. */
  termOf(index: number): number | undefined {
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex || index > this.lastIndex()) return undefined;
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    const term = this.storage.term(index);
    return typeof term === 'number' ? term : undefined;
  }

  lastTerm(): number {
    const term = this.termOf(this.lastIndex());
    assert(term !== undefined, 'the term of the last entry is always known');
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.termOf(index) === term;
  }

  /** Raft paper §5.4.1: a log is more up-to-date if its last term is later, or equal with a longer log. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first of `entries` that is missing or conflicts with our log, 0 if none does. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term`, with that term (0 when unknown): every entry after
   * it cannot match a log whose entry at `index` has `term`, so the leader can skip them in one round.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      const t = this.termOf(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * AppendEntries receiver rules (Raft paper Figure 2): if our entry at `index` has `logTerm`, append
   * the new entries, deleting a conflicting suffix first, and commit up to min(leaderCommit, last new
   * entry). Returns the last new index, or undefined when the log does not match at `index`.
   */
  maybeAppend(index: number, logTerm: number, leaderCommit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      this.append(entries.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  /** Appends entries (overwriting any suffix from the first new index); returns the new last index. */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    assert(after >= this.committed, `append after ${after} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return; // Commit never moves backwards.
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}: log lost or corrupted`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed && index >= this.applied, `applied ${index} out of [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  /**
   * Commits `index` if it is beyond the commit index and its entry is of `term`: a leader only commits
   * entries of its own term by counting replicas (Raft paper §5.4.2).
   */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOf(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries.slice();
  }

  /** Committed entries not yet applied, limited in size; none while a snapshot waits to be persisted. */
  nextCommittedEntries(): readonly Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 <= lo) return [];
    const entries = this.slice(lo, this.committed + 1, this.maxApplyBytes);
    assert(entries !== 'compacted', `unapplied entry ${lo} is compacted`);
    return entries;
  }

  hasNextCommittedEntries(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** Entries from `lo` to the end, limited in size. 'compacted' when lo is no longer in the log. */
  entriesFrom(lo: number, maxSizeBytes: number): readonly Entry[] | 'compacted' {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxSizeBytes);
  }

  /** Entries [lo, hi), limited in size (at least one), read from storage then unstable. */
  slice(lo: number, hi: number, maxSizeBytes: number): readonly Entry[] | 'compacted' {
    if (lo < this.firstIndex()) return 'compacted';
    assert(lo <= hi && hi <= this.lastIndex() + 1, `slice(${lo}, ${hi}) out of log [${this.firstIndex()}, ${this.lastIndex()}]`);
    if (lo === hi) return [];
    let result: readonly Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      const stored = this.storage.entries(lo, storedHi, maxSizeBytes);
      if (stored === 'compacted') return 'compacted';
      assert(stored !== 'unavailable', `entries [${lo}, ${storedHi}) unavailable in storage`);
      // Fewer than asked means the size limit was hit: stop there.
      if (stored.length < storedHi - lo) return stored;
      result = stored;
    }
    if (hi > offset) {
      const fromUnstable = this.unstable.slice(Math.max(lo, offset), hi);
      result = result.length === 0 ? fromUnstable : [...result, ...fromUnstable];
    }
    return limitSize(result, maxSizeBytes);
  }
}
