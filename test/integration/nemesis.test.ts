/**
 * The nemesis inside the suite: a 60-second run on a fixed seed with every fault three nodes allow (replica
 * moves need a fourth). Timeouts are generous (a loaded machine makes elections and splits slow) but the
 * verdict is strict: no anomaly, and faults and operations really happened.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_KINDS } from '../nemesis/faults.js';
import { runNemesis } from '../nemesis/run.js';

const SEED = 20261206;
const SUITE_FAULTS = new Set(FAULT_KINDS);

describe('nemesis', () => {
  it('60 s of kills, pauses, partitions, pilot kills, splits and leader transfers under load: no anomaly', { timeout: 900_000 }, async () => {
    const result = await runNemesis({ seconds: 60, faults: SUITE_FAULTS, seed: SEED, nodes: 3 });
    console.log(result.summary);
    const log = `${result.summary}\n${result.events.map((e) => `${e.atMs} ${e.kind} ${e.phase} ${e.detail}`).join('\n')}\nreplay: ${result.replay}`;
    assert.deepEqual(result.anomalies, [], log);
    const injected = Object.values(result.faults).reduce((a, b) => a + b, 0);
    assert.ok(injected > 0, `no fault was injected\n${log}`);
    const kinds = [...SUITE_FAULTS].filter((k) => result.faults[k] > 0);
    assert.ok(kinds.length >= 3, `only ${kinds.join(', ')} were injected\n${log}`);
    assert.ok(result.outcomes.ok > 0, `no operation succeeded\n${log}`);
  });
});
