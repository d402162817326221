import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/raft/index.js';
import { NodeStore } from '../../src/storage/node-store.js';
import type { StoredValue } from '../../src/storage/types.js';

/** Past lmdb-js's 16 MiB shared-buffer threshold, where reads hand back a plain Uint8Array rather than a Buffer. */
const LARGE_BYTES = 17 * 1024 ** 2;

/** A fresh directory; `open()` opens a store in it. Stores are closed, then the directory removed, after the test. */
function fixture(t: TestContext): () => NodeStore {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-large-'));
  const stores: NodeStore[] = [];
  t.after(async () => {
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const store = NodeStore.open(dir, { mapBytes: 512 * 1024 ** 2, databasesMax: 16 });
    stores.push(store);
    return store;
  };
}

/** `bytes` bytes of a pattern that differs along the value, so a misplaced byte shows. */
function pattern(bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + (i >> 12)) & 0xff;
  return out;
}

test('a 17 MiB log entry reads back from LMDB (term, entries) after a reopen', async (t) => {
  const open = fixture(t);
  const data = pattern(LARGE_BYTES);
  let store = open();
  // No tail cache: every durable entry is read from LMDB.
  let log = store.openRaftLog('g', { tailCacheBytesMax: 0 });
  log.bootstrap([1, 2, 3]);
  const large: Entry = { index: 2, term: 7, type: 'normal', data };
  const small: Entry = { index: 3, term: 7, type: 'normal', data: Buffer.from('after') };
  log.append([large, small]);
  await store.commitAll();
  assert.equal(log.term(2), 7);
  await store.close();

  store = open();
  log = store.openRaftLog('g', { tailCacheBytesMax: 0 });
  assert.deepEqual([log.firstIndex(), log.lastIndex()], [2, 3]);
  assert.equal(log.term(2), 7);
  assert.equal(log.term(3), 7);
  const found = log.entries(2, 4, Number.POSITIVE_INFINITY);
  assert.ok(Array.isArray(found));
  assert.deepEqual(
    found.map((e) => [e.index, e.term, e.type, e.data.byteLength]),
    [
      [2, 7, 'normal', LARGE_BYTES],
      [3, 7, 'normal', 5],
    ],
  );
  assert.ok(Buffer.from(found[0]!.data).equals(data));
});

test('a 17 MiB shard value reads back after a reopen, and overwriting and deleting it keep the counters', async (t) => {
  const open = fixture(t);
  const bytes = pattern(LARGE_BYTES);
  const key = Buffer.from('foo');
  const value: StoredValue = { type: 'string', value: bytes, expireAtMs: 4_102_444_800_000 };
  let store = open();
  let shard = store.openShard('s1');
  shard.put(key, value);
  await shard.commit();
  await store.close();

  store = open();
  shard = store.openShard('s1');
  const read = shard.get(key);
  assert.ok(read?.type === 'string');
  assert.equal(read.expireAtMs, value.expireAtMs);
  assert.ok(read.value.equals(bytes));
  assert.deepEqual(shard.scanExpiring(undefined, 10), [{ slot: 12182, key, expireAtMs: value.expireAtMs }]);
  // Overwriting reads the stored value's size and expiry from LMDB.
  shard.put(key, { type: 'string', value: Buffer.from('small'), expireAtMs: 0 });
  await shard.commit();
  assert.deepEqual([shard.keyCount, shard.byteCount], [1, key.length + 9 + 5]);
  assert.deepEqual(shard.scanExpiring(undefined, 10), []);
  shard.put(key, value);
  await shard.commit();
  assert.equal(shard.delete(key), true);
  await shard.commit();
  assert.deepEqual([shard.keyCount, shard.byteCount, shard.get(key)], [0, 0, undefined]);
});
