/** A value past lmdb-js's 16 MiB read threshold survives replication and a restart of every node. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { TestCluster } from '../support/cluster.js';

const LARGE_BYTES = 17 * 1024 ** 2;
/** Small keys over many slots: with 6 shards, every shard holds some. */
const SMALL_KEYS = 200;
const COMMAND_TIMEOUT_MS = 20_000;

function pattern(bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + (i >> 12)) & 0xff;
  return out;
}

/** A cluster client that rides out elections but fails a command rather than wait forever on a dead cluster. */
function client(cluster: TestCluster): Cluster {
  const c = new Cluster(cluster.startupNodes, {
    clusterRetryStrategy: () => 100,
    maxRedirections: 50,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS },
  });
  c.on('error', () => undefined);
  return c;
}

/** Every small key read back, as `key=value` for the ones that differ from `expected(i)`. */
async function wrongSmallKeys(c: Cluster, expected: (i: number) => string): Promise<string[]> {
  const keys = Array.from({ length: SMALL_KEYS }, (_, i) => `small:${i}`);
  const values = await Promise.all(keys.map((k) => c.get(k)));
  return keys.flatMap((k, i) => (values[i] === expected(i) ? [] : [`${k}=${values[i]}`]));
}

describe('a 17 MiB value with three replicas', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 3, replicas: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('is stored, survives a restart of every node byte for byte, and the other shards keep serving', async () => {
    const value = pattern(LARGE_BYTES);
    let c = client(cluster);
    try {
      assert.equal(await c.set('large', value), 'OK');
      // Writes after it, to its shard and the others, make leaders read the large entry's term from disk.
      for (let i = 0; i < SMALL_KEYS; i++) assert.equal(await c.set(`small:${i}`, `v${i}`), 'OK');
      assert.ok((await c.getBuffer('large'))?.equals(value));
    } finally {
      c.disconnect();
    }
    for (const node of cluster.nodes) assert.ok(node.running, `${node.name} exited:\n${node.log}`);

    await Promise.all(cluster.nodes.map((n) => n.kill('SIGTERM')));
    for (const node of cluster.nodes) node.start();
    for (const node of cluster.nodes) await cluster.waitForNode(node);

    c = client(cluster);
    try {
      const read = await c.getBuffer('large');
      assert.equal(read?.length, LARGE_BYTES);
      assert.ok(read.equals(value), 'the value read back differs');
      assert.deepEqual(await wrongSmallKeys(c, (i) => `v${i}`), []);
      for (let i = 0; i < SMALL_KEYS; i++) assert.equal(await c.set(`small:${i}`, `w${i}`), 'OK');
      assert.deepEqual(await wrongSmallKeys(c, (i) => `w${i}`), []);
    } finally {
      c.disconnect();
    }
    for (const node of cluster.nodes) assert.ok(node.running, `${node.name} exited:\n${node.log}`);
  });
});
