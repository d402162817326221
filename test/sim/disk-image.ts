/**
 * What a simulated node's disk holds durably: every shard's entries, every Raft group's log record and
 * entries, and the node's metadata. A SimDisk mutates its image only when a batch is fsync'd; `crash()`
 * hands out a copy, and a restarted node's SimDisk is built from that copy, so an image never changes
 * after it is handed out and one crash can be replayed into several restarts.
 */
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT, type Entry, type HardState, type SnapshotMetadata } from '../../src/raft/index.js';

/** One durable shard entry, laid out as LMDB stores it. */
export interface DurableShardEntry {
  readonly slot: number;
  readonly key: Buffer;
  /** `slot ‖ key`: the LMDB key, whose byte order is the shard's scan order. */
  readonly storedKey: Buffer;
  /** The encoded value (see value-encoding.ts). */
  readonly encoded: Buffer;
}

/** One shard's durable entries, by user key (its bytes as a latin1 string), with a cached scan order. */
export class DurableShard {
  private readonly entries: Map<string, DurableShardEntry>;
  /** Entries in scan order; rebuilt (never mutated) after a change, so a reader keeps a point-in-time view. */
  private sortedCache: readonly DurableShardEntry[] | undefined;
  /** The shard state machine's meta, as durable as the entries beside it. */
  meta: Uint8Array | undefined;
  /** The shard's replicated clock, durable with the meta. */
  clockMs: number;

  constructor(entries: Iterable<readonly [string, DurableShardEntry]> = [], meta?: Uint8Array, clockMs = 0) {
    this.entries = new Map(entries);
    this.meta = meta;
    this.clockMs = clockMs;
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): DurableShardEntry | undefined {
    return this.entries.get(id);
  }

  set(id: string, entry: DurableShardEntry): void {
    this.entries.set(id, entry);
    this.sortedCache = undefined;
  }

  delete(id: string): void {
    if (this.entries.delete(id)) this.sortedCache = undefined;
  }

  clear(): void {
    this.entries.clear();
    this.sortedCache = undefined;
  }

  /** Every entry in (slot, key bytes) order; the array is never changed afterwards. */
  sorted(): readonly DurableShardEntry[] {
    this.sortedCache ??= [...this.entries.values()].sort((a, b) => Buffer.compare(a.storedKey, b.storedKey));
    return this.sortedCache;
  }

  copy(): DurableShard {
    return new DurableShard(this.entries, this.meta, this.clockMs);
  }
}

/** One Raft group's durable log: the record (hard state, compaction point, applied index) and entries. */
export interface DurableRaftLog {
  hardState: HardState;
  /** The compaction point: the log's first entry is `truncated.index + 1`. */
  truncated: SnapshotMetadata;
  applied: number;
  /** Entries by index; none at or below `truncated.index` once a batch has landed. */
  readonly entries: Map<number, Entry>;
}

/** A node's durable state; see the module comment. */
export interface DiskImage {
  readonly shards: ReadonlyMap<string, DurableShard>;
  readonly raftLogs: ReadonlyMap<string, DurableRaftLog>;
  /** Node metadata (NodeStore's getMeta/putMeta), each value a structured clone. */
  readonly meta: ReadonlyMap<string, unknown>;
}

/** The image a SimDisk mutates. */
export interface MutableDiskImage extends DiskImage {
  readonly shards: Map<string, DurableShard>;
  readonly raftLogs: Map<string, DurableRaftLog>;
  readonly meta: Map<string, unknown>;
}

/** The image of a new, empty disk. */
export function emptyDiskImage(): DiskImage {
  return { shards: new Map(), raftLogs: new Map(), meta: new Map() };
}

/** The durable log of a group that was just opened, before anything was written. */
export function emptyDurableRaftLog(): DurableRaftLog {
  return { hardState: EMPTY_HARD_STATE, truncated: EMPTY_SNAPSHOT.metadata, applied: 0, entries: new Map() };
}

/**
 * A copy that shares nothing mutable with `image`. Entries, buffers and metadata values are shared: the
 * storages never change them after they are written.
 */
export function copyDiskImage(image: DiskImage): MutableDiskImage {
  const shards = new Map<string, DurableShard>();
  for (const [id, shard] of image.shards) shards.set(id, shard.copy());
  const raftLogs = new Map<string, DurableRaftLog>();
  for (const [id, log] of image.raftLogs) raftLogs.set(id, { ...log, entries: new Map(log.entries) });
  return { shards, raftLogs, meta: new Map(image.meta) };
}
