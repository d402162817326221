import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { startRedisCluster, type RedisClusterHandle } from '../../src/bench/redis-cluster.js';
import { runYcsb } from '../../src/bench/ycsb.js';
import { assertCleanRun, EXPECTED_OP_TYPES, shortRunOptions } from './bench-ycsb-cases.js';

describe('bench ycsb against a redis-server cluster', () => {
  let cluster: RedisClusterHandle;

  before(async () => {
    // Fails (does not skip) without redis-server, naming the Debian package to install.
    cluster = await startRedisCluster({ masters: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  const options = (workload: string) => shortRunOptions(cluster.host, cluster.ports[0]!, workload);

  it('started 3 masters that own every slot', async () => {
    assert.equal(cluster.ports.length, 3);
    const client = new Cluster([{ host: cluster.host, port: cluster.ports[1]! }]);
    try {
      const info = await client.cluster('INFO');
      assert.match(String(info), /cluster_state:ok/);
      assert.match(String(info), /cluster_slots_assigned:16384/);
    } finally {
      client.disconnect();
    }
  });

  for (const workload of Object.keys(EXPECTED_OP_TYPES)) {
    it(`runs workload ${workload.toUpperCase()} for ~2 s with no application errors`, async () => {
      const result = await runYcsb(options(workload));
      assert.ok(result.load !== null, 'loaded');
      assertCleanRun(result, workload);
    });
  }

  it('splits the work over worker processes and honours a target rate', async () => {
    const result = await runYcsb({ ...options('a'), workers: 2, threads: 4, targetOpsPerSec: 1000, skipLoad: true });
    assert.equal(result.run.errorCount, 0, JSON.stringify(result.run.errors));
    assert.equal(result.run.clientCpu.processes, 2);
    // Never above the target; below it only as far as a loaded 2-core machine may fall short.
    assert.ok(result.run.opsPerSec < 1150 && result.run.opsPerSec > 500, `throttled to ${result.run.opsPerSec} ops/s`);
    assert.ok(result.latencyFromIntendedTime);
  });

  it('persistence aof-fsync-always: every write is appended and fsynced; stop() removes the working directory', async () => {
    const second = await startRedisCluster({ masters: 3, persistence: 'aof-fsync-always' });
    const client = new Cluster([{ host: second.host, port: second.ports[0]! }]);
    const setting = async (name: string): Promise<string> => String(((await client.config('GET', name)) as string[])[1]);
    const nodeDir = await setting('dir');
    assert.deepEqual([await setting('appendonly'), await setting('appendfsync'), await setting('save')], ['yes', 'always', '']);
    client.disconnect();
    assert.ok(existsSync(nodeDir));
    await second.stop();
    assert.ok(!existsSync(dirname(nodeDir)), 'cluster dir removed');
  });
});
