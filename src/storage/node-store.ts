/**
 * Every byte a node keeps on disk: one LMDB environment per node. Each shard has two named DBs — its
 * data and its expiry index — and a record in the node's meta DB; each Raft group (a shard's has the
 * shard's id) has a named DB of log entries and a record there too (see raft-log-store.ts); the node's own
 * small facts (its id, the last routing table) live in that meta DB as well.
 *
 * Commits are synced before they resolve: the environment runs with LMDB's default sync and without
 * lmdb-js's overlappingSync, under which a write promise may resolve before the data is flushed.
 */
import { mkdirSync } from 'node:fs';
import { open } from 'lmdb';
import type { Database, DatabaseOptions, RootDatabase } from 'lmdb';
import { assert } from '../common/errors.js';
import { LMDB_KEY_BYTES_MAX } from './key-encoding.js';
import { LmdbShardData } from './lmdb-shard-data.js';
import type { ShardRecord } from './lmdb-shard-data.js';
import { assertRaftGroupId, raftGroupIdOfRecordKey, raftLogDbName, raftRecordKey, raftRecordRange } from './raft-group-ids.js';
import { LmdbRaftLogStorage, type RaftLogOptions } from './raft-log-store.js';
import type { ShardData } from './types.js';

/** Sizing of a node's LMDB environment. */
export interface NodeStoreOptions {
  /**
   * Address space reserved for the map, in bytes: the most the environment can hold. The file grows only
   * as data is written. Default 64 GiB.
   */
  readonly mapBytes?: number;
  /** Most named DBs the environment can hold: each shard uses two, each Raft group one, the node one more. Default 10,000. */
  readonly databasesMax?: number;
}

const MAP_BYTES_DEFAULT = 64 * 1024 ** 3;
const DATABASES_MAX_DEFAULT = 10_000;
/** Longest shard id or metadata name: enough for any id the pilot makes, far below LMDB's key size limit. */
const NAME_CHARS_MAX = 200;

const META_DB_NAME = 'meta';
const SHARD_PREFIX = 'shard/';
/** The first string after every `shard/...` key: '0' follows '/' in byte order. */
const SHARD_PREFIX_END = 'shard0';
const NODE_META_PREFIX = 'node/';

const BINARY_DB_OPTIONS: DatabaseOptions = { keyEncoding: 'binary', encoding: 'binary' };

/** A node-metadata write not yet durable; an object so that a finishing older write can tell it was replaced. */
interface PendingMeta {
  readonly value: unknown;
}

/** A node's LMDB environment: opens, lists and drops shards and Raft logs, and keeps node metadata. */
export class NodeStore {
  private readonly shards = new Map<string, LmdbShardData>();
  private readonly raftLogs = new Map<string, LmdbRaftLogStorage>();
  /** Shards whose drop is not durable yet, with the promise of that drop. */
  private readonly drops = new Map<string, Promise<void>>();
  /** Shards closed with `closeShard`, with why: they stay closed until the store is reopened. */
  private readonly closedShards = new Map<string, string>();
  /** Metadata writes not durable yet, so `getMeta` reads its own writes. */
  private readonly pendingMeta = new Map<string, PendingMeta>();
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    private readonly meta: Database<unknown, string>,
  ) {}

  /** Opens (creating if needed) the environment in directory `dir`. */
  static open(dir: string, options: NodeStoreOptions = {}): NodeStore {
    const mapBytes = options.mapBytes ?? MAP_BYTES_DEFAULT;
    const databasesMax = options.databasesMax ?? DATABASES_MAX_DEFAULT;
    assert(Number.isSafeInteger(mapBytes) && mapBytes > 0, `mapBytes ${mapBytes} must be a positive integer`);
    assert(Number.isSafeInteger(databasesMax) && databasesMax > 0, `databasesMax ${databasesMax} must be a positive integer`);
    mkdirSync(dir, { recursive: true });
    return NodeStore.over(open({ path: dir, mapSize: mapBytes, maxDbs: databasesMax, overlappingSync: false }));
  }

  /**
   * A store over an environment already open: `open`'s, or the simulation's in-memory one. Its commits
   * must be synced before they resolve (see the module comment).
   */
  static over(root: RootDatabase): NodeStore {
    // lmdb-js does not type this; storage's key limit is derived from it.
    const maxKeySize = (root as unknown as { maxKeySize: number }).maxKeySize;
    assert(maxKeySize >= LMDB_KEY_BYTES_MAX, `LMDB accepts keys of ${maxKeySize} bytes, storage assumes ${LMDB_KEY_BYTES_MAX}`);
    return new NodeStore(root, root.openDB<unknown, string>(META_DB_NAME, {}));
  }

  /**
   * The shard's data, creating its DBs and record if absent. Returns the same instance until the shard
   * is dropped or the store closed.
   */
  openShard(shardId: string): ShardData {
    this.assertOpen();
    assertShardId(shardId);
    assert(!this.drops.has(shardId), `shard ${shardId} is being dropped: wait for dropShard() before reopening it`);
    this.assertNotClosed(shardId);
    const cached = this.shards.get(shardId);
    if (cached !== undefined) return cached;
    const recordKey = shardRecordKey(shardId);
    // One synchronous, synced transaction: the DBs and the record exist together or not at all.
    const shard = this.root.transactionSync(() => {
      const data = this.root.openDB<Buffer, Buffer>(shardDbName(shardId, 'data'), BINARY_DB_OPTIONS);
      const expiry = this.root.openDB<Buffer, Buffer>(shardDbName(shardId, 'expiry'), BINARY_DB_OPTIONS);
      let record = this.meta.get(recordKey) as ShardRecord | undefined;
      if (record === undefined) {
        record = { keyCount: 0, byteCount: 0 };
        this.meta.putSync(recordKey, record);
      }
      assert(
        Number.isSafeInteger(record.keyCount) &&
          record.keyCount >= 0 &&
          Number.isSafeInteger(record.byteCount) &&
          record.byteCount >= 0 &&
          (record.clockMs === undefined || Number.isFinite(record.clockMs)),
        `shard ${shardId} has a corrupt record ${JSON.stringify(record)}`,
      );
      return new LmdbShardData(shardId, { data, expiry, meta: this.meta, recordKey }, record);
    });
    this.shards.set(shardId, shard);
    return shard;
  }

  /** Whether `dropShard(shardId)` is still in flight: the shard cannot be opened again until it lands. */
  isDropping(shardId: string): boolean {
    return this.drops.has(shardId);
  }

  /**
   * Deletes the shard's DBs and record, and the log of the Raft group with the same id, in one transaction;
   * resolves when that is durable. The shard's ShardData and the group's log stop working at once and their
   * writes not yet committed are discarded; commits already started land first.
   */
  dropShard(shardId: string): Promise<void> {
    this.assertOpen();
    assertShardId(shardId);
    const inFlight = this.drops.get(shardId);
    if (inFlight !== undefined) return inFlight;
    const shard = this.shards.get(shardId);
    this.shards.delete(shardId);
    shard?.detach('was dropped');
    const raftLog = this.raftLogs.get(shardId);
    this.raftLogs.delete(shardId);
    // Its background deletion, if one is in flight, was started before and lands before the drop.
    void raftLog?.detach('was dropped');
    // Handles to the DBs, whether or not this process opened the shard; undefined where a DB is absent.
    const existing = (name: string) => this.root.openDB(name, { ...BINARY_DB_OPTIONS, create: false } as DatabaseOptions);
    const data = existing(shardDbName(shardId, 'data'));
    const expiry = existing(shardDbName(shardId, 'expiry'));
    const log = existing(raftLogDbName(shardId));
    const written = this.meta.batch(() => {
      void data?.drop();
      void expiry?.drop();
      void log?.drop();
      void this.meta.remove(shardRecordKey(shardId));
      void this.meta.remove(raftRecordKey(shardId));
    });
    const dropped = written.then(
      () => {
        this.drops.delete(shardId);
      },
      (error: unknown) => {
        this.drops.delete(shardId);
        throw error;
      },
    );
    this.drops.set(shardId, dropped);
    return dropped;
  }

  /**
   * Closes the shard's data and the log of the Raft group with the same id, keeping them on disk, for a
   * replica the node stops running (its log or data failed to decode): their writes not yet committed are
   * discarded, since they may hold part of a failed apply; commits already started land; later commits
   * skip them. They cannot be opened again until the store is reopened. `reason` completes "shard <id> ...".
   */
  closeShard(shardId: string, reason: string): void {
    this.assertOpen();
    this.closedShards.set(shardId, reason);
    this.shards.get(shardId)?.detach(reason);
    this.shards.delete(shardId);
    // Its background deletion, if one is in flight, finishes on its own.
    void this.raftLogs.get(shardId)?.detach(reason);
    this.raftLogs.delete(shardId);
  }

  /** Ids of the shards stored on this node (durably created and not being dropped), in byte order. */
  shardIds(): string[] {
    this.assertOpen();
    const ids: string[] = [];
    for (const key of this.meta.getKeys({ start: SHARD_PREFIX, end: SHARD_PREFIX_END })) {
      const id = key.slice(SHARD_PREFIX.length);
      if (!this.drops.has(id)) ids.push(id);
    }
    return ids;
  }

  /**
   * The Raft log of group `groupId` (a shard's id, or the pilot group's), creating its DB and record if
   * absent. Returns the same instance until the group is dropped (with `dropShard`) or the store closed;
   * `options` apply when the log is first opened.
   */
  openRaftLog(groupId: string, options: RaftLogOptions = {}): LmdbRaftLogStorage {
    this.assertOpen();
    assertRaftGroupId(groupId);
    assert(!this.drops.has(groupId), `raft group ${groupId} is being dropped: wait for dropShard() before reopening it`);
    this.assertNotClosed(groupId);
    const cached = this.raftLogs.get(groupId);
    if (cached !== undefined) return cached;
    const log = LmdbRaftLogStorage.open(this.root, this.meta, groupId, options);
    this.raftLogs.set(groupId, log);
    return log;
  }

  /** Ids of the Raft groups stored on this node (durably created and not being dropped), in byte order. */
  raftGroupIds(): string[] {
    this.assertOpen();
    const ids: string[] = [];
    for (const key of this.meta.getKeys(raftRecordRange())) {
      const id = raftGroupIdOfRecordKey(key);
      if (!this.drops.has(id)) ids.push(id);
    }
    return ids;
  }

  /**
   * Commits the pending writes of every open shard and Raft log; resolves once all are durable. The
   * commits start in one synchronous stretch, and lmdb-js puts every write of an event turn into one
   * transaction, so they land in one transaction with one fsync: a driver that staged a Ready's log
   * entries, hard state, applied data and applied index calls this once per loop turn (group commit).
   * Staged writes reach lmdb-js only here, all at once, so a `transactionSync` elsewhere in the turn (which
   * splits lmdb-js's turn batch, e.g. `openShard`) cannot come between them.
   */
  commitAll(): Promise<void> {
    this.assertOpen();
    const commits: Promise<void>[] = [];
    for (const shard of this.shards.values()) commits.push(shard.commit());
    for (const log of this.raftLogs.values()) commits.push(log.commit());
    return Promise.all(commits).then(() => undefined);
  }

  /** A node metadata value (plain data, stored as MessagePack), including writes not yet durable. */
  getMeta(name: string): unknown {
    this.assertOpen();
    assertMetaName(name);
    const pending = this.pendingMeta.get(name);
    return pending !== undefined ? pending.value : this.meta.get(NODE_META_PREFIX + name);
  }

  /** Stores a node metadata value; resolves once it is durable. `getMeta` sees it at once. */
  putMeta(name: string, value: unknown): Promise<void> {
    this.assertOpen();
    assertMetaName(name);
    assert(value !== undefined, `metadata ${name}: undefined is not storable`);
    const pending: PendingMeta = { value };
    this.pendingMeta.set(name, pending);
    const settle = (): void => {
      if (this.pendingMeta.get(name) === pending) this.pendingMeta.delete(name);
    };
    return this.meta.put(NODE_META_PREFIX + name, value).then(settle, (error: unknown) => {
      settle();
      throw error;
    });
  }

  /** Commits every open shard's and Raft log's pending writes, waits for drops, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Shards and logs flush together, so that applied data and applied index stay in one transaction.
    await Promise.all([...[...this.shards.values()].map((shard) => shard.flushed()), ...[...this.raftLogs.values()].map((log) => log.flushed())]);
    await Promise.all(this.drops.values());
    for (const shard of this.shards.values()) shard.detach('belongs to a closed store');
    this.shards.clear();
    await Promise.all([...this.raftLogs.values()].map((log) => log.detach('belongs to a closed store')));
    this.raftLogs.clear();
    await this.root.close();
  }

  private assertOpen(): void {
    assert(!this.closed, 'the node store is closed');
  }

  private assertNotClosed(shardId: string): void {
    const reason = this.closedShards.get(shardId);
    assert(reason === undefined, `shard ${shardId} ${reason}: it opens again with the store`);
  }
}

function assertShardId(shardId: string): void {
  assert(shardId.length > 0 && shardId.length <= NAME_CHARS_MAX && !shardId.includes('\0'), `shard id ${JSON.stringify(shardId)} must be 1..${NAME_CHARS_MAX} chars without NUL`);
}

function assertMetaName(name: string): void {
  assert(name.length > 0 && name.length <= NAME_CHARS_MAX, `metadata name ${JSON.stringify(name)} must be 1..${NAME_CHARS_MAX} chars`);
}

function shardRecordKey(shardId: string): string {
  return SHARD_PREFIX + shardId;
}

/** LMDB names a DB by a NUL-terminated string: shard ids are checked to hold no NUL. */
function shardDbName(shardId: string, part: 'data' | 'expiry'): string {
  return `${SHARD_PREFIX}${shardId}/${part}`;
}
