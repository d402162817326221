/**
 * One Raft group's log on a SimDisk: LmdbRaftLogStorage's behaviour, in memory, with crashes.
 *
 * The same methods, the same assertions and the same restart rules as the LMDB log (see
 * raft-log-store.ts): writes are visible to Raft at once; `commit()` hands the entries appended since the
 * previous commit, the cut of a shortened log and, when it changed, the record (hard state, compaction
 * point, applied index) to the disk as one batch; a restart sees exactly what landed. Compacted entries
 * are deleted when the record that compacts them lands (LMDB deletes them later, in the background,
 * which a restart cannot tell apart). The whole log stays in memory: the simulation's logs are small.
 */
import { assert } from '../../src/common/errors.js';
import { isEmptyHardState, bootstrapSnapshot, type ConfState, type Entry, type HardState, type NodeId, type RaftLogStorage, type Snapshot, type SnapshotMetadata, type StorageError } from '../../src/raft/index.js';
import { limitSize } from '../../src/raft/log-entry.js';
import type { DurableRaftLog } from './disk-image.js';
import type { DurableWrites } from './sim-disk.js';

/** Builds a leader's snapshot for a follower whose next entry is compacted (as for LmdbRaftLogStorage). */
export type SnapshotSource = () => Snapshot | 'temporarilyUnavailable';

/** The record a commit writes when hard state, applied index or compaction point changed. */
interface LogRecord {
  readonly hardState: HardState;
  readonly truncated: SnapshotMetadata;
  readonly applied: number;
}

/** A Raft log on a simulated disk; see the module comment. Opened through SimDisk.openRaftLog. */
export class CrashableRaftLog implements RaftLogStorage {
  private hardState: HardState;
  private truncated: SnapshotMetadata;
  private applied: number;
  /** Entries truncated.index + 1 .. lastIndex(), in order. */
  private log: Entry[];
  /** Lowest index appended since the last commit (Infinity if none): the next commit writes from here. */
  private openLowestIndex = Number.POSITIVE_INFINITY;
  /** Whether hard state, applied index or compaction point changed since the last commit. */
  private recordDirty = false;
  /** Last index the durable image holds once every commit started so far lands: a shorter log must cut the rest. */
  private storedLast: number;
  private lastCommit: Promise<void> = Promise.resolve();
  private unusableReason: string | undefined;
  private snapshotSource: SnapshotSource | undefined;

  constructor(
    readonly groupId: string,
    private readonly disk: DurableWrites,
    private readonly durable: DurableRaftLog,
  ) {
    this.hardState = durable.hardState;
    this.truncated = durable.truncated;
    this.applied = durable.applied;
    let last = durable.truncated.index;
    for (const index of durable.entries.keys()) last = Math.max(last, index);
    this.log = [];
    for (let index = durable.truncated.index + 1; index <= last; index++) {
      const entry = durable.entries.get(index);
      assert(entry !== undefined, `raft group ${groupId}: log entry ${index} is missing`);
      this.log.push(entry);
    }
    this.storedLast = last;
    assert(this.applied >= this.truncated.index && this.applied <= Math.max(this.hardState.commit, this.truncated.index), `raft group ${groupId}: applied ${this.applied} out of range`);
    assert(this.hardState.commit <= last, `raft group ${groupId}: commit ${this.hardState.commit} past last index ${last}`);
  }

  // --- RaftLogStorage: what Raft reads -----------------------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    this.assertUsable();
    return { hardState: this.hardState, confState: this.truncated.confState };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): readonly Entry[] | StorageError {
    this.assertUsable();
    if (lo <= this.truncated.index) return 'compacted';
    assert(hi <= this.lastIndex() + 1, `entries(${lo}, ${hi}) past last index ${this.lastIndex()}`);
    assert(lo <= hi, `entries(${lo}, ${hi}) is an inverted range`);
    const offset = this.truncated.index + 1;
    return limitSize(this.log.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(index: number): number | StorageError {
    this.assertUsable();
    if (index < this.truncated.index) return 'compacted';
    if (index === this.truncated.index) return this.truncated.term;
    if (index > this.lastIndex()) return 'unavailable';
    return this.log[index - this.truncated.index - 1]!.term;
  }

  firstIndex(): number {
    return this.truncated.index + 1;
  }

  lastIndex(): number {
    return this.truncated.index + this.log.length;
  }

  /** The driver's snapshot (see `setSnapshotSource`); 'temporarilyUnavailable' until it provides one. */
  snapshot(): Snapshot | 'temporarilyUnavailable' {
    this.assertUsable();
    if (this.snapshotSource === undefined) return 'temporarilyUnavailable';
    const snapshot = this.snapshotSource();
    if (snapshot === 'temporarilyUnavailable') return snapshot;
    assert(snapshot.metadata.index >= this.truncated.index, `snapshot at ${snapshot.metadata.index} is older than the compaction point ${this.truncated.index}`);
    return snapshot;
  }

  // --- the driver's side --------------------------------------------------------------------------------

  getHardState(): HardState {
    return this.hardState;
  }

  appliedIndex(): number {
    return this.applied;
  }

  setSnapshotSource(source: SnapshotSource): void {
    this.snapshotSource = source;
  }

  /** Makes this empty log a founding member's log of a new group with the given voters. */
  bootstrap(voters: readonly NodeId[]): void {
    assert(this.lastIndex() === 0 && isEmptyHardState(this.hardState), `raft group ${this.groupId} is not empty: it cannot be bootstrapped`);
    const result = this.applySnapshot(bootstrapSnapshot(voters));
    assert(result === 'ok', 'bootstrap snapshot applies to an empty log');
    this.setHardState({ term: 1, vote: 0, commit: 1 });
  }

  /** Appends a Ready's entries, replacing a conflicting suffix and skipping compacted entries. */
  append(entries: readonly Entry[]): void {
    this.assertUsable();
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[entries.length - 1]!.index;
    if (lastNew < first) return;
    const toAppend = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const start = toAppend[0]!.index;
    const last = this.lastIndex();
    assert(lastNew - start + 1 === toAppend.length, `appended entries ${start}..${lastNew} are not consecutive`);
    assert(start <= last + 1, `append leaves a gap: entry ${start} after last ${last}`);
    assert(start > this.applied || start > last, `append overwrites applied entry ${start} (applied ${this.applied})`);
    this.log.length = start - first;
    for (const entry of toAppend) this.log.push(entry);
    this.openLowestIndex = Math.min(this.openLowestIndex, start);
  }

  setHardState(hardState: HardState): void {
    this.assertUsable();
    assert(hardState.term >= this.hardState.term, `hard state term ${hardState.term} below ${this.hardState.term}`);
    assert(hardState.commit <= this.lastIndex(), `hard state commit ${hardState.commit} past last index ${this.lastIndex()}`);
    this.hardState = hardState;
    this.recordDirty = true;
  }

  /** Records that the state machine holds entries up to `index`: commit it with that data. */
  setApplied(index: number): void {
    this.assertUsable();
    assert(index >= this.applied, `applied index ${index} below ${this.applied}`);
    assert(index <= this.hardState.commit, `applied index ${index} past commit ${this.hardState.commit}`);
    if (index === this.applied) return;
    this.applied = index;
    this.recordDirty = true;
  }

  /** Replaces the whole log with a leader's snapshot, whose index becomes the applied index. */
  applySnapshot(snapshot: Snapshot): 'ok' | 'outOfDate' {
    this.assertUsable();
    const { metadata } = snapshot;
    if (metadata.index <= this.truncated.index) return 'outOfDate';
    this.truncated = metadata;
    this.log = [];
    this.openLowestIndex = Number.POSITIVE_INFINITY;
    this.applied = metadata.index;
    this.recordDirty = true;
    return 'ok';
  }

  /** Discards the log up to `index` (applied); `confState` is the membership as of `index`. */
  compact(index: number, confState: ConfState): 'ok' | 'compacted' {
    this.assertUsable();
    if (index <= this.truncated.index) return 'compacted';
    assert(index <= this.applied, `compact(${index}) past applied index ${this.applied}`);
    const term = this.term(index);
    assert(typeof term === 'number', `term of compaction index ${index} is known`);
    this.log.splice(0, index - this.truncated.index);
    this.truncated = { index, term, confState };
    this.recordDirty = true;
    return 'ok';
  }

  /** Hands every write since the previous commit to the disk; resolves when it is durable. */
  commit(): Promise<void> {
    this.assertUsable();
    const writeFrom = Math.max(this.openLowestIndex, this.truncated.index + 1);
    const writeThrough = this.lastIndex();
    const deleteThrough = this.storedLast;
    if (!this.recordDirty && writeFrom > writeThrough && deleteThrough <= writeThrough) return this.lastCommit;
    const offset = this.truncated.index + 1;
    const written = writeFrom <= writeThrough ? this.log.slice(writeFrom - offset, writeThrough + 1 - offset) : [];
    const record: LogRecord | undefined = this.recordDirty ? { hardState: this.hardState, truncated: this.truncated, applied: this.applied } : undefined;
    const durable = this.durable;
    this.lastCommit = this.disk.stage(() => {
      for (const entry of written) durable.entries.set(entry.index, entry);
      // The log got shorter (a conflicting suffix was cut, or a snapshot replaced it): nothing stale may stay.
      for (let index = writeThrough + 1; index <= deleteThrough; index++) durable.entries.delete(index);
      if (record !== undefined) {
        deleteCompacted(durable, record.truncated.index);
        durable.hardState = record.hardState;
        durable.truncated = record.truncated;
        durable.applied = record.applied;
      }
    });
    this.openLowestIndex = Number.POSITIVE_INFINITY;
    this.recordDirty = false;
    this.storedLast = writeThrough;
    return this.lastCommit;
  }

  /** Commits first if anything is pending, so that it never waits on a commit nobody starts. */
  flushed(): Promise<void> {
    return this.commit();
  }

  /** Called by the disk on a drop or crash: later use throws. */
  detach(reason: string): void {
    this.unusableReason ??= reason;
    this.log = [];
  }

  private assertUsable(): void {
    assert(this.unusableReason === undefined, `raft group ${this.groupId} ${this.unusableReason}`);
  }
}

/** Deletes the durable entries at or below `through`, walking whichever is shorter: the range or the map. */
function deleteCompacted(durable: DurableRaftLog, through: number): void {
  const from = durable.truncated.index + 1;
  if (through < from) return;
  if (through - from + 1 <= durable.entries.size) {
    for (let index = from; index <= through; index++) durable.entries.delete(index);
    return;
  }
  for (const index of [...durable.entries.keys()]) if (index <= through) durable.entries.delete(index);
}
