import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeStore } from '../../src/storage/node-store.js';
import type { StoredValue } from '../../src/storage/types.js';
import { testOnEachBackend, type StoreBackend } from '../support/store-backends.js';

/** A fresh disk; `open()` opens a store on it. Stores are closed, then the disk removed, after the test. */
function fixture(t: TestContext, backend: StoreBackend): { open: () => NodeStore } {
  return backend.disk(t, { mapBytes: 256 * 1024 ** 2, databasesMax: 64 });
}

function str(text: string, expireAtMs = 0): StoredValue {
  return { type: 'string', value: Buffer.from(text), expireAtMs };
}

const k = (text: string): Buffer => Buffer.from(text);

testOnEachBackend('shards are listed once created, and openShard returns one instance per shard', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  assert.deepEqual(store.shardIds(), []);
  const a = store.openShard('shard-b');
  store.openShard('shard-a');
  assert.equal(store.openShard('shard-b'), a);
  assert.deepEqual(store.shardIds(), ['shard-a', 'shard-b']);
  await store.close();
  assert.deepEqual(open().shardIds(), ['shard-a', 'shard-b']);
});

testOnEachBackend('shards keep their data apart', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const a = store.openShard('a');
  const b = store.openShard('b');
  a.put(k('key'), str('from a', 10));
  b.put(k('key'), str('from b'));
  await Promise.all([a.commit(), b.commit()]);
  assert.deepEqual(a.get(k('key')), str('from a', 10));
  assert.deepEqual(b.get(k('key')), str('from b'));
  assert.equal(a.scanExpiring(undefined, 10).length, 1);
  assert.equal(b.scanExpiring(undefined, 10).length, 0);
  b.clear();
  await b.commit();
  assert.deepEqual(a.get(k('key')), str('from a', 10));
  assert.equal(b.get(k('key')), undefined);
});

testOnEachBackend('opening a shard while commits are in flight (a synchronous LMDB transaction) keeps them whole', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const a = store.openShard('a');
  const commits: Promise<void>[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 500; i++) a.put(k(`r${round}-${i}`), str(String(round)));
    commits.push(a.commit());
    store.openShard(`other-${round}`);
  }
  await Promise.all(commits);
  assert.equal(a.scan(0, 16384, undefined, 10_000).length, 2500);
  await store.close();
  const reopened = open().openShard('a');
  assert.equal(reopened.keyCount, 2500);
  assert.equal(reopened.scan(0, 16384, undefined, 10_000).length, 2500);
});

testOnEachBackend('dropShard removes the data, the expiry index and the record', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const shard = store.openShard('doomed');
  const keeper = store.openShard('keeper');
  shard.put(k('a'), str('1', 100));
  keeper.put(k('a'), str('kept'));
  await Promise.all([shard.commit(), keeper.commit()]);
  shard.put(k('uncommitted'), str('2'));
  const dropping = store.dropShard('doomed');
  assert.deepEqual(store.shardIds(), ['keeper'], 'a shard being dropped is no longer listed');
  assert.throws(() => shard.get(k('a')), /dropped/);
  assert.throws(() => shard.put(k('b'), str('x')), /dropped/);
  await assert.rejects(shard.commit(), /dropped/);
  assert.throws(() => store.openShard('doomed'), /being dropped/);
  await dropping;

  const again = store.openShard('doomed');
  assert.notEqual(again, shard);
  assert.equal(again.keyCount, 0);
  assert.equal(again.get(k('a')), undefined);
  assert.deepEqual(again.scanExpiring(undefined, 10), []);
  assert.deepEqual(keeper.get(k('a')), str('kept'));
  assert.deepEqual(store.shardIds(), ['doomed', 'keeper']);
});

testOnEachBackend('dropShard works on a shard this process never opened, and DB slots are reused', async (t, backend) => {
  const { open } = fixture(t, backend);
  const first = open();
  // databasesMax is 64: creating and dropping more shards than that fits only if drops free their DBs.
  for (let i = 0; i < 40; i++) {
    const shard = first.openShard(`s${i}`);
    shard.put(k('x'), str(String(i)));
    await shard.commit();
    if (i > 0) await first.dropShard(`s${i - 1}`);
  }
  await first.close();
  const second = open();
  assert.deepEqual(second.shardIds(), ['s39']);
  await second.dropShard('s39');
  assert.deepEqual(second.shardIds(), []);
  await second.close();
  assert.deepEqual(open().shardIds(), []);
});

testOnEachBackend('node metadata reads its own writes and survives reopening', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  assert.equal(store.getMeta('node_id'), undefined);
  const written = store.putMeta('node_id', 'abc123');
  assert.equal(store.getMeta('node_id'), 'abc123', 'visible before the write is durable');
  const table = { version: 7, shards: [{ id: 's1', start: 0, end: 16384 }] };
  void store.putMeta('routing', { version: 6 });
  const second = store.putMeta('routing', table);
  await written;
  await second;
  assert.deepEqual(store.getMeta('routing'), table);
  // Node metadata does not show up as shards.
  assert.deepEqual(store.shardIds(), []);
  await store.close();
  const reopened = open();
  assert.equal(reopened.getMeta('node_id'), 'abc123');
  assert.deepEqual(reopened.getMeta('routing'), table);
});

testOnEachBackend('close commits what is pending; a closed store refuses use', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const shard = store.openShard('s');
  shard.put(k('pending'), str('v'));
  await store.close();
  assert.throws(() => store.openShard('s'), /closed/);
  assert.throws(() => shard.get(k('pending')), /closed store/);
  await assert.rejects(shard.commit(), /closed store/);
  assert.deepEqual(open().openShard('s').get(k('pending')), str('v'));
});
