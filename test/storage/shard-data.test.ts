import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { keyHashSlot } from '../../src/common/slots.js';
import { USER_KEY_BYTES_MAX } from '../../src/storage/key-encoding.js';
import { encodeValue } from '../../src/storage/value-encoding.js';
import type { NodeStore } from '../../src/storage/node-store.js';
import type { ShardData, StoredValue } from '../../src/storage/types.js';
import { testOnEachBackend, type StoreBackend } from '../support/store-backends.js';

/** A fresh disk; `open()` opens a store on it. Stores are closed, then the disk removed, after the test. */
function fixture(t: TestContext, backend: StoreBackend): { open: () => NodeStore } {
  return backend.disk(t, { mapBytes: 256 * 1024 ** 2 });
}

/** A store on a fresh disk with shard `s1` open. */
function openStore(t: TestContext, backend: StoreBackend): { store: NodeStore; shard: ShardData; open: () => NodeStore } {
  const { open } = fixture(t, backend);
  const store = open();
  return { store, shard: store.openShard('s1'), open };
}

function str(text: string, expireAtMs = 0): StoredValue {
  return { type: 'string', value: Buffer.from(text), expireAtMs };
}

const k = (text: string): Buffer => Buffer.from(text);

const tagsBySlot = new Map<number, string>();
/** A key in hash slot `slot`: `{tag}suffix` with a tag found by search. */
function keyInSlot(slot: number, suffix: string): Buffer {
  let tag = tagsBySlot.get(slot);
  for (let n = 0; tag === undefined; n++) {
    if (keyHashSlot(Buffer.from(`t${n}`)) === slot) tag = `t${n}`;
  }
  tagsBySlot.set(slot, tag);
  return Buffer.from(`{${tag}}${suffix}`);
}

testOnEachBackend('reads see writes before commit; isPending until the commit is durable', async (t, backend) => {
  const { shard } = openStore(t, backend);
  assert.equal(shard.get(k('a')), undefined);
  assert.equal(shard.isPending(k('a')), false);
  shard.put(k('a'), str('1'));
  shard.put(k('b'), { type: 'hash', fields: new Map([['f', k('v')]]), expireAtMs: 0 });
  assert.deepEqual(shard.get(k('a')), str('1'));
  assert.equal(shard.isPending(k('a')), true);
  assert.equal(shard.isPending(k('c')), false);
  // Scan-style reads see only durable data.
  assert.deepEqual(shard.scan(0, 16384, undefined, 10), []);
  await shard.commit();
  assert.equal(shard.isPending(k('a')), false);
  assert.deepEqual(shard.get(k('a')), str('1'));
  assert.deepEqual(shard.get(k('b')), { type: 'hash', fields: new Map([['f', k('v')]]), expireAtMs: 0 });
  assert.equal(shard.scan(0, 16384, undefined, 10).length, 2);
  assert.equal(shard.delete(k('a')), true);
  assert.equal(shard.get(k('a')), undefined);
  assert.equal(shard.isPending(k('a')), true);
  assert.equal(shard.delete(k('a')), false);
  assert.equal(shard.delete(k('never')), false);
  assert.equal(shard.isPending(k('never')), false, 'deleting an absent key writes nothing');
  await shard.flushed();
  assert.equal(shard.get(k('a')), undefined);
  assert.equal(shard.isPending(k('a')), false);
});

testOnEachBackend('committed data and counters survive closing and reopening the store', async (t, backend) => {
  const { open } = fixture(t, backend);
  const first = open();
  const shard = first.openShard('s1');
  const hash: StoredValue = { type: 'hash', fields: new Map([['f', k('v')]]), expireAtMs: 9_000 };
  shard.put(k('a'), str('1'));
  shard.put(k('b'), hash);
  shard.put(k('gone'), str('x'));
  await shard.commit();
  shard.delete(k('gone'));
  await shard.commit();
  const keyCount = shard.keyCount;
  const byteCount = shard.byteCount;
  assert.equal(keyCount, 2);
  assert.equal(byteCount, 1 + encodeValue(str('1')).length + 1 + encodeValue(hash).length);
  await first.close();

  const second = open();
  const reopened = second.openShard('s1');
  assert.deepEqual(reopened.get(k('a')), str('1'));
  assert.deepEqual(reopened.get(k('b')), hash);
  assert.equal(reopened.get(k('gone')), undefined);
  assert.equal(reopened.keyCount, keyCount);
  assert.equal(reopened.byteCount, byteCount);
  assert.deepEqual(reopened.scanExpiring(undefined, 10), [{ slot: keyHashSlot(k('b')), key: k('b'), expireAtMs: 9_000 }]);
});

testOnEachBackend('counters follow puts, overwrites and deletes', async (t, backend) => {
  const { shard } = openStore(t, backend);
  const size = (key: string, value: StoredValue): number => key.length + encodeValue(value).length;
  shard.put(k('a'), str('1'));
  shard.put(k('bb'), str('22'));
  assert.equal(shard.keyCount, 2);
  assert.equal(shard.byteCount, size('a', str('1')) + size('bb', str('22')));
  await shard.commit();
  shard.put(k('a'), str('longer value'));
  assert.equal(shard.keyCount, 2);
  assert.equal(shard.byteCount, size('a', str('longer value')) + size('bb', str('22')));
  shard.delete(k('bb'));
  shard.put(k('a'), str('x'));
  assert.equal(shard.keyCount, 1);
  assert.equal(shard.byteCount, size('a', str('x')));
  shard.delete(k('a'));
  assert.equal(shard.keyCount, 0);
  assert.equal(shard.byteCount, 0);
});

testOnEachBackend('a commit finishing does not drop a newer pending write to the same key', async (t, backend) => {
  const { shard } = openStore(t, backend);
  shard.put(k('k'), str('1'));
  const first = shard.commit();
  shard.put(k('k'), str('2'));
  await first;
  assert.deepEqual(shard.get(k('k')), str('2'));
  assert.equal(shard.isPending(k('k')), true);
  await shard.commit();
  assert.deepEqual(shard.get(k('k')), str('2'));
  assert.equal(shard.isPending(k('k')), false);

  // The same with a delete as the newer write.
  shard.put(k('d'), str('1'));
  const third = shard.commit();
  shard.delete(k('d'));
  await third;
  assert.equal(shard.get(k('d')), undefined);
  await shard.commit();
  assert.equal(shard.get(k('d')), undefined);
  assert.deepEqual(
    shard.scan(0, 16384, undefined, 10).map((s) => s.key.toString()),
    ['k'],
  );
});

testOnEachBackend('overlapping commits complete in the order they started', async (t, backend) => {
  const { shard } = openStore(t, backend);
  const finished: number[] = [];
  const commits: Promise<void>[] = [];
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 200; i++) shard.put(k(`r${round}-${i}`), str(String(round)));
    commits.push(shard.commit().then(() => void finished.push(round)));
    // Half the commits start in the same turn as the previous one, half in a later turn.
    if (round % 2 === 1) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(commits);
  assert.deepEqual(finished, [0, 1, 2, 3, 4, 5]);
  assert.equal(shard.keyCount, 1200);
  assert.equal(shard.scan(0, 16384, undefined, 5000).length, 1200);
});

testOnEachBackend('commit with nothing pending resolves when earlier commits are durable', async (t, backend) => {
  const { shard } = openStore(t, backend);
  await shard.commit();
  shard.put(k('a'), str('1'));
  const first = shard.commit();
  const empty = shard.commit();
  await empty;
  assert.equal(shard.isPending(k('a')), false);
  await first;
});

testOnEachBackend('clear deletes every key, ordered with the writes around it', async (t, backend) => {
  const { shard, store, open } = openStore(t, backend);
  shard.put(k('old1'), str('1', 5_000));
  shard.put(k('old2'), str('2'));
  await shard.commit();
  shard.put(k('old3'), str('3'));
  const inFlight = shard.commit();
  shard.put(k('before-clear'), str('x'));
  shard.clear();
  assert.equal(shard.keyCount, 0);
  assert.equal(shard.byteCount, 0);
  assert.equal(shard.get(k('old1')), undefined);
  assert.equal(shard.get(k('old3')), undefined);
  assert.equal(shard.get(k('before-clear')), undefined);
  assert.equal(shard.isPending(k('old1')), true, 'the clear is a pending delete of every key');
  assert.equal(shard.delete(k('old2')), false);
  shard.put(k('new'), str('n', 7_000));
  assert.deepEqual(shard.get(k('new')), str('n', 7_000));
  assert.equal(shard.keyCount, 1);
  await inFlight;
  assert.equal(shard.get(k('old3')), undefined, 'a commit from before the clear does not resurface its writes');
  await shard.commit();
  assert.equal(shard.isPending(k('old1')), false);
  assert.equal(shard.get(k('old1')), undefined);
  assert.deepEqual(
    shard.scan(0, 16384, undefined, 10).map((s) => s.key.toString()),
    ['new'],
  );
  assert.deepEqual(
    shard.scanExpiring(undefined, 10).map((e) => e.key.toString()),
    ['new'],
  );
  await store.close();

  const reopened = open();
  const again = reopened.openShard('s1');
  assert.equal(again.keyCount, 1);
  assert.deepEqual(again.get(k('new')), str('n', 7_000));
  assert.equal(again.get(k('old2')), undefined);
});

testOnEachBackend('scan pages through slots in (slot, key) order with `after`', async (t, backend) => {
  const { shard } = openStore(t, backend);
  const keys = [keyInSlot(5, 'a'), keyInSlot(5, 'b'), keyInSlot(0x00ff, 'z'), keyInSlot(0x0100, 'a'), keyInSlot(9000, 'q'), keyInSlot(16383, 'end')];
  for (const key of [...keys].reverse()) shard.put(key, str('v'));
  await shard.flushed();

  const pages: Buffer[][] = [];
  let after: Buffer | undefined;
  for (;;) {
    const page = shard.scan(0, 16384, after, 2);
    if (page.length === 0) break;
    pages.push(page.map((s) => s.key));
    after = page[page.length - 1]!.key;
  }
  assert.deepEqual(pages, [keys.slice(0, 2), keys.slice(2, 4), keys.slice(4, 6)]);

  const found = shard.scan(0x00ff, 9000, undefined, 100);
  assert.deepEqual(found, [
    { slot: 0x00ff, key: keys[2] },
    { slot: 0x0100, key: keys[3] },
  ]);
  // `after` before the range start: the scan starts at fromSlot.
  assert.deepEqual(shard.scan(0x0100, 16384, keys[0], 1), [{ slot: 0x0100, key: keys[3] }]);
  assert.deepEqual(shard.scan(0, 16384, keys[5], 10), []);
  // `after` at or past the range end: nothing.
  assert.deepEqual(shard.scan(0, 9000, keys[4], 10), []);
  assert.deepEqual(shard.scan(0, 16384, undefined, 0), []);
});

testOnEachBackend('countInSlot and keysInSlot read one slot', async (t, backend) => {
  const { shard } = openStore(t, backend);
  for (let i = 0; i < 30; i++) shard.put(keyInSlot(77, `k${String(i).padStart(2, '0')}`), str('v'));
  shard.put(keyInSlot(76, 'x'), str('v'));
  shard.put(keyInSlot(78, 'x'), str('v'));
  await shard.flushed();
  assert.equal(shard.countInSlot(77), 30);
  assert.equal(shard.countInSlot(76), 1);
  assert.equal(shard.countInSlot(1000), 0);
  const firstTen = shard.keysInSlot(77, 10);
  assert.deepEqual(
    firstTen,
    Array.from({ length: 10 }, (_, i) => keyInSlot(77, `k0${i}`)),
  );
  assert.equal(shard.keysInSlot(77, 100).length, 30);
  assert.deepEqual(shard.keysInSlot(78, 100), [keyInSlot(78, 'x')]);
});

testOnEachBackend('scanExpiring walks keys with an expiry in (slot, key) order, tracking changes', async (t, backend) => {
  const { shard } = openStore(t, backend);
  const a = keyInSlot(10, 'a');
  const b = keyInSlot(10, 'b');
  const c = keyInSlot(3000, 'c');
  const plain = keyInSlot(20, 'plain');
  shard.put(c, str('v', 300));
  shard.put(b, str('v', 200));
  shard.put(a, { type: 'hash', fields: new Map([['f', k('v')]]), expireAtMs: 100 });
  shard.put(plain, str('v'));
  await shard.flushed();
  assert.deepEqual(shard.scanExpiring(undefined, 10), [
    { slot: 10, key: a, expireAtMs: 100 },
    { slot: 10, key: b, expireAtMs: 200 },
    { slot: 3000, key: c, expireAtMs: 300 },
  ]);
  assert.deepEqual(shard.scanExpiring({ slot: 10, key: a }, 1), [{ slot: 10, key: b, expireAtMs: 200 }]);
  assert.deepEqual(shard.scanExpiring({ slot: 3000, key: c }, 10), []);

  shard.put(a, str('v')); // expiry removed by an overwrite (PERSIST / SET)
  shard.delete(b);
  shard.put(c, str('v', 350)); // expiry changed
  shard.put(plain, str('v', 50)); // expiry added
  await shard.flushed();
  assert.deepEqual(shard.scanExpiring(undefined, 10), [
    { slot: 20, key: plain, expireAtMs: 50 },
    { slot: 3000, key: c, expireAtMs: 350 },
  ]);

  // Several writes to one key in one commit, across commits in flight.
  shard.put(plain, str('v'));
  const inFlight = shard.commit();
  shard.put(plain, str('v', 60));
  shard.put(plain, str('v'));
  await Promise.all([inFlight, shard.commit()]);
  assert.deepEqual(shard.scanExpiring(undefined, 10), [{ slot: 3000, key: c, expireAtMs: 350 }]);
});

testOnEachBackend('keys longer than the storage limit are refused on write and absent on read', async (t, backend) => {
  const { shard } = openStore(t, backend);
  const longest = Buffer.alloc(USER_KEY_BYTES_MAX, 0x61);
  shard.put(longest, str('v'));
  await shard.commit();
  assert.deepEqual(shard.get(longest), str('v'));
  const tooLong = Buffer.alloc(USER_KEY_BYTES_MAX + 1, 0x61);
  assert.throws(() => shard.put(tooLong, str('v')), RangeError);
  assert.equal(shard.get(tooLong), undefined);
  assert.equal(shard.delete(tooLong), false);
});

testOnEachBackend('empty and binary keys are stored like any other', async (t, backend) => {
  const { shard } = openStore(t, backend);
  const binary = Buffer.from([0x00, 0xff, 0x7b, 0x7d, 0x80]);
  shard.put(Buffer.alloc(0), str('empty'));
  shard.put(binary, str('binary'));
  await shard.commit();
  assert.deepEqual(shard.get(Buffer.alloc(0)), str('empty'));
  assert.deepEqual(shard.get(binary), str('binary'));
  assert.deepEqual(shard.keysInSlot(keyHashSlot(binary), 10), [binary]);
});
