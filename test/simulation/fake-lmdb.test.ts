/**
 * The fake LMDB against lmdb-js itself, call by call, for the calls src/storage makes: each test runs on
 * both and expects the same values from each.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import { bufferOf } from '../../src/storage/lmdb-bytes.js';
import { emptyFakeLmdbImage, openFakeLmdb, type FakeLmdbEnvironment } from '../sim/fake-lmdb.js';
import { Scheduler } from '../sim/scheduler.js';
import { REAL_TIMERS } from '../support/store-backends.js';

const BINARY: DatabaseOptions = { keyEncoding: 'binary', encoding: 'binary' };

interface Root {
  readonly name: string;
  open(t: TestContext): RootDatabase;
}

const ROOTS: readonly Root[] = [
  {
    name: 'LMDB',
    open: (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'cleave-fake-lmdb-'));
      const root = open({ path: dir, maxDbs: 16, overlappingSync: false });
      t.after(async () => {
        await root.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return root;
    },
  },
  {
    name: 'fake LMDB',
    open: (t) => {
      const environment = openFakeLmdb(emptyFakeLmdbImage(), { timers: REAL_TIMERS, fsyncDelayMs: () => 0 });
      t.after(async () => {
        if (environment.isOpen) await environment.close();
      });
      return environment.asRoot();
    },
  },
];

function testOnEachRoot(name: string, body: (root: RootDatabase) => Promise<void>): void {
  for (const root of ROOTS) test(`${name} [${root.name}]`, (t) => body(root.open(t)));
}

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const hex = (keys: Iterable<unknown>): string[] => [...keys].map((key) => Buffer.from(key as Uint8Array).toString('hex'));

testOnEachRoot('string keys order by their UTF-8 bytes, and ranges read as lmdb-js reads them', async (root) => {
  const meta = root.openDB<unknown, string>('meta', {});
  // In UTF-16 the emoji (a surrogate pair, 0xD83D...) sorts before the fullwidth letter (0xFF21); in UTF-8 after.
  const keys = ['shard0', 'raft/g', 'shard/b', '\uFF21', '\u{1F600}', 'shard/a', 'node/x', 'shard/'];
  await Promise.all(keys.map((key, i) => meta.put(key, i)));
  assert.deepEqual([...meta.getKeys()], ['node/x', 'raft/g', 'shard/', 'shard/a', 'shard/b', 'shard0', '\uFF21', '\u{1F600}']);
  assert.deepEqual([...meta.getKeys({ start: 'shard/', end: 'shard0' })], ['shard/', 'shard/a', 'shard/b']);
  assert.deepEqual([...meta.getKeys({ start: 'shard/', end: 'shard0', exclusiveStart: true } as never)], ['shard/a', 'shard/b']);
  assert.deepEqual([...meta.getKeys({ start: 'r', limit: 2 })], ['raft/g', 'shard/']);
  assert.deepEqual([...meta.getKeys({ reverse: true, limit: 2 })], ['\u{1F600}', '\uFF21']);
  assert.deepEqual([...meta.getKeys({ reverse: true, start: 'shard/b', end: 'raft/g' })], ['shard/b', 'shard/a', 'shard/']);
  assert.deepEqual([...meta.getKeys({ reverse: true, start: 'shard/az', end: 'raft/g' })], ['shard/a', 'shard/']);
  assert.equal(meta.getKeysCount({ start: 'shard/', end: 'shard0' }), 3);
  assert.deepEqual(
    [...meta.getRange({ start: 'shard/a', end: 'shard0' })].map(({ key, value }) => [key, value]),
    [
      ['shard/a', 5],
      ['shard/b', 2],
    ],
  );
});

testOnEachRoot('binary keys order by bytes, shorter first; exclusiveStart skips only the start key', async (root) => {
  const db = root.openDB<Buffer, Buffer>('data', BINARY);
  const keys = [bytes(0x01, 0x00), bytes(0x00, 0xff), bytes(0x01), bytes(0xff), bytes(0x00, 0x00, 0x01), bytes(0x01, 0x00, 0x00)];
  await db.batch(() => {
    for (const [i, key] of keys.entries()) void db.put(key, bytes(i));
  });
  assert.deepEqual(hex(db.getKeys()), ['000001', '00ff', '01', '0100', '010000', 'ff']);
  assert.deepEqual(hex(db.getKeys({ start: bytes(0x01), end: bytes(0x02) })), ['01', '0100', '010000']);
  assert.deepEqual(hex(db.getKeys({ start: bytes(0x01), exclusiveStart: true, limit: 2 } as never)), ['0100', '010000']);
  assert.deepEqual(hex(db.getKeys({ start: bytes(0x00, 0x80), exclusiveStart: true, limit: 1 } as never)), ['00ff'], 'an absent start is not skipped over');
  assert.deepEqual(hex(db.getKeys({ reverse: true, limit: 1 })), ['ff']);
  assert.equal(db.getKeysCount({ start: bytes(0x00), end: bytes(0x01) }), 2);
  assert.equal(db.getKeysCount({ start: bytes(0x02), end: bytes(0xff) }), 0);
  assert.deepEqual(
    [...db.getRange({ start: bytes(0x01, 0x00) })].map(({ key, value }) => [Buffer.from(key).toString('hex'), Buffer.from(value).toString('hex')]),
    [
      ['0100', '00'],
      ['010000', '05'],
      ['ff', '03'],
    ],
  );
  assert.equal(db.doesExist(bytes(0xff)), true);
  assert.equal(db.doesExist(bytes(0xfe)), false);
  assert.throws(() => db.getBinaryFast(Buffer.alloc(0)), /Zero length key/);
});

testOnEachRoot('async writes are invisible until their promise resolves; a synchronous transaction sees its own writes at once', async (root) => {
  const meta = root.openDB<unknown, string>('meta', {});
  const data = root.openDB<Buffer, Buffer>('data', BINARY);
  const written = meta.put('k', { n: 1 });
  void data.put(bytes(1), bytes(9));
  assert.equal(meta.get('k'), undefined);
  assert.equal(data.getBinaryFast(bytes(1)), undefined);
  assert.deepEqual([...data.getKeys()], []);
  assert.equal(await written, true);
  assert.deepEqual(meta.get('k'), { n: 1 });
  assert.equal(bufferOf(data.getBinaryFast(bytes(1))!).toString('hex'), '09');

  const seen = root.transactionSync(() => {
    meta.putSync('sync', 'v');
    return meta.get('sync');
  });
  assert.equal(seen, 'v');
  assert.equal(meta.get('sync'), 'v', 'landed when transactionSync returned');
  assert.throws(() =>
    root.transactionSync(() => {
      meta.putSync('aborted', 'v');
      throw new Error('abort');
    }),
  );
  assert.equal(meta.get('aborted'), undefined, 'a throw aborts the transaction');
});

testOnEachRoot('default-encoded values are MessagePack: every read decodes a fresh copy, binary fields as Buffers', async (root) => {
  const meta = root.openDB<unknown, string>('meta', {});
  const record = { keyCount: 3, byteCount: 2 ** 40, meta: Uint8Array.from([1, 2, 3]), nested: { list: [1, 'two', null], flag: true }, clockMs: 1.5 };
  await meta.put('record', record);
  const first = meta.get('record') as typeof record;
  assert.deepEqual({ ...first, meta: Uint8Array.from(first.meta) }, record);
  assert.ok(Buffer.isBuffer(first.meta), 'a Uint8Array comes back as a Buffer');
  first.nested.list.push(4);
  assert.deepEqual((meta.get('record') as typeof record).nested.list, [1, 'two', null], 'a read is a copy');
});

testOnEachRoot('getBinaryFast reuses one buffer: the next read overwrites what the previous returned', async (root) => {
  const db = root.openDB<Buffer, Buffer>('data', BINARY);
  await db.batch(() => {
    void db.put(bytes(1), Buffer.from('first value'));
    void db.put(bytes(2), Buffer.from('second'));
  });
  const first = bufferOf(db.getBinaryFast(bytes(1))!);
  assert.equal(first.toString(), 'first value');
  const second = bufferOf(db.getBinaryFast(bytes(2))!);
  assert.equal(second, first, 'the same buffer');
  assert.equal(first.toString(), 'second', 'overwritten in place');
});

testOnEachRoot('a read transaction keeps its view while writes land', async (root) => {
  const db = root.openDB<Buffer, Buffer>('data', BINARY);
  await db.put(bytes(1), bytes(1));
  const transaction = db.useReadTransaction();
  await db.batch(() => {
    void db.put(bytes(2), bytes(2));
    void db.remove(bytes(1));
  });
  assert.deepEqual(hex(db.getKeys({ transaction } as never)), ['01']);
  assert.deepEqual(hex(db.getKeys()), ['02']);
  transaction.done();
});

testOnEachRoot('drop deletes a DB with its name, clearAsync only its entries; create: false finds only existing DBs', async (root) => {
  assert.equal(root.openDB('absent', { ...BINARY, create: false } as DatabaseOptions), undefined);
  const kept = root.openDB<Buffer, Buffer>('kept', BINARY);
  const doomed = root.openDB<Buffer, Buffer>('doomed', BINARY);
  await kept.batch(() => {
    void kept.put(bytes(1), bytes(1));
    void doomed.put(bytes(1), bytes(1));
  });
  await kept.batch(() => {
    void doomed.drop();
    void kept.clearAsync();
  });
  assert.equal(root.openDB('doomed', { ...BINARY, create: false } as DatabaseOptions), undefined);
  const reopened = root.openDB('kept', { ...BINARY, create: false } as DatabaseOptions) as Database<Buffer, Buffer>;
  assert.deepEqual([...reopened.getKeys()], []);
  const again = root.openDB<Buffer, Buffer>('doomed', BINARY);
  assert.deepEqual([...again.getKeys()], [], 'a DB created again starts empty');
});

// --- the fake alone, on virtual time ---------------------------------------------------------------------

function fakeOnScheduler(delaysMs: number[]): { scheduler: Scheduler; environment: FakeLmdbEnvironment } {
  const scheduler = new Scheduler();
  const environment = openFakeLmdb(emptyFakeLmdbImage(), {
    timers: {
      after: (ms, fn) => {
        const id = scheduler.after(ms, fn);
        return () => void scheduler.cancel(id);
      },
    },
    fsyncDelayMs: () => delaysMs.shift() ?? 1,
  });
  return { scheduler, environment };
}

test('a synchronous transaction lands after the transactions of earlier stretches and before the open one', async () => {
  const { scheduler, environment } = fakeOnScheduler([10, 10]);
  const meta = environment.openDB('meta')!;
  const landed: string[] = [];
  void meta.put('earlier', 1).then(() => landed.push(`earlier@${scheduler.now()}`));
  await Promise.resolve();
  void meta.put('open', 2).then(() => landed.push(`open@${scheduler.now()}`));
  environment.transactionSync(() => void meta.put('sync', 3));
  assert.deepEqual([meta.get('earlier'), meta.get('open'), meta.get('sync')], [1, undefined, 3]);
  await scheduler.runUntil(0);
  assert.deepEqual(landed, ['earlier@0'], 'the earlier transaction landed with the synchronous one, its fsync event cancelled');
  const image = environment.landedImage();
  await scheduler.runUntil(10);
  assert.deepEqual(landed, ['earlier@0', 'open@10']);
  const restarted = openFakeLmdb(image, { timers: { after: () => () => {} }, fsyncDelayMs: () => 0 }).openDB('meta')!;
  assert.deepEqual([...restarted.getKeys()], ['earlier', 'sync'], 'a crash before the open transaction landed keeps the synchronous one');
});

test('a transaction writing to a DB dropped before it fails whole; a closed or crashed environment refuses use', async () => {
  const { scheduler, environment } = fakeOnScheduler([1, 1]);
  const data = environment.openDB('data', { keyEncoding: 'binary', encoding: 'binary' })!;
  const kept = environment.openDB('kept')!;
  await Promise.all([data.put(bytes(1), bytes(1)), scheduler.runUntil(1)]);
  void data.drop();
  const refused = assert.rejects(data.put(bytes(2), bytes(2)), /database data does not exist: it was dropped/);
  const alongside = assert.rejects(kept.put('k', 1), /dropped/);
  await scheduler.runUntil(2);
  await Promise.all([refused, alongside]);
  assert.deepEqual([...data.getKeys()], [bytes(1)], 'nothing of the failed transaction landed, the drop included');
  assert.equal(kept.get('k'), undefined);

  void kept.put('last', 1);
  const closed = environment.close();
  assert.throws(() => kept.get('last'), /closed/);
  await Promise.all([closed, scheduler.runUntil(3)]);
  const image = environment.crash();
  assert.throws(() => environment.crash(), /already crashed/);
  const restarted = openFakeLmdb(image, { timers: { after: () => () => {} }, fsyncDelayMs: () => 0 });
  assert.equal(restarted.openDB('kept')!.get('last'), 1, 'close waited for the transaction in flight');
  restarted.crash();
  assert.throws(() => restarted.openDB('kept'), /crashed/);
});
