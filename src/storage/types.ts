/**
 * What the shard state machine sees of storage: one shard's keys and typed values. The LMDB-backed
 * implementation keeps them in the shard's own named database under `slot(2 bytes, big-endian) ‖ key`, so a
 * shard's data, and any slot range of it, is one contiguous key range (seed 001).
 */

/** A stored value. `expireAtMs` is an absolute Unix time in milliseconds; 0 means no expiry. */
export type StoredValue =
  | { readonly type: 'string'; readonly value: Buffer; readonly expireAtMs: number }
  /** Field names are binary strings (each char one byte, 'latin1'), so any byte sequence round-trips. */
  | { readonly type: 'hash'; readonly fields: ReadonlyMap<string, Buffer>; readonly expireAtMs: number };

/** A key found by a scan, with its slot. */
export interface ScannedKey {
  readonly slot: number;
  readonly key: Buffer;
}

/**
 * One shard's data. Reads (`get`) see every write made so far, including writes not yet durable; the
 * scan-style reads (`scan`, `countInSlot`, `keysInSlot`, `randomKey`) see only durable data, so callers
 * wait for `flushed()` first. Writes are synchronous into the pending batch; `commit()` makes the batch
 * durable, all or nothing, and resolves once it is on disk.
 */
export interface ShardData {
  readonly shardId: string;
  /** The value stored under `key`, expired or not (expiry is the command layer's business). */
  get(key: Buffer): StoredValue | undefined;
  /** Whether `key` has a write that is not yet durable. */
  isPending(key: Buffer): boolean;
  put(key: Buffer, value: StoredValue): void;
  /** Returns whether the key existed. */
  delete(key: Buffer): boolean;
  /** Deletes every key of the shard. */
  clear(): void;
  /** Makes every write so far durable in one transaction. Resolves when it is on disk. */
  commit(): Promise<void>;
  /** Resolves when no write made before the call is pending any more. */
  flushed(): Promise<void>;
  /** Up to `limit` keys in (slot, key) order, starting after `after` (or at `fromSlot`), below `endSlot`. */
  scan(fromSlot: number, endSlot: number, after: Buffer | undefined, limit: number): ScannedKey[];
  countInSlot(slot: number): number;
  keysInSlot(slot: number, limit: number): Buffer[];
  /** Keys with an expiry, in (slot, key) order after `after`: the active expiry cycle walks these. */
  scanExpiring(after: ScannedKey | undefined, limit: number): { slot: number; key: Buffer; expireAtMs: number }[];
  /**
   * A consistent view of the shard's durable data that later writes do not change, for streaming a
   * snapshot to another replica: the whole shard with its meta (a Raft snapshot), or only the keys of
   * slots [fromSlot, endSlot) without it (a split's snapshot). Callers open it when no write is pending,
   * so it holds every write made.
   */
  openSnapshot(range?: SlotBounds): ShardSnapshotReader;
  /** Stores entries a ShardSnapshotReader produced (on an emptied shard, to load a snapshot), and its meta if the chunk carries one. */
  restoreChunk(chunk: ShardSnapshotChunk): void;
  /**
   * The shard state machine's own record (its split state), kept beside the data: written in the same
   * transaction as the writes made before it, untouched by `clear()`, carried by whole-shard snapshots.
   */
  readonly meta: Uint8Array | undefined;
  setMeta(meta: Uint8Array | undefined): void;
  /**
   * The shard's replicated clock (Unix ms, 0 before any): the latest time its log has applied. Kept as the
   * meta is, so a replica restarted or restored from a snapshot judges expiry as the others do.
   */
  readonly clockMs: number;
  setClockMs(clockMs: number): void;
  /** Number of keys and bytes (keys + values) stored, as of the last write. */
  readonly keyCount: number;
  readonly byteCount: number;
}

/**
 * Part of a shard snapshot: `entries` alternates stored key and encoded value (`slot ‖ key`, value bytes),
 * a flat list of byte strings that msgpack carries without per-entry objects. `next` is the cursor of the
 * following chunk, null after the last.
 */
export interface ShardSnapshotChunk {
  readonly entries: readonly Uint8Array[];
  readonly next: Uint8Array | null;
  /** On the first chunk of a whole-shard snapshot: the shard's meta (null when it has none). */
  readonly meta?: Uint8Array | null;
  /** On the first chunk of a whole-shard snapshot: the shard's clock (absent from older snapshots: 0). */
  readonly clockMs?: number;
}

/** Slots [fromSlot, endSlot). */
export interface SlotBounds {
  readonly fromSlot: number;
  readonly endSlot: number;
}

/** A point-in-time view of one shard's data, read chunk by chunk in key order. */
export interface ShardSnapshotReader {
  /** Entries after `cursor` (from the start when null), stopping once about `maxBytes` were read. */
  chunk(cursor: Uint8Array | null, maxBytes: number): ShardSnapshotChunk;
  /** Releases the view (an LMDB read transaction); later chunk calls throw. */
  close(): void;
}
