/**
 * LMDB shard data for splits: range snapshots of a slot range, and the shard's meta (its split state),
 * durable with the data, kept by clear(), carried by the first chunk of a whole-shard snapshot only.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { keyHashSlot } from '../../src/common/slots.js';
import { decodeSlotKey } from '../../src/storage/key-encoding.js';
import type { NodeStore } from '../../src/storage/node-store.js';
import type { ShardData, ShardSnapshotChunk, ShardSnapshotReader, StoredValue } from '../../src/storage/types.js';
import { testOnEachBackend, type StoreBackend } from '../support/store-backends.js';

/** Opens stores on a fresh disk; all are closed, then the disk removed, after the test. */
function fixture(t: TestContext, backend: StoreBackend): () => NodeStore {
  return backend.disk(t, { mapBytes: 64 * 1024 ** 2 }).open;
}

const str = (text: string): StoredValue => ({ type: 'string', value: Buffer.from(text), expireAtMs: 0 });
const META = Uint8Array.from([0x93, 1, 2, 3]);

/** Keys named `prefix<n>` in each of `slots`, `perSlot` each. */
function keysInSlots(slots: readonly number[], perSlot: number, prefix = 'k'): Buffer[] {
  const keys: Buffer[] = [];
  const wanted = new Map(slots.map((slot) => [slot, perSlot]));
  for (let i = 0; [...wanted.values()].some((left) => left > 0); i++) {
    const key = Buffer.from(`${prefix}${i}`);
    const left = wanted.get(keyHashSlot(key));
    if (left === undefined || left === 0) continue;
    wanted.set(keyHashSlot(key), left - 1);
    keys.push(key);
  }
  return keys;
}

function readAll(reader: ShardSnapshotReader, maxBytes: number): ShardSnapshotChunk[] {
  const chunks: ShardSnapshotChunk[] = [];
  try {
    for (let cursor: Uint8Array | null = null, first = true; first || cursor !== null; first = false) {
      const chunk = reader.chunk(cursor, maxBytes);
      chunks.push(chunk);
      cursor = chunk.next;
    }
  } finally {
    reader.close();
  }
  return chunks;
}

/** The slots of the keys a snapshot holds, in order. */
function slotsOf(chunks: readonly ShardSnapshotChunk[]): number[] {
  return chunks.flatMap((chunk) => chunk.entries.filter((_, i) => i % 2 === 0).map((key) => decodeSlotKey(Buffer.from(key)).slot));
}

async function filled(shard: ShardData, keys: readonly Buffer[]): Promise<void> {
  for (const key of keys) shard.put(key, str(`v-${key.toString()}`));
  await shard.commit();
}

testOnEachBackend('a range snapshot holds only the keys of [fromSlot, endSlot), in order, in chunks, without the meta', async (t, backend) => {
  const shard = fixture(t, backend)().openShard('s1');
  await filled(shard, keysInSlots([5, 10, 11, 19, 20], 3));
  shard.setMeta(META);
  await shard.commit();

  const reader = shard.openSnapshot({ fromSlot: 10, endSlot: 20 });
  // Writes after opening do not change the view.
  await filled(shard, keysInSlots([12], 2, 'late'));
  const chunks = readAll(reader, 1);
  assert.deepEqual(slotsOf(chunks), [10, 10, 10, 11, 11, 11, 19, 19, 19]);
  assert.ok(chunks.length >= 9, 'one key per chunk at 1 byte a chunk');
  assert.deepEqual(
    chunks.map((chunk) => chunk.meta),
    chunks.map(() => undefined),
    'a range snapshot carries no meta',
  );
  assert.throws(() => reader.chunk(null, 1), /closed/);

  const whole = readAll(shard.openSnapshot(), 1 << 20);
  assert.deepEqual(whole.length, 1);
  assert.deepEqual(slotsOf(whole), [5, 5, 5, 10, 10, 10, 11, 11, 11, 12, 12, 19, 19, 19, 20, 20, 20]);
  assert.deepEqual(whole[0]!.meta, META);
});

testOnEachBackend('a snapshot, whole or of a range, needs every write durable', async (t, backend) => {
  const shard = fixture(t, backend)().openShard('s1');
  shard.put(Buffer.from('a'), str('1'));
  assert.throws(() => shard.openSnapshot(), /needs every write durable/);
  assert.throws(() => shard.openSnapshot({ fromSlot: 0, endSlot: 16384 }), /needs every write durable/);
  await shard.flushed();
  shard.openSnapshot({ fromSlot: 0, endSlot: 16384 }).close();
});

testOnEachBackend('the meta is durable on its own, kept by clear(), and never counted as a key', async (t, backend) => {
  const open = fixture(t, backend);
  const first = open();
  const shard = first.openShard('s1');
  await filled(shard, keysInSlots([1, 2], 2));
  const counts = [shard.keyCount, shard.byteCount];
  // A meta change alone is a write: the next commit carries it.
  shard.setMeta(META);
  await shard.commit();
  assert.deepEqual([shard.keyCount, shard.byteCount], counts);
  shard.clear();
  await shard.commit();
  assert.deepEqual(shard.meta, META, 'clear() deletes keys, not the meta');
  assert.deepEqual([shard.keyCount, shard.byteCount], [0, 0]);
  assert.deepEqual(shard.scan(0, 16384, undefined, 10), []);
  await first.close();

  const reopened = open().openShard('s1');
  assert.deepEqual(reopened.meta, META);
  assert.deepEqual([reopened.keyCount, reopened.byteCount], [0, 0]);
  reopened.setMeta(undefined);
  await reopened.commit();
  assert.equal(reopened.meta, undefined);
});

testOnEachBackend('restoring a whole-shard snapshot brings the meta with the keys; a snapshot without meta removes it', async (t, backend) => {
  const store = fixture(t, backend)();
  const source = store.openShard('s1');
  const keys = keysInSlots([3, 4000], 2);
  await filled(source, keys);
  source.setMeta(META);
  await source.commit();
  const chunks = readAll(source.openSnapshot(), 1);
  assert.deepEqual(
    chunks.slice(1).map((chunk) => chunk.meta),
    chunks.slice(1).map(() => undefined),
    'only the first chunk carries it',
  );

  const follower = store.openShard('s2');
  for (const chunk of chunks) follower.restoreChunk(chunk);
  await follower.commit();
  assert.deepEqual(follower.meta, META);
  assert.deepEqual([follower.keyCount, follower.byteCount], [source.keyCount, source.byteCount]);
  for (const key of keys) assert.deepEqual(follower.get(key), source.get(key));

  const empty = store.openShard('s3');
  const plain = readAll(empty.openSnapshot(), 1 << 20);
  assert.equal(plain[0]!.meta, null, 'a shard without meta says so');
  follower.clear();
  for (const chunk of plain) follower.restoreChunk(chunk);
  await follower.commit();
  assert.equal(follower.meta, undefined);
});
