/**
 * The pilot's schedulers on real processes: three nodes whose nine shards are all led by node1 (every
 * leader handed to it through the API, as after restarts), then the pilot restarted with its schedulers
 * on: within a bounded time every node leads three shards, and the events list the transfers with why.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HOST_DEFAULT, pilotProcesses, startPilots, type PilotProcess } from '../../src/cluster/local-cluster.js';
import { freePort } from '../../src/common/free-ports.js';
import type { RoutingTable } from '../../src/common/routing.js';
import type { PilotEvent } from '../../src/pilot/event-log.js';
import { newClusterSecretEnv, testProcess, waitUntil, type TestProcess } from '../support/cluster.js';

const NODES = 3;
const SHARDS_PER_NODE = 3;
const SCHEDULE_INTERVAL_MS = 1000;
const BALANCED_WITHIN_MS = 60_000;

describe('pilot schedulers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-schedulers-'));
  const env = newClusterSecretEnv();
  const nodes: TestProcess[] = [];
  let pilot: PilotProcess | undefined;

  const startPilot = async (port: number, args: readonly string[]): Promise<PilotProcess> => {
    const pilotArgs = ['--expect-nodes', String(NODES), '--shards-per-node', String(SHARDS_PER_NODE), ...args];
    const [started] = await pilotProcesses(dir, 1, pilotArgs, { host: HOST_DEFAULT, env: { CLEAVE_LOG_LEVEL: 'warn', ...env } }, port);
    await startPilots([started!]);
    return started!;
  };
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const answer = await fetch(`${pilot!.url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5000),
    });
    return { status: answer.status, json: await answer.json() };
  };
  const routing = async (): Promise<RoutingTable> => (await api('GET', '/api/v1/routing')).json as RoutingTable;
  const leaderCounts = async (): Promise<number[]> => {
    const table = await routing();
    return Array.from({ length: NODES }, (_, i) => table.shards.filter((s) => s.leader === `node${i + 1}`).length);
  };

  after(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await pilot?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('nine shards led by node1 are rebalanced to three leaders per node, each transfer an event with its reason', { timeout: 180_000 }, async (t) => {
    const port = await freePort();
    pilot = await startPilot(port, []);
    for (let i = 1; i <= NODES; i++) {
      const [resp, bus] = [await freePort(), await freePort()];
      const node = testProcess(
        `node${i}`,
        ['node', '--port', String(resp), '--bus-port', String(bus), '--metrics-port', '0', '--data-dir', join(dir, `node${i}`), '--pilot', pilot.url],
        env,
      );
      nodes.push(node);
      node.start();
    }
    const log = (): string => [pilot!, ...nodes].map((p) => `${p.name}: ${p.log}`).join('\n');
    const shardCount = NODES * SHARDS_PER_NODE;
    await waitUntil('every shard has a leader', async () => (await routing()).shards.filter((s) => s.leader !== null).length === shardCount, log);

    await waitUntil(
      'node1 leads every shard',
      async () => {
        const table = await routing();
        for (const shard of table.shards.filter((s) => s.leader !== 'node1' && s.transferTo !== 'node1')) {
          await api('POST', `/api/v1/shards/${shard.id}/replicas`, { action: 'transfer_leader', node_id: 'node1' });
        }
        return table.shards.every((s) => s.leader === 'node1');
      },
      log,
    );
    assert.deepEqual(await leaderCounts(), [shardCount, 0, 0]);

    await pilot.kill('SIGTERM');
    const restartedAtMs = Date.now();
    pilot = await startPilot(port, ['--schedulers', '--schedule-interval-ms', String(SCHEDULE_INTERVAL_MS)]);
    await waitUntil('three leaders per node', async () => (await leaderCounts()).every((n) => n === shardCount / NODES), log, BALANCED_WITHIN_MS);
    t.diagnostic(`leaders balanced ${Date.now() - restartedAtMs} ms after the pilot restarted with its schedulers`);

    const { events } = (await api('GET', '/api/v1/events')).json as { events: PilotEvent[] };
    const transfers = events.filter((e) => e.kind === 'scheduler-operator' && e.operator === 'transfer-leader' && e.outcome === 'executed');
    assert.ok(transfers.length >= (shardCount * 2) / NODES, JSON.stringify(events.filter((e) => e.kind === 'scheduler-operator')));
    for (const event of transfers) {
      assert.ok(event.kind === 'scheduler-operator');
      assert.equal(event.scheduler, 'leader-rebalance');
      assert.match(event.reason, /\S/);
      assert.notEqual(event.node_id, 'node1');
    }
  });
});
