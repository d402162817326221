import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PilotCommand } from '../../src/pilot/commands.js';
import { PilotLogStore } from '../../src/pilot/log-store.js';
import { applyPilotCommand, INITIAL_PILOT_STATE, type PilotState } from '../../src/pilot/state.js';

function registerCommand(n: number): PilotCommand {
  return { kind: 'register-node', clusterId: n.toString(16).padStart(40, '0'), host: 'h', port: n, busPort: n, metricsPort: 0, pid: n, atMs: n };
}

/** Appends register-node commands 1..count, as the driver does, and returns the resulting state. */
async function appendNodes(store: PilotLogStore, count: number): Promise<PilotState> {
  let state = INITIAL_PILOT_STATE;
  for (let i = 1; i <= count; i++) {
    const command = registerCommand(i);
    state = applyPilotCommand(state, command).state;
    await store.append(i, command, state);
  }
  return state;
}

for (const { count, compactEntriesMax } of [
  { count: 0, compactEntriesMax: 4 },
  { count: 3, compactEntriesMax: 4 },
  { count: 4, compactEntriesMax: 4 },
  { count: 11, compactEntriesMax: 4 },
  { count: 11, compactEntriesMax: 1 },
]) {
  test(`recovers ${count} commands with compaction every ${compactEntriesMax}`, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cleave-pilot-log-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const store = PilotLogStore.open(dataDir, compactEntriesMax);
    const expected = await appendNodes(store, count);
    assert.ok(store.entryCount < compactEntriesMax, 'the log is compacted once it reaches the limit');
    await store.close();

    const reopened = PilotLogStore.open(dataDir, compactEntriesMax);
    t.after(() => reopened.close());
    const recovered = reopened.recover();
    assert.equal(recovered.lastIndex, count);
    assert.deepEqual(recovered.state, expected);
    assert.equal(reopened.entryCount, count % compactEntriesMax);
  });
}

for (const compactEntriesMax of [100, 3]) {
  test(`replica changes, transfers and leader reports recover from the ${compactEntriesMax === 3 ? 'snapshot' : 'log'}`, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cleave-pilot-log-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const commands: PilotCommand[] = [
      registerCommand(1),
      registerCommand(2),
      registerCommand(3),
      { kind: 'bootstrap-keyspace', keyspace: 'default', shardsPerNode: 1, replicas: 2, atMs: 9 },
      { kind: 'change-shard-replicas', shardId: 'shard_0001', action: 'add', nodeId: 'node3', epoch: 1 },
      { kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node2' },
      { kind: 'set-shard-leaders', leaders: [{ shardId: 'shard_0002', nodeId: 'node3', term: 4 }] },
    ];
    const store = PilotLogStore.open(dataDir, compactEntriesMax);
    let expected = INITIAL_PILOT_STATE;
    for (const [i, command] of commands.entries()) {
      expected = applyPilotCommand(expected, command).state;
      await store.append(i + 1, command, expected);
    }
    await store.close();
    const reopened = PilotLogStore.open(dataDir, compactEntriesMax);
    t.after(() => reopened.close());
    const recovered = reopened.recover();
    assert.deepEqual(recovered.state, expected);
    assert.deepEqual(
      recovered.state.shards.map((s) => [s.id, s.epoch, s.leader, s.leaderTerm, s.transferTo, s.replicas.join(',')]),
      [
        ['shard_0001', 2, 'node1', undefined, 'node2', 'node1,node2,node3'],
        ['shard_0002', 1, 'node3', 4, undefined, 'node2,node3'],
        ['shard_0003', 1, 'node3', undefined, undefined, 'node3,node1'],
      ],
    );
  });
}
