/**
 * One shard's data on a SimDisk: LmdbShardData's behaviour, in memory, with crashes.
 *
 * As with LMDB, writes land synchronously in an overlay that `get` reads first, `commit()` hands the
 * writes since the previous commit to the disk as one generation, and an overlay entry leaves only when
 * the commit that carried it is durable (and no newer write replaced it). The scan-style reads (`scan`,
 * `countInSlot`, `keysInSlot`, `scanExpiring`, snapshots) see only the durable entries, as LMDB reads see
 * only committed transactions: code that forgets `flushed()` before a scan misses writes here too. Sizes
 * count the encoded value, as LMDB's record does.
 */
import { assert } from '../../src/common/errors.js';
import { keyHashSlot } from '../../src/common/slots.js';
import { USER_KEY_BYTES_MAX, decodeSlotKey, encodeDataKey, encodeSlotKey, slotRange } from '../../src/storage/key-encoding.js';
import type { ScannedKey, ShardData, ShardSnapshotChunk, ShardSnapshotReader, SlotBounds, StoredValue } from '../../src/storage/types.js';
import { decodeValue, encodedExpireAtMs, encodeValue } from '../../src/storage/value-encoding.js';
import type { DurableShard, DurableShardEntry } from './disk-image.js';
import type { DurableWrites } from './sim-disk.js';

/** A write not yet durable; `entry` undefined for a delete. */
interface PendingWrite {
  readonly generation: number;
  readonly value: StoredValue | undefined;
  readonly entry: DurableShardEntry | undefined;
}

/** ShardData on a simulated disk; see the module comment. Opened through SimDisk.openShard. */
export class CrashableShardData implements ShardData {
  /** Newest not-yet-durable write per user key (key bytes as a latin1 string). */
  private readonly overlay = new Map<string, PendingWrite>();
  /** The writes the next `commit()` carries. */
  private openBatch = new Map<string, PendingWrite>();
  private openGeneration = 0;
  /** Generation of the newest `clear()` not yet durable: until then the durable entries count as gone. */
  private clearGeneration: number | undefined;
  private lastCommit: Promise<void> = Promise.resolve();
  private detachedReason: string | undefined;
  private keys: number;
  private bytes: number;
  private metaValue: Uint8Array | undefined;
  private clockValue: number;
  /** The meta or the clock changed since the last commit. */
  private metaDirty = false;

  constructor(
    readonly shardId: string,
    private readonly disk: DurableWrites,
    private readonly durable: DurableShard,
  ) {
    this.keys = durable.size;
    this.metaValue = durable.meta;
    this.clockValue = durable.clockMs;
    this.bytes = 0;
    for (const entry of durable.sorted()) this.bytes += entry.key.length + entry.encoded.length;
  }

  get keyCount(): number {
    return this.keys;
  }

  get byteCount(): number {
    return this.bytes;
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

  get(key: Buffer): StoredValue | undefined {
    this.assertUsable();
    const pending = this.overlay.get(key.toString('latin1'));
    if (pending !== undefined) return pending.value;
    if (this.clearGeneration !== undefined) return undefined;
    const stored = this.durable.get(key.toString('latin1'));
    return stored === undefined ? undefined : decodeValue(stored.encoded);
  }

  isPending(key: Buffer): boolean {
    this.assertUsable();
    return this.clearGeneration !== undefined || this.overlay.has(key.toString('latin1'));
  }

  /** Throws a RangeError for a key longer than USER_KEY_BYTES_MAX, as LmdbShardData does. */
  put(key: Buffer, value: StoredValue): void {
    this.assertUsable();
    if (key.length > USER_KEY_BYTES_MAX) {
      throw new RangeError(`key of ${key.length} bytes is longer than the ${USER_KEY_BYTES_MAX} bytes storage accepts`);
    }
    const copy = Buffer.from(key);
    const slot = keyHashSlot(copy);
    const entry: DurableShardEntry = { slot, key: copy, storedKey: encodeSlotKey(slot, copy), encoded: encodeValue(value) };
    this.record(copy.toString('latin1'), copy.length, value, entry);
  }

  delete(key: Buffer): boolean {
    this.assertUsable();
    if (key.length > USER_KEY_BYTES_MAX) return false;
    const id = key.toString('latin1');
    if (this.previousBytes(id) === undefined) return false;
    this.record(id, key.length, undefined, undefined);
    return true;
  }

  clear(): void {
    this.assertUsable();
    this.overlay.clear();
    this.openBatch.clear();
    this.clearGeneration = this.openGeneration;
    this.keys = 0;
    this.bytes = 0;
  }

  commit(): Promise<void> {
    this.assertUsable();
    const generation = this.openGeneration;
    const clears = this.clearGeneration === generation;
    const batch = this.openBatch;
    if (batch.size === 0 && !clears && !this.metaDirty) return this.lastCommit;
    this.openGeneration++;
    this.openBatch = new Map();
    this.metaDirty = false;
    const durable = this.durable;
    const meta = this.metaValue;
    const clockMs = this.clockValue;
    this.lastCommit = this.disk.stage(
      () => {
        durable.meta = meta;
        durable.clockMs = clockMs;
        if (clears) durable.clear();
        for (const [id, write] of batch) {
          if (write.entry === undefined) durable.delete(id);
          else durable.set(id, write.entry);
        }
      },
      () => this.onDurable(generation, batch),
    );
    return this.lastCommit;
  }

  flushed(): Promise<void> {
    return this.commit();
  }

  scan(fromSlot: number, endSlot: number, after: Buffer | undefined, limit: number): ScannedKey[] {
    this.assertUsable();
    const range = slotRange(fromSlot, endSlot);
    if (limit <= 0) return [];
    const sorted = this.durable.sorted();
    let i = lowerBound(sorted, range.start);
    if (after !== undefined) {
      const afterKey = encodeDataKey(after);
      if (afterKey.compare(range.start) >= 0) i = upperBound(sorted, afterKey);
    }
    const found: ScannedKey[] = [];
    for (; i < sorted.length && found.length < limit && sorted[i]!.storedKey.compare(range.end) < 0; i++) {
      found.push({ slot: sorted[i]!.slot, key: sorted[i]!.key });
    }
    return found;
  }

  countInSlot(slot: number): number {
    this.assertUsable();
    const range = slotRange(slot, slot + 1);
    const sorted = this.durable.sorted();
    return lowerBound(sorted, range.end) - lowerBound(sorted, range.start);
  }

  keysInSlot(slot: number, limit: number): Buffer[] {
    return this.scan(slot, slot + 1, undefined, limit).map((found) => found.key);
  }

  scanExpiring(after: ScannedKey | undefined, limit: number): { slot: number; key: Buffer; expireAtMs: number }[] {
    this.assertUsable();
    if (limit <= 0) return [];
    const sorted = this.durable.sorted();
    const found: { slot: number; key: Buffer; expireAtMs: number }[] = [];
    for (let i = after === undefined ? 0 : upperBound(sorted, encodeSlotKey(after.slot, after.key)); i < sorted.length && found.length < limit; i++) {
      const entry = sorted[i]!;
      const expireAtMs = encodedExpireAtMs(entry.encoded);
      if (expireAtMs > 0) found.push({ slot: entry.slot, key: entry.key, expireAtMs });
    }
    return found;
  }

  /** The durable entries as of now; later commits do not change the view. */
  openSnapshot(range?: SlotBounds): ShardSnapshotReader {
    this.assertUsable();
    assert(this.overlay.size === 0 && this.clearGeneration === undefined, `shard ${this.shardId}: a snapshot needs every write durable`);
    const all = this.durable.sorted();
    const bounds = range === undefined ? undefined : slotRange(range.fromSlot, range.endSlot);
    const view = bounds === undefined ? all : all.slice(lowerBound(all, bounds.start), lowerBound(all, bounds.end));
    const meta = range === undefined ? { meta: this.durable.meta ?? null, clockMs: this.durable.clockMs } : {};
    let open = true;
    return {
      chunk: (cursor, maxBytes): ShardSnapshotChunk => {
        assert(open, `shard ${this.shardId}: snapshot reader is closed`);
        const entries: Buffer[] = [];
        const first = cursor === null ? meta : {};
        let bytes = 0;
        for (let i = cursor === null ? 0 : upperBound(view, Buffer.from(cursor)); i < view.length; i++) {
          const { storedKey, encoded } = view[i]!;
          entries.push(storedKey, encoded);
          bytes += storedKey.length + encoded.length;
          // As LMDB's reader: a full chunk names its last key, even when no entry follows.
          if (bytes >= maxBytes) return { entries, next: storedKey, ...first };
        }
        return { entries, next: null, ...first };
      },
      close: () => {
        open = false;
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

  /** Called by the disk on a drop or crash: later use throws, uncommitted writes are gone. */
  detach(reason: string): void {
    this.detachedReason = reason;
    this.overlay.clear();
    this.openBatch.clear();
  }

  /** Encoded bytes of the newest value of a key, undefined when absent. */
  private previousBytes(id: string): number | undefined {
    const pending = this.overlay.get(id);
    if (pending !== undefined) return pending.entry?.encoded.length;
    if (this.clearGeneration !== undefined) return undefined;
    return this.durable.get(id)?.encoded.length;
  }

  private record(id: string, keyBytes: number, value: StoredValue | undefined, entry: DurableShardEntry | undefined): void {
    const previous = this.previousBytes(id);
    if (previous !== undefined) {
      this.keys--;
      this.bytes -= keyBytes + previous;
    }
    if (entry !== undefined) {
      this.keys++;
      this.bytes += keyBytes + entry.encoded.length;
    }
    const write: PendingWrite = { generation: this.openGeneration, value, entry };
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

/** Index of the first entry whose stored key is ≥ `key`. */
function lowerBound(sorted: readonly DurableShardEntry[], key: Buffer): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.storedKey.compare(key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first entry whose stored key is > `key`. */
function upperBound(sorted: readonly DurableShardEntry[], key: Buffer): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.storedKey.compare(key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
