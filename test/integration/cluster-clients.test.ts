/** ioredis's Cluster and node-redis's createCluster, unchanged, against a real three-node cleave cluster. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { keyHashSlot, SLOT_COUNT } from '../../src/common/slots.js';
import { TestCluster } from '../support/cluster.js';

/** Keys spread so that every one of the 16384 slots gets at least one. */
function keysCoveringAllSlots(): string[] {
  const seen = new Set<number>();
  const keys: string[] = [];
  for (let i = 0; seen.size < SLOT_COUNT; i++) {
    const key = `key:${i}`;
    const slot = keyHashSlot(Buffer.from(key));
    if (!seen.has(slot)) {
      seen.add(slot);
      keys.push(key);
    }
  }
  return keys;
}

describe('cluster clients', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('ioredis Cluster: SET/GET on every slot, MGET with hash tags, INCR, HSET, EXPIRE', async () => {
    const client = new Cluster(cluster.startupNodes, { scaleReads: 'master' });
    try {
      const keys = keysCoveringAllSlots();
      assert.equal(keys.length, SLOT_COUNT);
      for (let i = 0; i < keys.length; i += 500) {
        await Promise.all(keys.slice(i, i + 500).map((k) => client.set(k, `v-${k}`)));
      }
      const values = await Promise.all(keys.map((k) => client.get(k)));
      assert.deepEqual(
        values,
        keys.map((k) => `v-${k}`),
      );

      await client.mset('{user1}:a', '1', '{user1}:b', '2', '{user1}:c', '3');
      assert.deepEqual(await client.mget('{user1}:a', '{user1}:b', '{user1}:missing', '{user1}:c'), ['1', '2', null, '3']);
      await assert.rejects(client.mget('a-key', 'another-key'), /CROSSSLOT/);

      for (let i = 0; i < 100; i++) await client.incr('counter');
      assert.equal(await client.get('counter'), '100');
      assert.equal(await client.incrby('counter', -30), 70);

      assert.equal(await client.hset('hash:1', 'f1', 'a', 'f2', 'b'), 2);
      assert.deepEqual(await client.hgetall('hash:1'), { f1: 'a', f2: 'b' });
      assert.equal(await client.hincrby('hash:1', 'n', 5), 5);

      await client.set('ttl-key', 'x');
      assert.equal(await client.pexpire('ttl-key', 200), 1);
      const pttl = await client.pttl('ttl-key');
      assert.ok(pttl > 0 && pttl <= 200, `pttl ${pttl}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await client.get('ttl-key'), null);
      assert.equal(await client.exists('ttl-key'), 0);

      // DBSIZE per node adds up to every key written.
      const sizes = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        SLOT_COUNT + 3 + 1 + 1,
      );
    } finally {
      client.disconnect();
    }
  });

  it('node-redis createCluster: SET/GET across slots, hash tags, INCR, HSET, EXPIRE', async () => {
    const client = createCluster({ rootNodes: cluster.startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const keys = Array.from({ length: 3000 }, (_, i) => `nr:${i}`);
      await Promise.all(keys.map((k, i) => client.set(k, String(i))));
      const values = await Promise.all(keys.map((k) => client.get(k)));
      assert.deepEqual(
        values,
        keys.map((_, i) => String(i)),
      );
      await client.mSet([
        ['{t}x', '1'],
        ['{t}y', '2'],
      ]);
      assert.deepEqual(await client.mGet(['{t}x', '{t}y', '{t}z']), ['1', '2', null]);
      assert.equal(await client.incr('nr:counter'), 1);
      assert.equal(await client.hSet('nr:hash', { a: '1', b: '2' }), 2);
      assert.deepEqual({ ...(await client.hGetAll('nr:hash')) }, { a: '1', b: '2' });
      assert.equal(await client.expire('nr:0', 100), true);
      const ttl = await client.ttl('nr:0');
      assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
    } finally {
      await client.disconnect();
    }
  });
});
