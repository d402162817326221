/**
 * A pilot whose data was lost or reset no longer knows the cluster its nodes belong to: a node that
 * restarts against it stops with one line saying what happened and what to do, rather than asking to
 * join forever.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, waitUntil } from '../support/cluster.js';

describe('a pilot reset under running nodes', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 1, shardsPerNode: 1, replicas: 1 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('a node of the old cluster exits with code 2 and one line naming both clusters and the way out', async () => {
    const node = cluster.nodes[0]!;
    await node.kill('SIGTERM');
    await cluster.pilot.kill('SIGTERM');
    rmSync(join(cluster.dir, 'pilot'), { recursive: true, force: true });
    cluster.pilot.start();
    await waitUntil(
      'the new pilot answers',
      () =>
        fetch(`${cluster.pilotUrl}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      () => cluster.pilot.log,
    );
    node.start();
    await waitUntil(
      'the node exits',
      async () => !node.running,
      () => node.log,
      20_000,
    );
    assert.equal(node.child!.exitCode, 2, node.log);
    const lines = node.log
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('cleave:'));
    assert.equal(lines.length, 1, node.log);
    assert.match(lines[0]!, /belongs to cluster [0-9a-f]{40}.*this pilot.*data dir/);
    const nodes = (await cluster.api('GET', '/api/v1/nodes')).json as { nodes: unknown[] };
    assert.deepEqual(nodes.nodes, [], 'the new pilot registered nothing');
  });
});
