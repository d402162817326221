/**
 * What a node does in the background — store the newest routing table, follow the pilot's long poll, join
 * the pilot again when it forgot the node — may fail on disk or on a table the node cannot apply. The
 * failure is logged and the node serves on; it used to be an unhandled rejection, which ends a Node 20
 * process with every shard it serves.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse } from '../../src/common/protocol.js';
import { freePort } from '../../src/common/free-ports.js';
import { pollUntil } from '../../src/common/poll.js';
import { startNode, type RunningNode } from '../../src/node/node-server.js';
import { PilotClient, PilotError } from '../../src/node/pilot-client.js';
import type { RoutingView } from '../../src/node/routing-view.js';
import { ShardGroups } from '../../src/node/shard-groups.js';
import { startPilot } from '../../src/pilot/server.js';
import { NodeStore } from '../../src/storage/node-store.js';

const CLUSTER_SECRET = 'node-background-failures-secret';

/** Whether `condition` came to hold within `timeoutMs`. */
function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  return pollUntil(condition, { what: 'the condition', timeoutMs, intervalMs: 20 }).then(
    () => true,
    () => false,
  );
}

interface Started {
  readonly node: RunningNode;
  readonly logs: Record<string, unknown>[];
  /** Reasons of rejections nobody handled while the test ran. */
  readonly unhandled: unknown[];
}

/** A pilot and one node in this process (one shard, one replica), the node logging into `logs`. */
async function startCluster(t: TestContext): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-background-failures-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => void process.off('unhandledRejection', onUnhandled));
  const pilot = await startPilot({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(dir, 'pilot'),
    expectNodes: 1,
    shardsPerNode: 1,
    replicas: 1,
    clusterSecret: CLUSTER_SECRET,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => pilot.close());
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
  return { node, logs, unhandled };
}

/** Waits for the first error the node logs, or the first unhandled rejection; asserts it was the former. */
async function loggedError(started: Started): Promise<Record<string, unknown>> {
  const failure = (): Record<string, unknown> | undefined => started.logs.find((l) => l.level === 50);
  await until(() => failure() !== undefined || started.unhandled.length > 0, 10_000);
  // A rejection goes unhandled a turn after it settles: give it the turns to surface.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(started.unhandled, []);
  assert.ok(failure() !== undefined, 'an error is logged');
  return failure()!;
}

/** Asserts the node takes a write and serves it back. */
async function assertServes(t: TestContext, node: RunningNode): Promise<void> {
  const client = new Redis({ host: '127.0.0.1', port: node.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  t.after(() => client.disconnect());
  await client.connect();
  const served = await until(async () => (await client.set('k', 'v').catch(() => null)) === 'OK', 10_000);
  assert.ok(served, 'the node takes writes');
  assert.equal(await client.get('k'), 'v');
}

test('a routing table the disk fails to store is logged with its version, and the node serves on', async (t) => {
  const putMeta = NodeStore.prototype.putMeta;
  t.mock.method(NodeStore.prototype, 'putMeta', function (this: NodeStore, name: string, value: unknown): Promise<void> {
    return name === 'routing' ? Promise.reject(new Error('simulated disk failure')) : putMeta.call(this, name, value);
  });
  const started = await startCluster(t);
  const failure = await loggedError(started);
  assert.match(String(failure.msg), /storing the routing table failed/);
  assert.equal(typeof failure.version, 'number', 'the version is named');
  await assertServes(t, started.node);
});

test('a routing table from the long poll that the node fails to apply is logged with its version, and the node serves on', async (t) => {
  // Heartbeats carry no table here, so the long poll delivers the one with the shard's leader recorded.
  const heartbeat = PilotClient.prototype.heartbeat;
  t.mock.method(PilotClient.prototype, 'heartbeat', async function (this: PilotClient, request: HeartbeatRequest): Promise<HeartbeatResponse> {
    await heartbeat.call(this, request);
    return {};
  });
  const sync = ShardGroups.prototype.sync;
  t.mock.method(ShardGroups.prototype, 'sync', function (this: ShardGroups, view: RoutingView): void {
    if (view.table.shards.some((s) => s.leaderTerm !== undefined)) throw new Error('simulated failure to apply');
    sync.call(this, view);
  });
  const started = await startCluster(t);
  const failure = await loggedError(started);
  assert.match(String(failure.msg), /applying the routing table failed/);
  assert.equal(typeof failure.version, 'number', 'the version is named');
  await assertServes(t, started.node);
});

test('a join again after the pilot forgot the node, failing on disk, is logged, and the node serves on', async (t) => {
  const started = await startCluster(t);
  await assertServes(t, started.node);
  // The pilot answers as if it had forgotten the node, and hands it a new incarnation the disk fails to store.
  t.mock.method(PilotClient.prototype, 'heartbeat', () => Promise.reject(new PilotError(404, 'no such node')));
  const join = PilotClient.prototype.join;
  t.mock.method(PilotClient.prototype, 'join', async function (this: PilotClient, request: JoinRequest): Promise<JoinResponse> {
    return { ...(await join.call(this, request)), cluster_incarnation: 'a-new-incarnation' };
  });
  const putMeta = NodeStore.prototype.putMeta;
  t.mock.method(NodeStore.prototype, 'putMeta', function (this: NodeStore, name: string, value: unknown): Promise<void> {
    return name === 'cluster_incarnation' ? Promise.reject(new Error('simulated disk failure')) : putMeta.call(this, name, value);
  });
  const failure = await loggedError(started);
  assert.match(String(failure.msg), /joining the pilot again failed/);
  await assertServes(t, started.node);
});
