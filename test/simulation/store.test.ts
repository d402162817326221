import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore } from '../sim/sim-store.js';
import type { StoredValue } from '../../src/storage/types.js';
import { settledFlag } from '../support/settled.js';

const FSYNC_DELAY_MS = 5;

function str(text: string): StoredValue {
  return { type: 'string', value: Buffer.from(text), expireAtMs: 0 };
}

const k = (text: string): Buffer => Buffer.from(text);

test('a commit lands one fsync delay later; a crash keeps it and drops the commit still in flight', async () => {
  const scheduler = new Scheduler();
  const first = openSimStore({ timers: scheduler, fsyncDelayMs: FSYNC_DELAY_MS });
  const shard = first.store.openShard('s1');
  shard.put(k('a'), str('1'));
  const landed = settledFlag(shard.commit());
  await scheduler.runUntil(FSYNC_DELAY_MS - 1);
  assert.equal(landed(), false);
  assert.deepEqual(shard.scan(0, 16384, undefined, 10), [], 'a scan reads LMDB, which has not got the write yet');
  await scheduler.runUntil(FSYNC_DELAY_MS);
  assert.equal(landed(), true);
  assert.deepEqual(
    shard.scan(0, 16384, undefined, 10).map((found) => found.key.toString()),
    ['a'],
  );

  shard.put(k('b'), str('2'));
  const dropped = settledFlag(shard.commit());
  await scheduler.runUntil(FSYNC_DELAY_MS + 1);
  const image = first.crash();
  await scheduler.runUntil(100);
  assert.equal(dropped(), false, 'the commit of a dropped transaction never settles');
  assert.throws(() => shard.get(k('a')), /crashed/);
  assert.throws(() => first.store.shardIds(), /crashed/);

  const second = openSimStore({ timers: scheduler, fsyncDelayMs: FSYNC_DELAY_MS, image });
  const reopened = second.store.openShard('s1');
  assert.deepEqual(reopened.get(k('a')), str('1'));
  assert.equal(reopened.get(k('b')), undefined);
  assert.equal(reopened.keyCount, 1);
  // The image is never changed: a second restart from it finds the same.
  reopened.put(k('c'), str('3'));
  await Promise.all([reopened.commit(), scheduler.runUntil(200)]);
  const third = openSimStore({ timers: scheduler, image });
  assert.equal(third.store.openShard('s1').get(k('c')), undefined);
});
