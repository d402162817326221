/**
 * A simulated node's disk: the in-memory stand-in for NodeStore (one LMDB environment per node), on
 * virtual time, with crashes.
 *
 * Writes are visible to the node at once; they reach the durable image only through a commit. Every
 * commit started in one synchronous stretch (before the microtask queue drains) joins one batch, as
 * lmdb-js puts every write of an event turn into one transaction; the batch lands — all of it, at one
 * virtual instant — one fsync delay later, and only then do its commits resolve. Batches land in the
 * order they were started. `crash()` keeps what landed and drops everything else at once: the writes not
 * committed and the batches not yet fsync'd. The commits of a dropped batch never settle, as a dead
 * process never sees its callbacks.
 *
 * The driver's duty is the same as with NodeStore: stage a whole loop turn — log entries, hard state,
 * applied data and applied index, for every group of the node — and make it durable with one
 * `commitAll()`, so that a crash never separates data from the applied index that describes it, nor a
 * log entry from the hard state that counts it committed. Nothing the turn produced (messages, replies)
 * may leave before that commit resolves.
 *
 * After a crash every storage of the disk throws when used: the dead node's code must not run on. A new
 * SimDisk built from the image `crash()` returned is the disk of the restarted node.
 */
import { assert } from '../../src/common/errors.js';
import { CrashableRaftLog } from './crashable-raft-log.js';
import { CrashableShardData } from './crashable-shard-data.js';
import { copyDiskImage, emptyDiskImage, emptyDurableRaftLog, DurableShard, type DiskImage, type MutableDiskImage } from './disk-image.js';
import type { EventId, Scheduler } from './scheduler.js';

/** How a storage hands its writes to the disk. */
export interface DurableWrites {
  /**
   * Adds `write` (a change of the durable image) to the open batch; at the fsync the batch's writes run
   * in order, then the `onDurable` callbacks, then the returned promise resolves.
   */
  stage(write: () => void, onDurable?: () => void): Promise<void>;
}

export interface SimDiskOptions {
  /** Virtual ms from a batch's first commit to its fsync, or a function drawing it per batch. Default 1. */
  readonly fsyncDelayMs?: number | (() => number);
}

interface Batch {
  readonly writes: (() => void)[];
  readonly onDurable: (() => void)[];
  readonly durable: Promise<void>;
  readonly resolve: () => void;
}

/** A node's disk in the simulation; see the module comment. */
export class SimDisk implements DurableWrites {
  private readonly image: MutableDiskImage;
  private readonly fsyncDelayMs: () => number;
  private readonly shards = new Map<string, CrashableShardData>();
  private readonly raftLogs = new Map<string, CrashableRaftLog>();
  /** Shards whose drop is not durable yet. */
  private readonly drops = new Map<string, Promise<void>>();
  /** Metadata written and not durable yet, so `getMeta` reads its own writes. */
  private readonly pendingMeta = new Map<string, { readonly value: unknown }>();
  /** The batch commits of this synchronous stretch join. */
  private openBatch: Batch | undefined;
  /** Fsync events of batches started and not landed. */
  private readonly landings = new Set<EventId>();
  /** When the newest batch lands: a later batch never lands before it. */
  private lastLandingMs = Number.NEGATIVE_INFINITY;
  private crashed = false;

  constructor(
    private readonly scheduler: Scheduler,
    options: SimDiskOptions = {},
    image: DiskImage = emptyDiskImage(),
  ) {
    const delay = options.fsyncDelayMs ?? 1;
    this.fsyncDelayMs = typeof delay === 'number' ? () => delay : delay;
    this.image = copyDiskImage(image);
  }

  /** The shard's data, creating it (durably, at once, as NodeStore does) if absent. Same instance until dropped. */
  openShard(shardId: string): CrashableShardData {
    this.assertUsable();
    assert(!this.drops.has(shardId), `shard ${shardId} is being dropped: wait for dropShard() before reopening it`);
    const cached = this.shards.get(shardId);
    if (cached !== undefined) return cached;
    let durable = this.image.shards.get(shardId);
    if (durable === undefined) this.image.shards.set(shardId, (durable = new DurableShard()));
    const shard = new CrashableShardData(shardId, this, durable);
    this.shards.set(shardId, shard);
    return shard;
  }

  /** The group's log, creating it (durably, at once) if absent. Same instance until dropped. */
  openRaftLog(groupId: string): CrashableRaftLog {
    this.assertUsable();
    assert(!this.drops.has(groupId), `raft group ${groupId} is being dropped: wait for dropShard() before reopening it`);
    const cached = this.raftLogs.get(groupId);
    if (cached !== undefined) return cached;
    let durable = this.image.raftLogs.get(groupId);
    if (durable === undefined) this.image.raftLogs.set(groupId, (durable = emptyDurableRaftLog()));
    const log = new CrashableRaftLog(groupId, this, durable);
    this.raftLogs.set(groupId, log);
    return log;
  }

  /**
   * Deletes the shard and the Raft group of the same id; resolves when that is durable. Their storages
   * stop working at once and their uncommitted writes are discarded.
   */
  dropShard(shardId: string): Promise<void> {
    this.assertUsable();
    const inFlight = this.drops.get(shardId);
    if (inFlight !== undefined) return inFlight;
    this.shards.get(shardId)?.detach('was dropped');
    this.shards.delete(shardId);
    this.raftLogs.get(shardId)?.detach('was dropped');
    this.raftLogs.delete(shardId);
    const dropped = this.stage(
      () => {
        this.image.shards.delete(shardId);
        this.image.raftLogs.delete(shardId);
      },
      () => this.drops.delete(shardId),
    );
    this.drops.set(shardId, dropped);
    return dropped;
  }

  /** Ids of the shards on disk (durably created, not being dropped), sorted. */
  shardIds(): string[] {
    this.assertUsable();
    return [...this.image.shards.keys()].filter((id) => !this.drops.has(id)).sort();
  }

  /** Ids of the Raft groups on disk (durably created, not being dropped), sorted. */
  raftGroupIds(): string[] {
    this.assertUsable();
    return [...this.image.raftLogs.keys()].filter((id) => !this.drops.has(id)).sort();
  }

  /** A node metadata value, including one not yet durable; a copy, as NodeStore decodes a fresh one. */
  getMeta(name: string): unknown {
    this.assertUsable();
    const pending = this.pendingMeta.get(name);
    return structuredClone(pending !== undefined ? pending.value : this.image.meta.get(name));
  }

  /** Stores a node metadata value (a structured clone of it); resolves once it is durable. */
  putMeta(name: string, value: unknown): Promise<void> {
    this.assertUsable();
    assert(value !== undefined, `metadata ${name}: undefined is not storable`);
    const pending = { value: structuredClone(value) };
    this.pendingMeta.set(name, pending);
    return this.stage(
      () => this.image.meta.set(name, pending.value),
      () => {
        if (this.pendingMeta.get(name) === pending) this.pendingMeta.delete(name);
      },
    );
  }

  /** Commits every open shard and Raft log in one batch; resolves when all of it is durable. */
  commitAll(): Promise<void> {
    this.assertUsable();
    const commits: Promise<void>[] = [];
    for (const shard of this.shards.values()) commits.push(shard.commit());
    for (const log of this.raftLogs.values()) commits.push(log.commit());
    return Promise.all(commits).then(() => undefined);
  }

  /** A copy of what is durable now. */
  durableImage(): DiskImage {
    return copyDiskImage(this.image);
  }

  /**
   * The power goes out: everything not yet fsync'd is lost, every storage of this disk stops working, and
   * the returned image is what a restarted node finds.
   */
  crash(): DiskImage {
    this.assertUsable();
    this.crashed = true;
    for (const id of this.landings) this.scheduler.cancel(id);
    this.landings.clear();
    this.openBatch = undefined;
    for (const shard of this.shards.values()) shard.detach('is on a crashed disk');
    for (const log of this.raftLogs.values()) log.detach('is on a crashed disk');
    return copyDiskImage(this.image);
  }

  get isCrashed(): boolean {
    return this.crashed;
  }

  /** Batches started and not yet durable (including the open one). */
  get batchesInFlight(): number {
    return this.landings.size;
  }

  stage(write: () => void, onDurable?: () => void): Promise<void> {
    this.assertUsable();
    const batch = this.openBatch ?? this.startBatch();
    batch.writes.push(write);
    if (onDurable !== undefined) batch.onDurable.push(onDurable);
    return batch.durable;
  }

  private startBatch(): Batch {
    let resolve!: () => void;
    const durable = new Promise<void>((r) => (resolve = r));
    const batch: Batch = { writes: [], onDurable: [], durable, resolve };
    this.openBatch = batch;
    // The batch closes when this synchronous stretch ends: later commits start the next one.
    queueMicrotask(() => {
      if (this.openBatch === batch) this.openBatch = undefined;
    });
    const delayMs = this.fsyncDelayMs();
    assert(delayMs >= 0, `fsync delay ${delayMs} must not be negative`);
    this.lastLandingMs = Math.max(this.lastLandingMs, this.scheduler.now() + delayMs);
    const id = this.scheduler.at(this.lastLandingMs, () => {
      this.landings.delete(id);
      if (this.openBatch === batch) this.openBatch = undefined;
      for (const write of batch.writes) write();
      for (const callback of batch.onDurable) callback();
      batch.resolve();
    });
    this.landings.add(id);
    return batch;
  }

  private assertUsable(): void {
    assert(!this.crashed, 'the disk crashed: build a new SimDisk from its image');
  }
}
