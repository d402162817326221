/**
 * A data dir written by the single-process pilot (its LMDB command log, log-store.ts) keeps its cluster
 * when the pilot runs as a Raft group: the state recovered from the old log becomes the group's first
 * change, once, and later starts read the group's own storage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { freePort } from '../../src/common/free-ports.js';
import { pollUntil } from '../../src/common/poll.js';
import type { PilotCommand } from '../../src/pilot/commands.js';
import { PilotLogStore } from '../../src/pilot/log-store.js';
import type { PilotPeer } from '../../src/pilot/pilot-peers.js';
import { startPilot, type RunningPilot } from '../../src/pilot/server.js';
import { applyPilotCommand, INITIAL_PILOT_STATE, routingTable, type PilotState } from '../../src/pilot/state.js';

const silent = pino({ level: 'silent' });
const CLUSTER_SECRET = 'cluster-secret-for-migration-tests';

function registerCommand(n: number): PilotCommand {
  return { kind: 'register-node', clusterId: n.toString(16).padStart(40, '0'), host: '127.0.0.1', port: 17500 + n, busPort: 27500 + n, metricsPort: 0, pid: n, atMs: 1000 + n };
}

/** Writes a cluster's history with the single-process store, compacting every 3 entries, and returns its state. */
async function writeOldLog(dataDir: string): Promise<PilotState> {
  const commands: PilotCommand[] = [
    registerCommand(1),
    registerCommand(2),
    registerCommand(3),
    { kind: 'bootstrap-keyspace', keyspace: 'default', shardsPerNode: 2, replicas: 2, atMs: 2000 },
    { kind: 'change-shard-replicas', shardId: 'shard_0001', action: 'add', nodeId: 'node3', epoch: 1 },
    { kind: 'set-shard-leaders', leaders: [{ shardId: 'shard_0002', nodeId: 'node3', term: 4 }] },
    { kind: 'transfer-shard-leader', shardId: 'shard_0003', nodeId: 'node1' },
  ];
  const store = PilotLogStore.open(dataDir, 3);
  let state = INITIAL_PILOT_STATE;
  for (const [i, command] of commands.entries()) {
    state = applyPilotCommand(state, command).state;
    await store.append(i + 1, command, state);
  }
  await store.close();
  return state;
}

test('a single pilot on a data dir of the old command log serves the same state, imports it once, and goes on from it', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cleave-pilot-migration-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const expected = await writeOldLog(dataDir);
  assert.equal(expected.routingVersion, 7);

  const first = await startPilot({ host: '127.0.0.1', port: 0, dataDir, expectNodes: 3, clusterSecret: CLUSTER_SECRET, logger: silent });
  assert.deepEqual(first.pilot.state, expected, 'the driver starts from the old state');
  const served = (await (await fetch(`${first.url}/api/v1/routing`)).json()) as unknown;
  assert.deepEqual(served, JSON.parse(JSON.stringify(routingTable(expected))));
  await first.close();

  // The old log is still there; the group's own state now wins, and nothing is imported twice.
  const second = await startPilot({ host: '127.0.0.1', port: 0, dataDir, expectNodes: 3, clusterSecret: CLUSTER_SECRET, logger: silent });
  t.after(() => second.close());
  assert.deepEqual(second.pilot.state, expected);
  const joined = await fetch(`${second.url}/api/v1/internal/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cleave-secret': CLUSTER_SECRET },
    body: JSON.stringify({ host: '127.0.0.1', port: 17504, bus_port: 27504, metrics_port: 0, pid: 4 }),
  });
  assert.equal(joined.status, 200);
  const answer = (await joined.json()) as { node_id: string; routing: { version: number } };
  assert.equal(answer.node_id, 'node4', 'ids go on from the imported state');
  assert.equal(answer.routing.version, expected.routingVersion + 1);
  const rejoined = await fetch(`${second.url}/api/v1/internal/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cleave-secret': CLUSTER_SECRET },
    body: JSON.stringify({ node_id: 'node2', host: '127.0.0.1', port: 17502, bus_port: 27502, metrics_port: 0, pid: 22 }),
  });
  assert.equal(rejoined.status, 200, 'a node known to the old pilot rejoins with its id');
});

test('in a group of three, the replica holding the old command log imports it for every replica', async (t) => {
  const peers: PilotPeer[] = [];
  for (let i = 1; i <= 3; i++) peers.push({ id: `pilot${i}`, host: '127.0.0.1', port: await freePort(), busPort: await freePort() });
  const dirs = peers.map(() => mkdtempSync(join(tmpdir(), 'cleave-pilot-migration-')));
  const running: RunningPilot[] = [];
  t.after(async () => {
    for (const pilot of running) await pilot.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const expected = await writeOldLog(dirs[2]!);
  for (const [i, peer] of peers.entries()) {
    running.push(
      await startPilot({
        host: '127.0.0.1',
        port: peer.port,
        dataDir: dirs[i]!,
        pilotId: peer.id,
        peers,
        electionTimeoutMs: 400,
        raftTickMs: 50,
        expectNodes: 3,
        clusterSecret: CLUSTER_SECRET,
        logger: silent,
      }),
    );
  }
  await pollUntil(() => running.every((r) => r.pilot.state.routingVersion === expected.routingVersion), {
    what: 'every replica at the old routing version',
    timeoutMs: 10_000,
    intervalMs: 20,
  }).catch(() => undefined);
  for (const replica of running) assert.deepEqual(replica.pilot.state, expected);
});
