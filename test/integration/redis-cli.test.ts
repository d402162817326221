/** Debian's redis-cli and redis-benchmark against a real cleave cluster, as against Redis Cluster. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { keyHashSlot } from '../../src/common/slots.js';
import { TestCluster } from '../support/cluster.js';
import { requireBinary } from '../support/binaries.js';

function cli(port: number, ...args: string[]): string {
  const result = spawnSync('redis-cli', ['-c', '-p', String(port), ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

describe('redis-cli and redis-benchmark', () => {
  let cluster: TestCluster;
  before(async () => {
    requireBinary('redis-cli', 'redis-tools');
    cluster = await TestCluster.start({ nodes: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('follows redirects for SET and GET of keys on every node', () => {
    const port = cluster.nodes[0]!.port;
    for (let i = 0; i < 30; i++) {
      assert.equal(cli(port, 'SET', `cli:${i}`, `value ${i}`), 'OK');
      assert.equal(cli(cluster.nodes[i % 3]!.port, 'GET', `cli:${i}`), `value ${i}`);
    }
  });

  it('answers the CLUSTER commands as Redis does', () => {
    const port = cluster.nodes[1]!.port;
    assert.equal(cli(port, 'CLUSTER', 'KEYSLOT', 'somekey'), String(keyHashSlot(Buffer.from('somekey'))));
    assert.equal(cli(port, 'CLUSTER', 'KEYSLOT', '{user1000}.following'), String(keyHashSlot(Buffer.from('user1000'))));
    const info = cli(port, 'CLUSTER', 'INFO');
    assert.match(info, /cluster_state:ok/);
    assert.match(info, /cluster_slots_assigned:16384/);
    assert.match(info, /cluster_known_nodes:3/);
    const myid = cli(port, 'CLUSTER', 'MYID');
    assert.match(myid, /^[0-9a-f]{40}$/);
    const nodes = cli(port, 'CLUSTER', 'NODES').split('\n');
    assert.equal(nodes.length, 3);
    const mine = nodes.find((l) => l.includes('myself'))!;
    assert.ok(mine.startsWith(myid));
    assert.match(mine, new RegExp(`127\\.0\\.0\\.1:${port}@\\d+ myself,master - 0 \\d+ \\d+ connected( \\d+(-\\d+)?)+$`));
    // Together the nodes' slot ranges cover 0..16383 exactly once.
    const covered = new Array<number>(16384).fill(0);
    for (const line of nodes) {
      for (const range of line.split(' ').slice(8)) {
        const [a, b] = range.split('-').map(Number);
        for (let s = a!; s <= (b ?? a!); s++) covered[s]!++;
      }
    }
    assert.ok(covered.every((c) => c === 1));
    const slots = cli(port, 'CLUSTER', 'SLOTS');
    assert.match(slots, /^0\n/);
    assert.match(slots, /16383/);
    const shards = cli(port, 'CLUSTER', 'SHARDS');
    assert.match(shards, /slots/);
    assert.match(shards, /master/);
  });

  it('counts and lists the keys of a slot', () => {
    const port = cluster.nodes[0]!.port;
    for (let i = 0; i < 5; i++) cli(port, 'SET', `{slotted}:${i}`, 'x');
    const slot = keyHashSlot(Buffer.from('slotted'));
    // COUNTKEYSINSLOT answers on the node that owns the slot: ask each and sum.
    const counts = cluster.nodes.map((n) => Number(cli(n.port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot))));
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      5,
    );
    const owner = cluster.nodes[counts.indexOf(5)]!;
    const keys = cli(owner.port, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '10').split('\n').sort();
    assert.deepEqual(
      keys,
      [0, 1, 2, 3, 4].map((i) => `{slotted}:${i}`),
    );
  });

  it('redis-benchmark --cluster runs SET and GET to completion without errors', () => {
    requireBinary('redis-benchmark', 'redis-tools');
    const result = spawnSync('redis-benchmark', ['--cluster', '-p', String(cluster.nodes[0]!.port), '-t', 'set,get', '-n', '20000', '-c', '20', '-q'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /SET: [\d.]+ requests per second/);
    assert.match(result.stdout, /GET: [\d.]+ requests per second/);
    assert.doesNotMatch(result.stdout + result.stderr, /error/i);
  });
});
