/**
 * A committed pilot log entry this version cannot decode (written by another version, or corrupt) is
 * refused: the replica logs the entry's index and the reason, stops serving and answers requests with
 * that reason, and the process stays up, rather than exiting and failing on the same entry at every restart.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPilot, type RunningPilot } from '../../src/pilot/server.js';
import { PILOT_GROUP_ID } from '../../src/pilot/state-driver.js';
import { NodeStore } from '../../src/storage/node-store.js';

const CLUSTER_SECRET = 'pilot-refused-entry-secret';

async function start(t: TestContext, dataDir: string, logs?: Record<string, unknown>[]): Promise<RunningPilot> {
  const logger = logs === undefined ? pino({ level: 'silent' }) : pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const pilot = await startPilot({ host: '127.0.0.1', port: 0, dataDir, expectNodes: 3, clusterSecret: CLUSTER_SECRET, logger });
  t.after(() => pilot.close());
  return pilot;
}

/** Appends a committed, unapplied entry holding `data` to the pilot group's log in `dataDir`; returns its index. */
async function appendCommitted(dataDir: string, data: string): Promise<number> {
  const store = NodeStore.open(join(dataDir, 'raft'), { databasesMax: 4 });
  try {
    const log = store.openRaftLog(PILOT_GROUP_ID);
    const hardState = log.getHardState();
    const index = log.lastIndex() + 1;
    log.append([{ term: hardState.term, index, type: 'normal', data: new TextEncoder().encode(data) }]);
    log.setHardState({ ...hardState, commit: index });
    await store.commitAll();
    return index;
  } finally {
    await store.close();
  }
}

test('a committed pilot entry of an unknown command kind is refused with its index, and the pilot stays up answering why', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cleave-pilot-refused-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await start(t, dataDir);
  await first.close();
  const badIndex = await appendCommitted(dataDir, JSON.stringify({ kind: 'rebalance-keyspace', keyspace: 'default' }));

  const exits: unknown[] = [];
  t.mock.method(process, 'exit', (code?: number) => void exits.push(code));
  const logs: Record<string, unknown>[] = [];
  const pilot = await start(t, dataDir, logs);
  assert.deepEqual(exits, [], 'the process does not exit');
  const refusal = logs.find((l) => l.level === 50 && l.index === badIndex);
  assert.ok(refusal !== undefined, `an error names entry ${badIndex}: ${JSON.stringify(logs.filter((l) => (l.level as number) >= 50))}`);
  assert.match(String(refusal.msg), /unknown command kind 'rebalance-keyspace'/);

  const response = await fetch(`${pilot.url}/api/v1/internal/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cleave-secret': CLUSTER_SECRET },
    body: JSON.stringify({ host: '127.0.0.1', port: 7000, bus_port: 17000, metrics_port: 0, pid: 4000 }),
  });
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(response.status, 503);
  assert.equal(body.error.code, 'no_leader', 'a client asks the other replicas');
  assert.match(body.error.message, new RegExp(`entry ${badIndex}`));
  assert.equal(pilot.pilot.state.routingVersion, 0, 'the state is as of the last entry applied');
});
