import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { startRedisCluster, type RedisClusterHandle } from '../../src/bench/redis-cluster.js';
import { runYcsb, type YcsbOptions } from '../../src/bench/ycsb.js';
import { workloadSpec, type OpType } from '../../src/bench/workload.js';

/** The op types each workload must have performed, in report order. */
const EXPECTED: Record<string, OpType[]> = {
  a: ['READ', 'UPDATE'],
  b: ['READ', 'UPDATE'],
  c: ['READ'],
  d: ['READ', 'INSERT'],
  e: ['INSERT', 'SCAN'],
  f: ['READ', 'UPDATE', 'READ-MODIFY-WRITE'],
};

describe('bench ycsb against a redis-server cluster', () => {
  let cluster: RedisClusterHandle;

  before(async () => {
    // Fails (does not skip) without redis-server, naming the Debian package to install.
    cluster = await startRedisCluster({ masters: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  const options = (workload: string): YcsbOptions => ({
    host: cluster.host,
    port: cluster.ports[0]!,
    workload: workloadSpec(workload),
    recordCount: 2000,
    operationCount: 10_000_000,
    durationSec: 2,
    threads: 4,
    pipelineDepth: 2,
    connections: 2,
    workers: 1,
    fieldCount: 10,
    fieldLengthBytes: 100,
    seed: 42,
  });

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

  for (const workload of Object.keys(EXPECTED)) {
    it(`runs workload ${workload.toUpperCase()} for ~2 s with no application errors`, async () => {
      const result = await runYcsb(options(workload));
      assert.equal(result.load!.operations, 2000);
      assert.equal(result.load!.errorCount, 0, JSON.stringify(result.load!.errors));
      assert.equal(result.run.errorCount, 0, JSON.stringify(result.run.errors));
      assert.ok(result.run.elapsedSec < 4, `run capped by --duration: ${result.run.elapsedSec}`);
      const types = result.run.byType.map((t) => t.type);
      assert.deepEqual(types, EXPECTED[workload]);
      for (const t of result.run.byType) assert.ok(t.count > 0 && t.p99Us > 0, `${workload} ${t.type}`);
      assert.ok(result.run.clientCpu.percentOfOneCore > 0);
    });
  }

  it('splits the work over worker processes and honours a target rate', async () => {
    const result = await runYcsb({ ...options('a'), workers: 2, threads: 4, targetOpsPerSec: 1000, skipLoad: true });
    assert.equal(result.run.errorCount, 0, JSON.stringify(result.run.errors));
    assert.equal(result.run.clientCpu.processes, 2);
    assert.ok(Math.abs(result.run.opsPerSec - 1000) < 150, `throttled to ${result.run.opsPerSec} ops/s`);
    assert.ok(result.latencyFromIntendedTime);
  });

  it('stop() removes the working directory', async () => {
    const second = await startRedisCluster({ masters: 3 });
    const client = new Cluster([{ host: second.host, port: second.ports[0]! }]);
    const nodeDir = await client.config('GET', 'dir').then((reply) => String((reply as string[])[1]));
    client.disconnect();
    assert.ok(existsSync(nodeDir));
    await second.stop();
    assert.ok(!existsSync(dirname(nodeDir)), 'cluster dir removed');
  });
});
