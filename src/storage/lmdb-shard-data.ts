/**
 * One shard's data in LMDB: a named DB of `slot ‖ key` → encoded value, a named DB indexing the keys that
 * carry an expiry (same key → 8-byte expireAtMs), and the shard's record (counters) in the node's meta DB.
 *
 * lmdb-js writes asynchronously and a read does not see a write before its commit resolves, but the
 * state machine must read its own writes at once. So writes land synchronously in an in-memory overlay
 * (user key → pending write or tombstone) that reads consult first. `commit()` hands every write since
 * the previous commit to LMDB as one batch — data, expiry index and counters in one transaction — and an
 * overlay entry leaves only once the commit that carried it is durable, and only if no newer write to the
 * same key replaced it meanwhile. Writes between commits form a generation; commits may overlap and
 * complete in generation order.
 */
import type { Database } from 'lmdb';
import { assert } from '../common/errors.js';
import { readStored } from './lmdb-bytes.js';
import { USER_KEY_BYTES_MAX, decodeSlotKey, encodeDataKey, encodeSlotKey, slotRange } from './key-encoding.js';
import { decodeValue, encodeExpireAtMs, encodeValue, encodedExpireAtMs, readExpireAtMs } from './value-encoding.js';
import type { ScannedKey, ShardData, ShardSnapshotChunk, ShardSnapshotReader, SlotBounds, StoredValue } from './types.js';

/** The shard's record in the node's meta DB, written in the same transaction as the data it counts. */
export interface ShardRecord {
  readonly keyCount: number;
  readonly byteCount: number;
  /** The shard state machine's meta (ShardData.meta); absent when it has none. */
  readonly meta?: Uint8Array;
  /** The shard's clock (ShardData.clockMs); absent in records written before it was kept: 0. */
  readonly clockMs?: number;
}

/** The LMDB handles of one shard, opened by NodeStore. */
export interface ShardDatabases {
  /** `slot ‖ key` → encoded value (binary keys and values). */
  readonly data: Database<Buffer, Buffer>;
  /** `slot ‖ key` → 8-byte expireAtMs, only for keys with an expiry (binary keys and values). */
  readonly expiry: Database<Buffer, Buffer>;
  /** The node's meta DB, holding this shard's record under `recordKey`. */
  readonly meta: Database<unknown, string>;
  readonly recordKey: string;
}

/** A write not yet durable. `encoded` is undefined for a delete (a tombstone). */
interface PendingWrite {
  /** The generation (commit) that carries this write to LMDB. */
  readonly generation: number;
  readonly dataKey: Buffer;
  readonly value: StoredValue | undefined;
  readonly encoded: Buffer | undefined;
  /**
   * Whether the expiry index will hold the key when this write's commit runs, so that a write without
   * expiry must remove it. Known from the key's previous state; saves a remove per plain write.
   */
  readonly expiryIndexed: boolean;
}

/** What the newest state (overlay, else LMDB) holds for a key. */
interface PreviousState {
  /** Encoded value length; undefined if the key is absent. */
  readonly encodedBytes: number | undefined;
  readonly expiryIndexed: boolean;
}

const ABSENT: PreviousState = { encodedBytes: undefined, expiryIndexed: false };

/** ShardData over LMDB with a read-your-writes overlay; see the module comment. */
export class LmdbShardData implements ShardData {
  private readonly data: Database<Buffer, Buffer>;
  private readonly expiry: Database<Buffer, Buffer>;
  private readonly metaDb: Database<unknown, string>;
  private readonly recordKey: string;
  /** Newest not-yet-durable write per user key (key bytes as a latin1 string). */
  private readonly overlay = new Map<string, PendingWrite>();
  /** The writes of the open generation, the ones the next `commit()` carries. */
  private openBatch = new Map<string, PendingWrite>();
  private openGeneration = 0;
  /** Generation of the newest `clear()` whose commit is not durable yet; until then LMDB counts as empty. */
  private clearGeneration: number | undefined;
  /** Resolves when the newest commit started is durable; commits chain on it to complete in order. */
  private lastCommit: Promise<void> = Promise.resolve();
  /** Why the shard can no longer be used (dropped, or its store closed); undefined while usable. */
  private detachedReason: string | undefined;
  private counters: { keyCount: number; byteCount: number };
  private metaValue: Uint8Array | undefined;
  private clockValue: number;
  /** The meta or the clock changed since the last commit: the next one writes the record even without data writes. */
  private metaDirty = false;

  constructor(
    readonly shardId: string,
    databases: ShardDatabases,
    record: ShardRecord,
  ) {
    this.data = databases.data;
    this.expiry = databases.expiry;
    this.metaDb = databases.meta;
    this.recordKey = databases.recordKey;
    this.counters = { keyCount: record.keyCount, byteCount: record.byteCount };
    this.metaValue = record.meta === undefined ? undefined : Uint8Array.from(record.meta);
    this.clockValue = record.clockMs ?? 0;
  }

  get meta(): Uint8Array | undefined {
    return this.metaValue;
  }

  setMeta(meta: Uint8Array | undefined): void {
    this.assertUsable();
    this.metaValue = meta;
    this.metaDirty = true;
  }

  get clockMs(): number {
    return this.clockValue;
  }

  setClockMs(clockMs: number): void {
    this.assertUsable();
    this.clockValue = clockMs;
    this.metaDirty = true;
  }

  get keyCount(): number {
    return this.counters.keyCount;
  }

  get byteCount(): number {
    return this.counters.byteCount;
  }

  get(key: Buffer): StoredValue | undefined {
    this.assertUsable();
    if (this.overlay.size > 0) {
      const pending = this.overlay.get(key.toString('latin1'));
      if (pending !== undefined) return pending.value;
    }
    // No key that long can have been stored, and lmdb-js would throw on it.
    if (this.clearGeneration !== undefined || key.length > USER_KEY_BYTES_MAX) return undefined;
    const stored = readStored(this.data, encodeDataKey(key));
    return stored === undefined ? undefined : decodeValue(stored);
  }

  /** True also for every key while a `clear()` is not yet durable: that clear is a pending delete of each. */
  isPending(key: Buffer): boolean {
    this.assertUsable();
    // Most reads happen with nothing pending: skip building the overlay key then.
    return this.clearGeneration !== undefined || (this.overlay.size > 0 && this.overlay.has(key.toString('latin1')));
  }

  /** Throws a RangeError for a key longer than USER_KEY_BYTES_MAX: the command layer refuses those first. */
  put(key: Buffer, value: StoredValue): void {
    this.assertUsable();
    if (key.length > USER_KEY_BYTES_MAX) {
      throw new RangeError(`key of ${key.length} bytes is longer than the ${USER_KEY_BYTES_MAX} bytes storage accepts`);
    }
    const id = key.toString('latin1');
    const dataKey = encodeDataKey(key);
    this.record(id, dataKey, key.length, value, encodeValue(value), this.previous(id, dataKey));
  }

  delete(key: Buffer): boolean {
    this.assertUsable();
    if (key.length > USER_KEY_BYTES_MAX) return false;
    const id = key.toString('latin1');
    const dataKey = encodeDataKey(key);
    const previous = this.previous(id, dataKey);
    // Deleting an absent key changes nothing: no write, nothing pending.
    if (previous.encodedBytes === undefined) return false;
    this.record(id, dataKey, key.length, undefined, undefined, previous);
    return true;
  }

  clear(): void {
    this.assertUsable();
    // Writes still in flight will land before this clear's commit, which then deletes them: none of them
    // is visible from now on.
    this.overlay.clear();
    this.openBatch.clear();
    this.clearGeneration = this.openGeneration;
    this.counters.keyCount = 0;
    this.counters.byteCount = 0;
  }

  /**
   * Rejects if the shard was dropped or its store closed, or if an earlier commit failed: the overlay
   * then no longer matches disk, and the store must be reopened.
   */
  commit(): Promise<void> {
    if (this.detachedReason !== undefined) return Promise.reject(new Error(`shard ${this.shardId} ${this.detachedReason}`));
    const generation = this.openGeneration;
    const clears = this.clearGeneration === generation;
    const batch = this.openBatch;
    if (batch.size === 0 && !clears && !this.metaDirty) return this.lastCommit;
    this.openGeneration++;
    this.openBatch = new Map();
    this.metaDirty = false;
    const record: ShardRecord = {
      keyCount: this.counters.keyCount,
      byteCount: this.counters.byteCount,
      clockMs: this.clockValue,
      ...(this.metaValue === undefined ? {} : { meta: this.metaValue }),
    };
    // One lmdb-js batch is one transaction and resolves once that transaction is committed and synced
    // (the env runs without overlappingSync). Writes inside a batch return no per-write promise.
    const written = this.data.batch(() => {
      if (clears) {
        void this.data.clearAsync();
        void this.expiry.clearAsync();
      }
      for (const write of batch.values()) {
        if (write.encoded === undefined) void this.data.remove(write.dataKey);
        else void this.data.put(write.dataKey, write.encoded);
        const expireAtMs = write.value?.expireAtMs ?? 0;
        if (expireAtMs > 0) void this.expiry.put(write.dataKey, encodeExpireAtMs(expireAtMs));
        else if (write.expiryIndexed) void this.expiry.remove(write.dataKey);
      }
      void this.metaDb.put(this.recordKey, record);
    });
    // Promise.all subscribes to `written` at once, so a failed batch never counts as an unhandled rejection.
    const durable = Promise.all([this.lastCommit, written]).then(() => this.onDurable(generation, batch));
    this.lastCommit = durable;
    return durable;
  }

  /** Commits the open generation first if it holds writes, so that it never waits on a commit nobody starts. */
  flushed(): Promise<void> {
    return this.commit();
  }

  scan(fromSlot: number, endSlot: number, after: Buffer | undefined, limit: number): ScannedKey[] {
    this.assertUsable();
    const range = slotRange(fromSlot, endSlot);
    if (limit <= 0) return [];
    let start = range.start;
    let exclusiveStart = false;
    if (after !== undefined) {
      const afterKey = encodeDataKey(after);
      if (afterKey.compare(start) >= 0) {
        start = afterKey;
        exclusiveStart = true;
      }
    }
    const found: ScannedKey[] = [];
    for (const stored of this.data.getKeys({ start, end: range.end, exclusiveStart, limit })) {
      found.push(decodeSlotKey(stored));
    }
    return found;
  }

  countInSlot(slot: number): number {
    this.assertUsable();
    const range = slotRange(slot, slot + 1);
    return this.data.getKeysCount({ start: range.start, end: range.end });
  }

  keysInSlot(slot: number, limit: number): Buffer[] {
    this.assertUsable();
    const range = slotRange(slot, slot + 1);
    if (limit <= 0) return [];
    const keys: Buffer[] = [];
    for (const stored of this.data.getKeys({ start: range.start, end: range.end, limit })) {
      keys.push(decodeSlotKey(stored).key);
    }
    return keys;
  }

  scanExpiring(after: ScannedKey | undefined, limit: number): { slot: number; key: Buffer; expireAtMs: number }[] {
    this.assertUsable();
    if (limit <= 0) return [];
    const range = after === undefined ? { limit } : { start: encodeSlotKey(after.slot, after.key), exclusiveStart: true, limit };
    const found: { slot: number; key: Buffer; expireAtMs: number }[] = [];
    for (const { key, value } of this.expiry.getRange(range)) {
      const { slot, key: userKey } = decodeSlotKey(key);
      found.push({ slot, key: userKey, expireAtMs: readExpireAtMs(value, 0) });
    }
    return found;
  }

  /**
   * A view in one LMDB read transaction: it sees the data as of the last durable commit and never blocks
   * writers, so a replica can stream a large shard while the shard keeps taking writes.
   */
  openSnapshot(range?: SlotBounds): ShardSnapshotReader {
    this.assertUsable();
    assert(this.overlay.size === 0 && this.clearGeneration === undefined, `shard ${this.shardId}: a snapshot needs every write durable`);
    const transaction = this.data.useReadTransaction();
    const bounds = range === undefined ? undefined : slotRange(range.fromSlot, range.endSlot);
    // The meta and clock as of the snapshot: nothing is pending, so what is in memory is what is durable.
    const meta = range === undefined ? { meta: this.metaValue ?? null, clockMs: this.clockValue } : {};
    let open = true;
    return {
      chunk: (cursor, maxBytes): ShardSnapshotChunk => {
        assert(open, `shard ${this.shardId}: snapshot reader is closed`);
        const entries: Buffer[] = [];
        let bytes = 0;
        const start = cursor === null ? (bounds === undefined ? {} : { start: bounds.start }) : { start: Buffer.from(cursor), exclusiveStart: true };
        const first = cursor === null ? meta : {};
        for (const { key, value } of this.data.getRange({ ...start, ...(bounds === undefined ? {} : { end: bounds.end }), transaction })) {
          entries.push(key, value);
          bytes += key.length + value.length;
          if (bytes >= maxBytes) return { entries, next: key, ...first };
        }
        return { entries, next: null, ...first };
      },
      close: () => {
        if (!open) return;
        open = false;
        transaction.done();
      },
    };
  }

  restoreChunk(chunk: ShardSnapshotChunk): void {
    if (chunk.meta !== undefined) {
      this.setMeta(chunk.meta ?? undefined);
      this.setClockMs(chunk.clockMs ?? 0);
    }
    for (let i = 0; i + 1 < chunk.entries.length; i += 2) {
      const key = decodeSlotKey(Buffer.from(chunk.entries[i]!)).key;
      this.put(key, decodeValue(Buffer.from(chunk.entries[i + 1]!)));
    }
  }

  /**
   * Called by NodeStore when it drops the shard or closes: later reads and writes throw, commits reject,
   * and writes not yet committed are discarded. `reason` completes "shard <id> ...".
   */
  detach(reason: string): void {
    this.detachedReason = reason;
    this.overlay.clear();
    this.openBatch.clear();
  }

  /** The newest state of a key: the overlay, else nothing if a clear is pending, else LMDB. */
  private previous(id: string, dataKey: Buffer): PreviousState {
    const pending = this.overlay.get(id);
    if (pending !== undefined) {
      return {
        encodedBytes: pending.encoded?.length,
        // A write of the open generation replaces `pending` in the same commit, so what the index
        // holds when that commit runs is what it held before `pending`.
        expiryIndexed: pending.generation === this.openGeneration ? pending.expiryIndexed : pending.value !== undefined && pending.value.expireAtMs > 0,
      };
    }
    if (this.clearGeneration !== undefined) return ABSENT;
    const stored = readStored(this.data, dataKey);
    if (stored === undefined) return ABSENT;
    return { encodedBytes: stored.length, expiryIndexed: encodedExpireAtMs(stored) > 0 };
  }

  private record(id: string, dataKey: Buffer, keyBytes: number, value: StoredValue | undefined, encoded: Buffer | undefined, previous: PreviousState): void {
    if (previous.encodedBytes !== undefined) {
      this.counters.keyCount--;
      this.counters.byteCount -= keyBytes + previous.encodedBytes;
    }
    if (encoded !== undefined) {
      this.counters.keyCount++;
      this.counters.byteCount += keyBytes + encoded.length;
    }
    const write: PendingWrite = {
      generation: this.openGeneration,
      dataKey,
      value,
      encoded,
      expiryIndexed: previous.expiryIndexed,
    };
    this.overlay.set(id, write);
    this.openBatch.set(id, write);
  }

  private onDurable(generation: number, batch: ReadonlyMap<string, PendingWrite>): void {
    for (const [id, write] of batch) {
      // A newer write to the same key stays: it is not durable yet.
      if (this.overlay.get(id) === write) this.overlay.delete(id);
    }
    if (this.clearGeneration === generation) this.clearGeneration = undefined;
  }

  private assertUsable(): void {
    assert(this.detachedReason === undefined, `shard ${this.shardId} ${this.detachedReason}`);
  }
}
