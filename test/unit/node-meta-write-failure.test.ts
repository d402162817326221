/**
 * A node whose disk refuses the write of the newest routing table logs it and serves on: the table is
 * applied in memory and fetched from the pilot again after a restart. The failed write used to be an
 * unhandled rejection, which ends a Node 20 process with every shard it serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { freePort } from '../../src/common/free-ports.js';
import { startNode } from '../../src/node/node-server.js';
import { startPilot } from '../../src/pilot/server.js';
import { NodeStore } from '../../src/storage/node-store.js';

const CLUSTER_SECRET = 'node-meta-write-failure-secret';

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

test('a routing table the disk fails to store is logged, and the node serves on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-meta-failure-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pilot = await startPilot({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pilot'), expectNodes: 1, shardsPerNode: 1, replicas: 1, clusterSecret: CLUSTER_SECRET, logger: pino({ level: 'silent' }) });
  t.after(() => pilot.close());

  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => void process.off('unhandledRejection', onUnhandled));
  const putMeta = NodeStore.prototype.putMeta;
  t.mock.method(NodeStore.prototype, 'putMeta', function (this: NodeStore, name: string, value: unknown): Promise<void> {
    return name === 'routing' ? Promise.reject(new Error('simulated disk failure')) : putMeta.call(this, name, value);
  });
  const logs: Record<string, unknown>[] = [];
  const node = await startNode({
    host: '127.0.0.1',
    port: await freePort(),
    busPort: await freePort(),
    metricsPort: 0,
    dataDir: join(dir, 'node'),
    pilotUrl: pilot.url,
    clusterSecret: CLUSTER_SECRET,
    maxBulkBytes: 1024 * 1024,
    heartbeatIntervalMs: 100,
    raftTickMs: 10,
    electionTimeoutMs: 100,
    logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
  });
  t.after(() => node.close());

  const failure = (): Record<string, unknown> | undefined => logs.find((l) => l.level === 50);
  await until(() => failure() !== undefined || unhandled.length > 0, 5_000);
  // A rejection goes unhandled a turn after it settles: give it the turns to surface.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(unhandled, []);
  assert.match(String(failure()?.msg), /storing the routing table failed/);
  assert.equal(typeof failure()?.version, 'number', 'the version is named');

  const client = new Redis({ host: '127.0.0.1', port: node.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  t.after(() => client.disconnect());
  await client.connect();
  const served = await until(async () => (await client.set('k', 'v').catch(() => null)) === 'OK', 10_000);
  assert.ok(served, 'the node takes writes');
  assert.equal(await client.get('k'), 'v');
});
