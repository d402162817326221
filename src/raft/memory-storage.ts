import { assert } from '../common/errors.js';
import { EMPTY_HARD_STATE, type HardState } from './hard-state.js';
import { limitSize, type Entry } from './log-entry.js';
import type { NodeId } from './node-id.js';
import { bootstrapSnapshot, EMPTY_SNAPSHOT, type ConfState, type Snapshot } from './snapshot.js';
import type { RaftLogStorage, StorageError } from './storage.js';

/**
 * An in-memory `RaftLogStorage` with the write side a driver needs (etcd's MemoryStorage): for tests, for
 * simulation, and as the model a disk-backed driver follows. Entry 0 of the array is a dummy holding the
 * snapshot's index and term, so the term just before the first entry is always known.
 */
export class MemoryRaftStorage implements RaftLogStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  private ents: Entry[] = [dummyEntry(0, 0)];

  /** Storage of a founding member of a new group with the given voters (see `bootstrapSnapshot`). */
  static bootstrap(voters: readonly NodeId[]): MemoryRaftStorage {
    const storage = new MemoryRaftStorage();
    const result = storage.applySnapshot(bootstrapSnapshot(voters));
    assert(result === 'ok', 'bootstrap snapshot applies to empty storage');
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    return storage;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): readonly Entry[] | StorageError {
    const offset = this.ents[0]!.index;
    if (lo <= offset) return 'compacted';
    assert(hi <= this.lastIndex() + 1, `entries(${lo}, ${hi}) past last index ${this.lastIndex()}`);
    assert(lo <= hi, `entries(${lo}, ${hi}) is an inverted range`);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(index: number): number | StorageError {
    const offset = this.ents[0]!.index;
    if (index < offset) return 'compacted';
    if (index - offset >= this.ents.length) return 'unavailable';
    return this.ents[index - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Persists the hard state of a Ready. */
  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  /** The persisted hard state. */
  getHardState(): HardState {
    return this.hardState;
  }

  /**
   * Persists a snapshot received from the leader (a Ready's `snapshot`), replacing the whole log.
   * 'outOfDate' when it is not newer than the snapshot held.
   */
  applySnapshot(snapshot: Snapshot): 'ok' | 'outOfDate' {
    if (snapshot.metadata.index <= this.snap.metadata.index) return 'outOfDate';
    this.snap = snapshot;
    this.ents = [dummyEntry(snapshot.metadata.index, snapshot.metadata.term)];
    return 'ok';
  }

  /**
   * Records the application's snapshot of its state at applied index `index` (with the membership at that
   * index), so the log up to it may be compacted and lagging followers can be sent it.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): 'ok' | 'outOfDate' {
    if (index <= this.snap.metadata.index) return 'outOfDate';
    assert(index <= this.lastIndex(), `snapshot index ${index} past last index ${this.lastIndex()}`);
    const term = this.term(index);
    assert(typeof term === 'number', `term of snapshot index ${index} is known`);
    this.snap = { metadata: { index, term, confState }, data };
    return 'ok';
  }

  /**
   * Discards entries up to and including `compactIndex`. Only a snapshot can replace them, so compacting
   * past the latest snapshot is a bug.
   */
  compact(compactIndex: number): 'ok' | 'compacted' {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) return 'compacted';
    assert(compactIndex <= this.snap.metadata.index, `compact(${compactIndex}) past snapshot ${this.snap.metadata.index}`);
    const i = compactIndex - offset;
    this.ents = [dummyEntry(compactIndex, this.ents[i]!.term), ...this.ents.slice(i + 1)];
    return 'ok';
  }

  /**
   * Persists the entries of a Ready. Entries overlapping the stored ones replace them from the first
   * overlapping index on (a new leader overwrote a conflicting suffix); entries already compacted are
   * skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    const toAppend = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = toAppend[0]!.index - this.ents[0]!.index;
    assert(offset <= this.ents.length, `append leaves a gap: entry ${toAppend[0]!.index} after last ${this.lastIndex()}`);
    this.ents = [...this.ents.slice(0, offset), ...toAppend];
  }
}

function dummyEntry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(0) };
}
