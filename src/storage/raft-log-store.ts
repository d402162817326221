/**
 * One Raft group's log, hard state and applied index, durable in the node's LMDB environment (etcd's
 * MemoryStorage made durable; see MemoryRaftStorage for the model it follows).
 *
 * Writes are synchronous into memory and reach LMDB only through `commit()`, exactly like LmdbShardData:
 * Raft reads its own writes at once, and a driver gathers a whole Ready — entries, hard state, the applied
 * data and the applied index — and makes all of it durable with `NodeStore.commitAll()`. Every commit
 * started in one synchronous stretch of the event loop lands in one LMDB transaction (lmdb-js batches an
 * event turn's writes into one transaction; see NodeStore.commitAll), so a crash never separates a log
 * entry from the hard state that counts it committed, nor applied data from the applied index.
 *
 * Reads are served from a cache of the log's tail (every entry not yet durable or not yet applied, plus
 * recent applied ones up to `tailCacheBytesMax`) and below it from LMDB, which reads synchronously. An
 * entry is read back at least once after it is durable, when it is applied: served from the cache, a
 * 100 MB entry costs no second copy out of LMDB on the event loop. Compaction only moves the
 * first index in the record; the entries below it are deleted afterwards in small background batches.
 *
 * After a restart Raft starts from the compaction point: the driver passes no `applied` to the RawNode,
 * re-receives the committed entries after `firstIndex() - 1` and skips applying those at or below
 * `appliedIndex()`; their membership changes take effect again inside Raft. This is why the record needs
 * the membership only as of the compaction point (etcd restarts the same way).
 */
import type { Database, DatabaseOptions, RootDatabase } from 'lmdb';
import { assert } from '../common/errors.js';
import { EMPTY_HARD_STATE, isEmptyHardState, type HardState } from '../raft/hard-state.js';
import { entrySizeBytes, type Entry } from '../raft/log-entry.js';
import type { NodeId } from '../raft/node-id.js';
import { bootstrapSnapshot, EMPTY_SNAPSHOT, type ConfState, type Snapshot, type SnapshotMetadata } from '../raft/snapshot.js';
import type { RaftLogStorage, StorageError } from '../raft/storage.js';
import { readStored } from './lmdb-bytes.js';
import { assertRaftGroupId, raftLogDbName, raftRecordKey } from './raft-group-ids.js';
import { decodeEntryTerm, decodeEntryValue, decodeIndexKey, encodeEntryValue, encodeIndexKey, RAFT_LOG_FORMAT, type RaftGroupRecord } from './raft-log-encoding.js';

/** Tuning of one group's log. */
export interface RaftLogOptions {
  /**
   * Most bytes (as `entrySizeBytes` counts them) of durable, applied entries kept in memory for reads;
   * entries not yet durable or not yet applied are always kept. Default 1 MiB: a few round trips' worth
   * for a busy group.
   */
  readonly tailCacheBytesMax?: number;
  /** Most entries one background compaction transaction deletes, so it never holds up group commits. Default 1,000. */
  readonly compactBatchEntriesMax?: number;
}

/**
 * Builds the snapshot a leader sends to a follower whose next entry is compacted (see
 * `RaftLogStorage.snapshot`). The driver owns the state machine data, so it builds it: metadata as of an
 * index at or above `firstIndex() - 1` with the membership as of that index, data as the transport needs.
 */
export type SnapshotSource = () => Snapshot | 'temporarilyUnavailable';

const TAIL_CACHE_BYTES_MAX_DEFAULT = 1024 ** 2;
const COMPACT_BATCH_ENTRIES_MAX_DEFAULT = 1_000;
const ENTRY_DB_OPTIONS: DatabaseOptions = { keyEncoding: 'binary', encoding: 'binary' };

/** A durable Raft log for one group; see the module comment. Opened through NodeStore.openRaftLog. */
export class LmdbRaftLogStorage implements RaftLogStorage {
  private readonly tailCacheBytesMax: number;
  private readonly compactBatchEntriesMax: number;
  private hardState: HardState;
  private truncated: SnapshotMetadata;
  private applied: number;
  private last: number;
  /** The newest entries, contiguous and ending at `last`: `tail[0]` has index `tailFirst`. */
  private tail: Entry[] = [];
  private tailFirst: number;
  private tailBytes = 0;
  /** Lowest index appended since the last commit (Infinity if none): the next commit writes from here. */
  private openLowestIndex = Number.POSITIVE_INFINITY;
  /** Whether hard state, applied index or compaction point changed since the last commit. */
  private recordDirty = false;
  /** Last index LMDB holds once every commit started so far lands: a shorter log must delete the rest. */
  private storedLast: number;
  /** Lowest index each commit not yet durable writes, oldest first: the cache must keep those entries. */
  private readonly inflightLowestIndexes: number[] = [];
  /** Resolves when the newest commit started is durable; commits chain on it to complete in order. */
  private lastCommit: Promise<void> = Promise.resolve();
  /** Compaction point of the newest durable record: entries up to it may be deleted. */
  private durableTruncatedIndex: number;
  /** Every entry at or below this index is gone from LMDB. */
  private deletedThrough: number;
  /** The background deletion running now, if any. */
  private compaction: Promise<void> | undefined;
  /** Why the log can no longer be used (dropped, store closed, a background write failed); undefined while usable. */
  private unusableReason: string | undefined;
  private snapshotSource: SnapshotSource | undefined;

  private constructor(
    /** The group's id: a shard's id, or the pilot group's. */
    readonly groupId: string,
    private readonly entriesDb: Database<Buffer, Buffer>,
    private readonly meta: Database<unknown, string>,
    record: RaftGroupRecord,
    storedFirst: number | undefined,
    storedLast: number | undefined,
    options: RaftLogOptions,
  ) {
    this.tailCacheBytesMax = options.tailCacheBytesMax ?? TAIL_CACHE_BYTES_MAX_DEFAULT;
    this.compactBatchEntriesMax = options.compactBatchEntriesMax ?? COMPACT_BATCH_ENTRIES_MAX_DEFAULT;
    assert(Number.isSafeInteger(this.tailCacheBytesMax) && this.tailCacheBytesMax >= 0, `tailCacheBytesMax ${this.tailCacheBytesMax} must be a non-negative integer`);
    assert(
      Number.isSafeInteger(this.compactBatchEntriesMax) && this.compactBatchEntriesMax > 0,
      `compactBatchEntriesMax ${this.compactBatchEntriesMax} must be a positive integer`,
    );
    this.hardState = record.hardState;
    this.truncated = record.truncated;
    this.applied = record.applied;
    this.last = Math.max(record.truncated.index, storedLast ?? 0);
    this.tailFirst = this.last + 1;
    this.storedLast = this.last;
    this.durableTruncatedIndex = record.truncated.index;
    // Entries below the compaction point left by a deletion a crash or close interrupted are deleted again.
    this.deletedThrough = storedFirst === undefined ? this.last : storedFirst - 1;
    assert(
      this.applied >= this.truncated.index && this.applied <= Math.max(this.hardState.commit, this.truncated.index),
      `raft group ${groupId}: applied ${this.applied} out of range`,
    );
    assert(this.hardState.commit <= this.last, `raft group ${groupId}: commit ${this.hardState.commit} past last index ${this.last}`);
    if (this.last > this.truncated.index) {
      assert(this.entriesDb.doesExist(encodeIndexKey(this.truncated.index + 1)), `raft group ${groupId}: first entry ${this.truncated.index + 1} is missing`);
    }
    this.runCompaction();
  }

  /**
   * Opens the group's log in `root` (creating its DB and record if absent, in one synchronous, synced
   * transaction). NodeStore calls this; drivers use NodeStore.openRaftLog.
   */
  static open(root: RootDatabase, meta: Database<unknown, string>, groupId: string, options: RaftLogOptions = {}): LmdbRaftLogStorage {
    assertRaftGroupId(groupId);
    const recordKey = raftRecordKey(groupId);
    return root.transactionSync(() => {
      const entriesDb = root.openDB<Buffer, Buffer>(raftLogDbName(groupId), ENTRY_DB_OPTIONS);
      let record = meta.get(recordKey) as RaftGroupRecord | undefined;
      if (record === undefined) {
        record = { format: RAFT_LOG_FORMAT, hardState: EMPTY_HARD_STATE, truncated: EMPTY_SNAPSHOT.metadata, applied: 0 };
        meta.putSync(recordKey, record);
      }
      assert(record.format === RAFT_LOG_FORMAT, `raft group ${groupId}: log format ${record.format}, expected ${RAFT_LOG_FORMAT}`);
      return new LmdbRaftLogStorage(groupId, entriesDb, meta, record, storedIndex(entriesDb, 'lowest'), storedIndex(entriesDb, 'highest'), options);
    });
  }

  // --- RaftLogStorage: what Raft reads -----------------------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    this.assertUsable();
    return { hardState: this.hardState, confState: this.truncated.confState };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): readonly Entry[] | StorageError {
    this.assertUsable();
    if (lo <= this.truncated.index) return 'compacted';
    assert(hi <= this.last + 1, `entries(${lo}, ${hi}) past last index ${this.last}`);
    assert(lo <= hi, `entries(${lo}, ${hi}) is an inverted range`);
    const found: Entry[] = [];
    let sizeBytes = 0;
    // Always at least one entry: a single entry larger than the limit must still make progress.
    const fits = (entry: Entry): boolean => {
      sizeBytes += entrySizeBytes(entry);
      return sizeBytes <= maxSizeBytes || found.length === 0;
    };
    const diskHi = Math.min(hi, this.tailFirst);
    if (lo < diskHi) {
      for (const { key, value } of this.entriesDb.getRange({ start: encodeIndexKey(lo), end: encodeIndexKey(diskHi) })) {
        const index = decodeIndexKey(key);
        assert(index === lo + found.length, `raft group ${this.groupId}: log entry ${lo + found.length} is missing`);
        const entry = decodeEntryValue(index, value);
        if (!fits(entry)) return found;
        found.push(entry);
      }
      assert(found.length === diskHi - lo, `raft group ${this.groupId}: log entries ${lo + found.length}..${diskHi - 1} are missing`);
    }
    for (let index = Math.max(lo, this.tailFirst); index < hi; index++) {
      const entry = this.tail[index - this.tailFirst]!;
      if (!fits(entry)) return found;
      found.push(entry);
    }
    return found;
  }

  term(index: number): number | StorageError {
    this.assertUsable();
    if (index < this.truncated.index) return 'compacted';
    if (index === this.truncated.index) return this.truncated.term;
    if (index > this.last) return 'unavailable';
    if (index >= this.tailFirst) return this.tail[index - this.tailFirst]!.term;
    const value = readStored(this.entriesDb, encodeIndexKey(index));
    assert(value !== undefined, `raft group ${this.groupId}: log entry ${index} is missing`);
    return decodeEntryTerm(index, value);
  }

  firstIndex(): number {
    return this.truncated.index + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  /** The driver's snapshot (see `setSnapshotSource`); 'temporarilyUnavailable' until it provides one. */
  snapshot(): Snapshot | 'temporarilyUnavailable' {
    this.assertUsable();
    if (this.snapshotSource === undefined) return 'temporarilyUnavailable';
    const snapshot = this.snapshotSource();
    if (snapshot === 'temporarilyUnavailable') return snapshot;
    // Below the compaction point the leader would find the follower still behind and send it again, forever.
    assert(snapshot.metadata.index >= this.truncated.index, `snapshot at ${snapshot.metadata.index} is older than the compaction point ${this.truncated.index}`);
    return snapshot;
  }

  // --- the driver's side: writes (durable at the next commit) and state -----------------------------------

  /** The hard state, including one set since the last commit. */
  getHardState(): HardState {
    return this.hardState;
  }

  /** The last index whose effects the state machine data holds (as recorded with `setApplied`). */
  appliedIndex(): number {
    return this.applied;
  }

  /** Where the leader's snapshots come from; see `SnapshotSource`. */
  setSnapshotSource(source: SnapshotSource): void {
    this.snapshotSource = source;
  }

  /**
   * Makes this empty log a founding member's log of a new group with the given voters (see
   * `bootstrapSnapshot`), as MemoryRaftStorage.bootstrap does.
   */
  bootstrap(voters: readonly NodeId[]): void {
    assert(this.last === 0 && isEmptyHardState(this.hardState), `raft group ${this.groupId} is not empty: it cannot be bootstrapped`);
    const result = this.applySnapshot(bootstrapSnapshot(voters));
    assert(result === 'ok', 'bootstrap snapshot applies to an empty log');
    this.setHardState({ term: 1, vote: 0, commit: 1 });
  }

  /**
   * Appends the entries of a Ready. Entries overlapping the stored ones replace them from the first
   * overlapping index on (a new leader overwrote a conflicting suffix); entries already compacted are
   * skipped.
   */
  append(entries: readonly Entry[]): void {
    this.assertUsable();
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[entries.length - 1]!.index;
    if (lastNew < first) return;
    const toAppend = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const start = toAppend[0]!.index;
    assert(lastNew - start + 1 === toAppend.length, `appended entries ${start}..${lastNew} are not consecutive`);
    assert(start <= this.last + 1, `append leaves a gap: entry ${start} after last ${this.last}`);
    assert(start > this.applied || start > this.last, `append overwrites applied entry ${start} (applied ${this.applied})`);
    if (start < this.tailFirst) {
      this.tail = [];
      this.tailBytes = 0;
      this.tailFirst = start;
    } else {
      for (let i = start - this.tailFirst; i < this.tail.length; i++) this.tailBytes -= entrySizeBytes(this.tail[i]!);
      this.tail.length = start - this.tailFirst;
    }
    for (const entry of toAppend) {
      this.tail.push(entry);
      this.tailBytes += entrySizeBytes(entry);
    }
    this.last = lastNew;
    this.openLowestIndex = Math.min(this.openLowestIndex, start);
    this.evictTail();
  }

  /** Records the hard state of a Ready. */
  setHardState(hardState: HardState): void {
    this.assertUsable();
    assert(hardState.term >= this.hardState.term, `hard state term ${hardState.term} below ${this.hardState.term}`);
    assert(hardState.commit <= this.last, `hard state commit ${hardState.commit} past last index ${this.last}`);
    this.hardState = hardState;
    this.recordDirty = true;
  }

  /**
   * Records that the state machine data now holds the effects of entries up to `index`. Commit it with the
   * data it describes (one NodeStore.commitAll), so that after a crash the driver skips exactly what the
   * data already holds.
   */
  setApplied(index: number): void {
    this.assertUsable();
    assert(index >= this.applied, `applied index ${index} below ${this.applied}`);
    assert(index <= this.hardState.commit, `applied index ${index} past commit ${this.hardState.commit}`);
    if (index === this.applied) return;
    this.applied = index;
    this.recordDirty = true;
    this.evictTail();
  }

  /**
   * Records a snapshot from the leader (a Ready's `snapshot`), replacing the whole log; its index becomes
   * the applied index, because the driver loads the snapshot's data into the state machine before the same
   * commit. 'outOfDate' when it is not newer than the compaction point.
   */
  applySnapshot(snapshot: Snapshot): 'ok' | 'outOfDate' {
    this.assertUsable();
    const { metadata } = snapshot;
    if (metadata.index <= this.truncated.index) return 'outOfDate';
    this.truncated = metadata;
    this.last = metadata.index;
    this.tail = [];
    this.tailBytes = 0;
    this.tailFirst = metadata.index + 1;
    // Nothing appended since the last commit survives; what earlier commits wrote is deleted (the suffix
    // by the next commit, the rest by compaction).
    this.openLowestIndex = Number.POSITIVE_INFINITY;
    this.applied = metadata.index;
    this.recordDirty = true;
    return 'ok';
  }

  /**
   * Discards the log up to and including `index`, which the state machine has applied; `confState` is the
   * membership as of `index` (`RawNode.confState()` when `index` is the index the RawNode has applied).
   * Takes effect at the next commit; LMDB space is reclaimed in the background after it.
   */
  compact(index: number, confState: ConfState): 'ok' | 'compacted' {
    this.assertUsable();
    if (index <= this.truncated.index) return 'compacted';
    assert(index <= this.applied, `compact(${index}) past applied index ${this.applied}`);
    const term = this.term(index);
    assert(typeof term === 'number', `term of compaction index ${index} is known`);
    this.truncated = { index, term, confState };
    if (index >= this.tailFirst) {
      const dropped = this.tail.splice(0, index + 1 - this.tailFirst);
      for (const entry of dropped) this.tailBytes -= entrySizeBytes(entry);
      this.tailFirst = index + 1;
    }
    this.recordDirty = true;
    return 'ok';
  }

  // --- durability --------------------------------------------------------------------------------------

  /**
   * Hands every write since the previous commit to LMDB as one batch; resolves once it is durable. Drivers
   * call NodeStore.commitAll, which commits this with every shard's data. Rejects if the log was dropped,
   * its store closed, or an earlier write failed (memory then no longer matches disk: reopen the store).
   */
  commit(): Promise<void> {
    if (this.unusableReason !== undefined) return Promise.reject(new Error(`raft group ${this.groupId} ${this.unusableReason}`));
    // Entries at or below the compaction point need not be written: the record says they are gone.
    const writeFrom = Math.max(this.openLowestIndex, this.truncated.index + 1);
    const writeThrough = this.last;
    const deleteThrough = this.storedLast;
    if (!this.recordDirty && writeFrom > writeThrough && deleteThrough <= writeThrough) return this.lastCommit;
    assert(writeFrom > writeThrough || writeFrom >= this.tailFirst, `raft group ${this.groupId}: entry ${writeFrom} left the cache before it was written`);
    const entries = writeFrom <= writeThrough ? this.tail.slice(writeFrom - this.tailFirst, writeThrough + 1 - this.tailFirst) : [];
    const record: RaftGroupRecord | undefined = this.recordDirty
      ? { format: RAFT_LOG_FORMAT, hardState: this.hardState, truncated: this.truncated, applied: this.applied }
      : undefined;
    const written = this.entriesDb.batch(() => {
      for (const entry of entries) void this.entriesDb.put(encodeIndexKey(entry.index), encodeEntryValue(entry));
      // The log got shorter (a conflicting suffix was cut, or a snapshot replaced it): no stale entry may
      // stay above the last index, or a restart would read it back.
      for (let index = writeThrough + 1; index <= deleteThrough; index++) void this.entriesDb.remove(encodeIndexKey(index));
      if (record !== undefined) void this.meta.put(raftRecordKey(this.groupId), record);
    });
    const lowestIndex = entries.length > 0 ? writeFrom : Number.POSITIVE_INFINITY;
    this.inflightLowestIndexes.push(lowestIndex);
    this.openLowestIndex = Number.POSITIVE_INFINITY;
    this.recordDirty = false;
    this.storedLast = writeThrough;
    // Promise.all subscribes to `written` at once, so a failed batch never counts as an unhandled rejection.
    const durable = Promise.all([this.lastCommit, written]).then(
      () => this.onDurable(lowestIndex, record),
      (error: unknown) => {
        this.unusableReason ??= `failed to write: ${String(error)}`;
        throw error;
      },
    );
    this.lastCommit = durable;
    return durable;
  }

  /** Commits first if anything is pending, so that it never waits on a commit nobody starts. */
  flushed(): Promise<void> {
    return this.commit();
  }

  /** Resolves once the background deletion of compacted entries has caught up with the durable record. */
  async compacted(): Promise<void> {
    while (this.compaction !== undefined) await this.compaction;
  }

  /**
   * Called by NodeStore when it drops the group or closes: later reads and writes throw, commits reject,
   * writes not yet committed are discarded and background deletion stops (resuming after a reopen).
   * Resolves once no background write of this log is in flight.
   */
  async detach(reason: string): Promise<void> {
    this.unusableReason ??= reason;
    this.tail = [];
    this.tailBytes = 0;
    await this.compaction;
  }

  /** Bytes of entries cached in memory: at most tailCacheBytesMax plus the entries not yet durable or applied. */
  get cachedBytes(): number {
    return this.tailBytes;
  }

  private onDurable(lowestIndex: number, record: RaftGroupRecord | undefined): void {
    const oldest = this.inflightLowestIndexes.shift();
    assert(oldest === lowestIndex, 'raft log commits complete in the order they started');
    if (record !== undefined) this.durableTruncatedIndex = Math.max(this.durableTruncatedIndex, record.truncated.index);
    this.evictTail();
    this.runCompaction();
  }

  /** Drops the oldest cached entries beyond the budget, but never one that LMDB may not hold yet, nor one not applied yet. */
  private evictTail(): void {
    if (this.tailBytes <= this.tailCacheBytesMax) return;
    const pinnedFrom = Math.min(this.openLowestIndex, this.applied + 1, ...this.inflightLowestIndexes);
    let count = 0;
    while (this.tailBytes > this.tailCacheBytesMax && count < this.tail.length && this.tailFirst + count < pinnedFrom) {
      this.tailBytes -= entrySizeBytes(this.tail[count]!);
      count++;
    }
    this.tail.splice(0, count);
    this.tailFirst += count;
  }

  /** Starts deleting the entries a durable record compacted, unless that already runs. */
  private runCompaction(): void {
    if (this.compaction !== undefined || this.unusableReason !== undefined || this.deletedThrough >= this.durableTruncatedIndex) return;
    this.compaction = this.deleteCompacted().then(
      () => {
        this.compaction = undefined;
      },
      (error: unknown) => {
        this.compaction = undefined;
        // Disk trouble: later commits reject rather than run on a store that may not match memory.
        this.unusableReason ??= `failed to delete compacted entries: ${String(error)}`;
      },
    );
  }

  private async deleteCompacted(): Promise<void> {
    while (this.unusableReason === undefined && this.deletedThrough < this.durableTruncatedIndex) {
      const through = this.durableTruncatedIndex;
      // Only keys that exist: after a snapshot install the range may be mostly empty and very long.
      const keys = [...this.entriesDb.getKeys({ start: encodeIndexKey(this.deletedThrough + 1), end: encodeIndexKey(through + 1), limit: this.compactBatchEntriesMax })];
      if (keys.length > 0) {
        await this.entriesDb.batch(() => {
          for (const key of keys) void this.entriesDb.remove(key);
        });
      }
      this.deletedThrough = keys.length < this.compactBatchEntriesMax ? through : decodeIndexKey(keys[keys.length - 1]!);
    }
  }

  private assertUsable(): void {
    assert(this.unusableReason === undefined, `raft group ${this.groupId} ${this.unusableReason}`);
  }
}

/** The lowest or highest index stored in `db`, if any. */
function storedIndex(db: Database<Buffer, Buffer>, which: 'lowest' | 'highest'): number | undefined {
  for (const key of db.getKeys({ reverse: which === 'highest', limit: 1 })) return decodeIndexKey(key);
  return undefined;
}
