/**
 * An in-memory stand-in for the part of lmdb-js (one environment, its named DBs) that src/storage uses, on
 * injected time, with crashes: the simulation runs the real NodeStore, LmdbRaftLogStorage and
 * LmdbShardData over it.
 *
 * It keeps lmdb-js's write semantics, which the storage classes are built around:
 * - Every async write (`put`, `remove`, `drop`, `clearAsync`, and `batch`) issued in one synchronous
 *   stretch (before the microtask queue drains) joins one transaction, as lmdb-js batches an event turn's
 *   writes. The transaction lands — all of it, at one instant — one fsync delay later, and only then do
 *   its promises resolve. Transactions land in the order they started. So a crash never separates what
 *   one commitAll staged (log entries, hard state, applied data, applied index), and never keeps a
 *   commit while losing an earlier one.
 * - Reads see only landed transactions: a write is invisible until its promise resolves (why
 *   LmdbShardData keeps an overlay).
 * - `transactionSync` (and `putSync`, and `openDB`, which lmdb-js runs in one) lands at once. It waits for
 *   the transactions of earlier synchronous stretches, as LMDB's write lock makes it wait for lmdb-js's
 *   write thread; the open transaction of the current stretch is not yet handed to that thread, so it
 *   lands after. Reads inside it see its own writes.
 * - A read transaction (`useReadTransaction`) keeps the view of the moment it was opened.
 * - Keys order as LMDB orders them, by bytes (a string key as its UTF-8 bytes). Default-encoded values
 *   are MessagePack (msgpackr, configured as lmdb-js configures it), so every read decodes a fresh copy.
 *   `getBinaryFast` returns one buffer that the next `getBinaryFast` overwrites, and a plain Uint8Array
 *   (no Buffer methods) for a value over 16 MiB, as lmdb-js does.
 *
 * `crash()` keeps what landed and drops the rest: the open transaction and those waiting for their fsync.
 * Their promises never settle, as a dead process sees no callbacks, and every later use of the environment
 * or its DBs throws. The returned image is never changed; `openFakeLmdb(image, ...)` opens a new
 * environment on it (the restarted node), and one image may be opened any number of times.
 */
import type { RootDatabase } from 'lmdb';
import { Packr } from 'msgpackr';
import { assert } from '../../src/common/errors.js';
import type { Environment } from '../../src/common/environment.js';

/** lmdb-js's largest key with LMDB's default page size. */
const KEY_BYTES_MAX = 1978;
/** Above this a value is read straight from the memory map, as a plain Uint8Array. */
const MMAP_VALUE_BYTES_MIN = 16 * 1024 ** 2;
/** The smallest buffer `getBinaryFast` reads into, as lmdb-js allocates it. */
const READ_BUFFER_BYTES_MIN = 4096;
const DATABASES_MAX_DEFAULT = 10_000;

/** One stored key and value, as bytes. Never changed once stored. */
export interface StoredEntry {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** What an environment holds durably: each named DB's entries in key order. Never changed after it is handed out. */
export interface FakeLmdbImage {
  readonly dbs: ReadonlyMap<string, readonly StoredEntry[]>;
}

/** The image of an environment nothing was ever written to. */
export function emptyFakeLmdbImage(): FakeLmdbImage {
  return { dbs: new Map() };
}

/** How the environment's transactions reach the disk. */
export interface FakeLmdbOptions {
  /** Schedules a transaction's fsync; the simulation's virtual clock, or real timers in a unit test. */
  readonly timers: Pick<Environment, 'after'>;
  /** Ms from a transaction's first write to its fsync, drawn per transaction. */
  readonly fsyncDelayMs: () => number;
  /** Most named DBs open at once (lmdb-js's maxDbs). Default 10,000. */
  readonly databasesMax?: number;
}

/**
 * One named DB's entries in key byte order. `shared` while a read transaction or an iterator may still
 * look at `entries`: the next write then works on a copy.
 */
class DbData {
  shared = false;

  constructor(readonly entries: StoredEntry[] = []) {}

  copy(): DbData {
    return new DbData(this.entries.slice());
  }

  /** Index of the first entry whose key is at or after `key`. */
  lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.entries[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  find(key: Buffer): StoredEntry | undefined {
    const entry = this.entries[this.lowerBound(key)];
    return entry?.key.equals(key) ? entry : undefined;
  }

  put(entry: StoredEntry): void {
    const index = this.lowerBound(entry.key);
    const found = this.entries[index];
    if (found?.key.equals(entry.key)) this.entries[index] = entry;
    else this.entries.splice(index, 0, entry);
  }

  remove(key: Buffer): void {
    const index = this.lowerBound(key);
    const found = this.entries[index];
    if (found?.key.equals(key)) this.entries.splice(index, 1);
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/** A change to one DB, applied when its transaction lands. */
type WriteOp =
  | { readonly kind: 'put'; readonly db: string; readonly entry: StoredEntry }
  | { readonly kind: 'remove'; readonly db: string; readonly key: Buffer }
  | { readonly kind: 'clear'; readonly db: string }
  | { readonly kind: 'drop'; readonly db: string };

/** The async writes of one synchronous stretch: one transaction. */
interface PendingTransaction {
  readonly ops: WriteOp[];
  readonly landed: Promise<boolean>;
  readonly resolve: (value: boolean) => void;
  readonly reject: (error: unknown) => void;
  /** Its fsync is done: it lands as soon as every earlier transaction has. */
  synced: boolean;
  cancelFsync: () => void;
}

/** DBs as a transaction sees them: the named DBs it changed (null for dropped), over the landed ones. */
type DbView = Map<string, DbData | null>;

/** Options of a range read, as src/storage passes them. */
export interface FakeRangeOptions<K> {
  readonly start?: K;
  readonly end?: K;
  readonly exclusiveStart?: boolean;
  readonly limit?: number;
  readonly reverse?: boolean;
  readonly transaction?: FakeReadTransaction;
}

const RANGE_OPTION_NAMES = new Set(['start', 'end', 'exclusiveStart', 'limit', 'reverse', 'transaction']);
const DB_OPTION_NAMES = new Set(['keyEncoding', 'encoding', 'create']);

/** A view of the landed DBs as of its opening (lmdb-js's Transaction from `useReadTransaction`). */
export class FakeReadTransaction {
  private open = true;

  constructor(
    private readonly environment: FakeLmdbEnvironment,
    private readonly dbs: ReadonlyMap<string, DbData>,
  ) {}

  /** The DB as of the opening; undefined if it did not exist then. */
  db(name: string): DbData | undefined {
    this.environment.assertUsable();
    assert(this.open, 'the read transaction is done');
    return this.dbs.get(name);
  }

  done(): void {
    this.open = false;
  }
}

/** A handle on one named DB (lmdb-js's Database), with the encodings it was opened with. */
export class FakeDatabase {
  constructor(
    private readonly environment: FakeLmdbEnvironment,
    readonly name: string,
    private readonly binaryKeys: boolean,
    private readonly binaryValues: boolean,
  ) {}

  get(key: unknown): unknown {
    const entry = this.data().find(this.encodeKey(key));
    return entry === undefined ? undefined : this.decodeValue(entry.value);
  }

  /** The value's bytes in a buffer the next call overwrites; see the module comment. */
  getBinaryFast(key: unknown): Uint8Array | undefined {
    const entry = this.data().find(this.encodeKey(key));
    return entry === undefined ? undefined : this.environment.fastRead(entry.value);
  }

  doesExist(key: unknown): boolean {
    return this.data().find(this.encodeKey(key)) !== undefined;
  }

  put(key: unknown, value: unknown): Promise<boolean> {
    return this.environment.write({ kind: 'put', db: this.name, entry: { key: this.encodeKey(key), value: this.encodeValue(value) } });
  }

  remove(key: unknown): Promise<boolean> {
    return this.environment.write({ kind: 'remove', db: this.name, key: this.encodeKey(key) });
  }

  /** Deletes the DB itself, with its name. */
  drop(): Promise<boolean> {
    return this.environment.write({ kind: 'drop', db: this.name });
  }

  /** Deletes every entry, keeping the DB. */
  clearAsync(): Promise<boolean> {
    return this.environment.write({ kind: 'clear', db: this.name });
  }

  putSync(key: unknown, value: unknown): boolean {
    this.environment.transactionSync(() => void this.put(key, value));
    return true;
  }

  /** Runs `callback`; its async writes join the open transaction, whose promise this returns. */
  batch(callback: () => void): Promise<boolean> {
    return this.environment.batch(callback);
  }

  transactionSync<T>(callback: () => T): T {
    return this.environment.transactionSync(callback);
  }

  useReadTransaction(): FakeReadTransaction {
    return this.environment.useReadTransaction();
  }

  getRange(options: FakeRangeOptions<unknown> = {}): Iterable<{ key: unknown; value: unknown }> {
    return this.range(options, (entry) => ({ key: this.decodeKey(entry.key), value: this.decodeValue(entry.value) }));
  }

  getKeys(options: FakeRangeOptions<unknown> = {}): Iterable<unknown> {
    return this.range(options, (entry) => this.decodeKey(entry.key));
  }

  getKeysCount(options: FakeRangeOptions<unknown> = {}): number {
    assert(options.reverse !== true && options.limit === undefined, 'getKeysCount: only start, end and exclusiveStart are modelled');
    const { from, to } = this.bounds(options);
    return Math.max(0, to - from);
  }

  private range<T>(options: FakeRangeOptions<unknown>, map: (entry: StoredEntry) => T): Iterable<T> {
    for (const name of Object.keys(options)) assert(RANGE_OPTION_NAMES.has(name), `range option ${name} is not modelled`);
    const { data, from, to } = this.bounds(options);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    // The iterator reads this array lazily: a landing meanwhile must work on a copy (lmdb-js holds a read
    // transaction for the iterator).
    data.shared = true;
    const entries = data.entries;
    const reverse = options.reverse === true;
    const environment = this.environment;
    return {
      *[Symbol.iterator](): Iterator<T> {
        let count = 0;
        for (let i = reverse ? to - 1 : from; (reverse ? i >= from : i < to) && count < limit; i += reverse ? -1 : 1, count++) {
          // Reading on after a crash or close is as much a use of the environment as starting to.
          environment.assertUsable();
          yield map(entries[i]!);
        }
      },
    };
  }

  /**
   * The entries a range covers, [from, to) in key order. Forward, `start` is the lowest key and `end` the
   * bound above; in reverse, as lmdb-js reads it, `start` is the highest key and `end` the bound below.
   */
  private bounds(options: FakeRangeOptions<unknown>): { data: DbData; from: number; to: number } {
    const data = options.transaction !== undefined ? (options.transaction.db(this.name) ?? new DbData()) : this.data();
    const start = options.start === undefined ? undefined : this.encodeKey(options.start);
    const end = options.end === undefined ? undefined : this.encodeKey(options.end);
    const exclusiveStart = options.exclusiveStart === true;
    const afterKey = (key: Buffer): number => {
      const index = data.lowerBound(key);
      return data.entries[index]?.key.equals(key) === true ? index + 1 : index;
    };
    if (options.reverse === true) {
      const to = start === undefined ? data.entries.length : exclusiveStart ? data.lowerBound(start) : afterKey(start);
      const from = end === undefined ? 0 : afterKey(end);
      return { data, from, to };
    }
    const from = start === undefined ? 0 : exclusiveStart ? afterKey(start) : data.lowerBound(start);
    const to = end === undefined ? data.entries.length : data.lowerBound(end);
    return { data, from, to };
  }

  private data(): DbData {
    const data = this.environment.db(this.name);
    assert(data !== undefined, `database ${this.name} was dropped`);
    return data;
  }

  private encodeKey(key: unknown): Buffer {
    let bytes: Buffer;
    if (this.binaryKeys) {
      assert(key instanceof Uint8Array, `database ${this.name} has binary keys, got ${typeof key}`);
      bytes = Buffer.from(key);
    } else {
      assert(typeof key === 'string', `only string keys are modelled for the default key encoding, got ${typeof key}`);
      bytes = Buffer.from(key, 'utf8');
    }
    if (bytes.length === 0) throw new Error('Zero length key is not allowed in LMDB');
    if (bytes.length > KEY_BYTES_MAX) throw new Error(`Key size is larger than the maximum key size (${KEY_BYTES_MAX})`);
    return bytes;
  }

  private decodeKey(bytes: Buffer): unknown {
    return this.binaryKeys ? Buffer.from(bytes) : bytes.toString('utf8');
  }

  private encodeValue(value: unknown): Buffer {
    if (!this.binaryValues) return Buffer.from(this.environment.packr.pack(value));
    assert(value instanceof Uint8Array, `database ${this.name} has binary values, got ${typeof value}`);
    return Buffer.from(value);
  }

  private decodeValue(bytes: Buffer): unknown {
    return this.binaryValues ? Buffer.from(bytes) : this.environment.packr.unpack(bytes);
  }
}

/** One environment (lmdb-js's RootDatabase, as NodeStore uses it); see the module comment. */
export class FakeLmdbEnvironment {
  /** lmdb-js's encoder for default-encoded DBs: msgpackr with embedded buffers copied out. */
  readonly packr = new Packr({ copyBuffers: true });
  readonly maxKeySize = KEY_BYTES_MAX;
  private readonly databasesMax: number;
  /** What landed. */
  private landed: Map<string, DbData>;
  /** Transactions started and not landed, oldest first; the open one, if any, is the last. */
  private readonly pending: PendingTransaction[] = [];
  /** The transaction async writes of this synchronous stretch join. */
  private openTransaction: PendingTransaction | undefined;
  /** The DBs as the running `transactionSync` changed them; undefined outside one. */
  private writeTransaction: DbView | undefined;
  private fastReadBytes = Buffer.alloc(READ_BUFFER_BYTES_MIN);
  private state: 'open' | 'closed' | 'crashed' = 'open';

  constructor(
    image: FakeLmdbImage,
    private readonly options: FakeLmdbOptions,
  ) {
    this.databasesMax = options.databasesMax ?? DATABASES_MAX_DEFAULT;
    this.landed = new Map([...image.dbs].map(([name, entries]) => [name, new DbData(entries.slice())]));
  }

  /** The environment as lmdb-js's type: NodeStore.over takes it. */
  asRoot(): RootDatabase {
    return this as unknown as RootDatabase;
  }

  /**
   * A handle on the named DB, creating it (at once, durably) unless `create` is false; undefined when it
   * is absent and not to be created.
   */
  openDB(name: string, options: { keyEncoding?: string; encoding?: string; create?: boolean } = {}): FakeDatabase | undefined {
    for (const option of Object.keys(options)) assert(DB_OPTION_NAMES.has(option), `database option ${option} is not modelled`);
    assert(options.keyEncoding === undefined || options.keyEncoding === 'binary', `key encoding ${options.keyEncoding} is not modelled`);
    assert(options.encoding === undefined || options.encoding === 'binary' || options.encoding === 'msgpack', `encoding ${options.encoding} is not modelled`);
    assert(name.length > 0 && !name.includes('\0'), `database name ${JSON.stringify(name)} is not valid`);
    const exists = this.transactionSync(() => {
      if (this.db(name) !== undefined) return true;
      if (options.create === false) return false;
      if (this.countDatabases() >= this.databasesMax) throw new Error('MDB_DBS_FULL: Environment maxdbs limit reached (increase your maxDbs option)');
      this.writeTransaction!.set(name, new DbData());
      return true;
    });
    return exists ? new FakeDatabase(this, name, options.keyEncoding === 'binary', options.encoding === 'binary') : undefined;
  }

  /**
   * Runs `callback` in one write transaction that lands before this returns, after the transactions of
   * earlier synchronous stretches; see the module comment. Nested calls run in the outer transaction.
   * A throw discards the transaction's writes.
   */
  transactionSync<T>(callback: () => T): T {
    this.assertUsable();
    if (this.writeTransaction !== undefined) return callback();
    this.landWaiting();
    const view: DbView = new Map();
    this.writeTransaction = view;
    let result: T;
    try {
      result = callback();
    } finally {
      this.writeTransaction = undefined;
    }
    assert(!(result instanceof Promise), 'transactionSync callbacks must be synchronous');
    for (const [name, data] of view) {
      if (data === null) this.landed.delete(name);
      else this.landed.set(name, data);
    }
    return result;
  }

  batch(callback: () => void): Promise<boolean> {
    this.assertUsable();
    if (this.writeTransaction !== undefined) {
      callback();
      return Promise.resolve(true);
    }
    const transaction = this.openTransaction ?? this.startTransaction();
    callback();
    return transaction.landed;
  }

  useReadTransaction(): FakeReadTransaction {
    this.assertUsable();
    for (const data of this.landed.values()) data.shared = true;
    return new FakeReadTransaction(this, new Map(this.landed));
  }

  /** Waits for every transaction started to land, then refuses all use, as lmdb-js's close does. */
  async close(): Promise<void> {
    this.assertUsable();
    const last = this.pending[this.pending.length - 1];
    this.state = 'closed';
    if (last !== undefined) await last.landed;
  }

  /**
   * The power goes out: what did not land is lost, and every later use throws. Returns what a restarted
   * node finds. Allowed after `close()` too (a clean stop).
   */
  crash(): FakeLmdbImage {
    assert(this.state !== 'crashed', 'the environment already crashed');
    this.state = 'crashed';
    for (const transaction of this.pending) transaction.cancelFsync();
    this.pending.length = 0;
    this.openTransaction = undefined;
    // The landed DBs become the image: nothing writes them any more.
    return { dbs: new Map([...this.landed].map(([name, data]) => [name, data.entries])) };
  }

  /** A copy of what has landed so far; the environment goes on. */
  landedImage(): FakeLmdbImage {
    this.assertUsable();
    return { dbs: new Map([...this.landed].map(([name, data]) => [name, data.entries.slice()])) };
  }

  /** Neither closed nor crashed. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isCrashed(): boolean {
    return this.state === 'crashed';
  }

  /** Transactions started and not landed, the open one included. */
  get transactionsInFlight(): number {
    return this.pending.length;
  }

  // --- for FakeDatabase ---------------------------------------------------------------------------------

  /** The DB as reads see it now: the running write transaction's, else the landed one. */
  db(name: string): DbData | undefined {
    this.assertUsable();
    if (this.writeTransaction?.has(name) === true) return this.writeTransaction.get(name) ?? undefined;
    return this.landed.get(name);
  }

  /** Adds an async write to the running write transaction, else to the open one. */
  write(op: WriteOp): Promise<boolean> {
    this.assertUsable();
    if (this.writeTransaction !== undefined) {
      applyInView(op, this.writeTransaction, (name) => this.landed.get(name));
      return Promise.resolve(true);
    }
    const transaction = this.openTransaction ?? this.startTransaction();
    transaction.ops.push(op);
    return transaction.landed;
  }

  /**
   * `value` in the one buffer `getBinaryFast` reuses, its `length` set to the value's as lmdb-js does
   * (so a result held across reads changes under its holder), or a fresh plain Uint8Array when it is large.
   */
  fastRead(value: Buffer): Uint8Array {
    if (value.length > MMAP_VALUE_BYTES_MIN) return new Uint8Array(value);
    if (value.length > this.fastReadBytes.byteLength) this.fastReadBytes = Buffer.alloc(Math.max(2 * value.length, READ_BUFFER_BYTES_MIN));
    this.fastReadBytes.set(value);
    Object.defineProperty(this.fastReadBytes, 'length', { value: value.length, writable: true, configurable: true });
    return this.fastReadBytes;
  }

  assertUsable(): void {
    assert(this.state === 'open', this.state === 'crashed' ? 'the LMDB environment crashed: open a new one on its image' : 'the LMDB environment is closed');
  }

  private countDatabases(): number {
    let count = this.landed.size;
    for (const [name, data] of this.writeTransaction ?? []) {
      if (data !== null && !this.landed.has(name)) count++;
      if (data === null && this.landed.has(name)) count--;
    }
    return count;
  }

  private startTransaction(): PendingTransaction {
    let resolve!: (value: boolean) => void;
    let reject!: (error: unknown) => void;
    const landed = new Promise<boolean>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const transaction: PendingTransaction = { ops: [], landed, resolve, reject, synced: false, cancelFsync: () => {} };
    this.openTransaction = transaction;
    this.pending.push(transaction);
    // The transaction closes when this synchronous stretch ends: later writes start the next one.
    queueMicrotask(() => {
      if (this.openTransaction === transaction) this.openTransaction = undefined;
    });
    const delayMs = this.options.fsyncDelayMs();
    assert(delayMs >= 0, `fsync delay ${delayMs} must not be negative`);
    transaction.cancelFsync = this.options.timers.after(delayMs, () => {
      transaction.synced = true;
      this.landSynced();
    });
    return transaction;
  }

  /** Lands the oldest transactions whose fsync is done, stopping at the first that is not. */
  private landSynced(): void {
    while (this.pending[0]?.synced === true) this.land(this.pending[0]);
  }

  /** Lands every transaction but the open one: a synchronous transaction waits for them. */
  private landWaiting(): void {
    while (this.pending.length > 0 && this.pending[0] !== this.openTransaction) {
      const transaction = this.pending[0]!;
      transaction.cancelFsync();
      this.land(transaction);
    }
  }

  private land(transaction: PendingTransaction): void {
    assert(this.pending[0] === transaction, 'transactions land in the order they started');
    this.pending.shift();
    if (this.openTransaction === transaction) this.openTransaction = undefined;
    const missing = missingDatabase(transaction.ops, (name) => this.landed.has(name));
    if (missing !== undefined) {
      // LMDB refuses a write through the handle of a dropped DB, and the transaction fails whole.
      transaction.reject(new Error(`database ${missing} does not exist: it was dropped`));
      return;
    }
    for (const op of transaction.ops) {
      if (op.kind === 'drop') {
        this.landed.delete(op.db);
        continue;
      }
      let data = this.landed.get(op.db)!;
      if (data.shared) this.landed.set(op.db, (data = data.copy()));
      applyToData(op, data);
    }
    transaction.resolve(true);
  }
}

/** The first DB one of `ops` writes to that does not exist when it runs, if any. */
function missingDatabase(ops: readonly WriteOp[], exists: (name: string) => boolean): string | undefined {
  const dropped = new Set<string>();
  for (const op of ops) {
    if (dropped.has(op.db) || !exists(op.db)) return op.db;
    if (op.kind === 'drop') dropped.add(op.db);
  }
  return undefined;
}

function applyToData(op: Exclude<WriteOp, { kind: 'drop' }>, data: DbData): void {
  switch (op.kind) {
    case 'put':
      data.put(op.entry);
      break;
    case 'remove':
      data.remove(op.key);
      break;
    case 'clear':
      data.clear();
      break;
  }
}

/**
 * Applies `op` inside a synchronous transaction, copying a landed DB into `view` on its first change so
 * that a throw discards the change.
 */
function applyInView(op: WriteOp, view: DbView, landed: (name: string) => DbData | undefined): void {
  const data = view.has(op.db) ? view.get(op.db)! : (landed(op.db)?.copy() ?? null);
  if (data === null) throw new Error(`database ${op.db} does not exist: it was dropped`);
  if (op.kind === 'drop') view.set(op.db, null);
  else {
    view.set(op.db, data);
    applyToData(op, data);
  }
}

/** Opens an environment on `image` (empty for a new node). */
export function openFakeLmdb(image: FakeLmdbImage, options: FakeLmdbOptions): FakeLmdbEnvironment {
  return new FakeLmdbEnvironment(image, options);
}
