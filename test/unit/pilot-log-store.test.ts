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
