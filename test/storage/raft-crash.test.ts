import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStore } from '../../src/storage/node-store.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore } from '../sim/sim-store.js';
import { runUntilKilled } from '../support/crash-child.js';
import { checkRaftRounds, openRaftCrashGroups, writeRaftRound } from '../support/crash-workloads.js';
import { seededRandom } from '../support/seeded-random.js';

/** Rounds the child must report durable before it is killed. */
const ROUNDS_BEFORE_KILL = 40;
const CHILD_TIMEOUT_MS = 20_000;

/**
 * The child writes rounds in every group (see writeRaftRound), one commitAll per round, then prints the
 * round. It never stops by itself: the test kills it with SIGKILL.
 */
const CHILD_SOURCE = `
const [storeUrl, workloadUrl, dir] = process.argv.slice(1);
const { NodeStore } = await import(storeUrl);
const { openRaftCrashGroups, writeRaftRound } = await import(workloadUrl);
const store = NodeStore.open(dir);
openRaftCrashGroups(store);
for (let round = 0; ; round++) {
  writeRaftRound(store, round);
  await store.commitAll();
  process.stdout.write(round + '\\n');
}
`;

test('after SIGKILL every group and shard is at one committed round, at or past the last one reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-raft-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storeUrl = new URL('../../src/storage/node-store.js', import.meta.url).href;
  const workloadUrl = new URL('../support/crash-workloads.js', import.meta.url).href;
  const lastDurableRound = await runUntilKilled(CHILD_SOURCE, [storeUrl, workloadUrl, dir], ROUNDS_BEFORE_KILL, CHILD_TIMEOUT_MS);

  const store = NodeStore.open(dir);
  t.after(() => store.close());
  checkRaftRounds(store, lastDurableRound);
});

test('after a crash of the fake LMDB every group and shard is at one committed round, at or past the last one resolved', async () => {
  let crashesInFlight = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const random = seededRandom(seed);
    const scheduler = new Scheduler();
    const disk = openSimStore({ timers: scheduler, fsyncDelayMs: () => 1 + Math.floor(random() * 5) });
    openRaftCrashGroups(disk.store);
    let lastDurableRound = -1;
    // Rounds overlap: a round's commitAll starts before the previous one landed, so several are in flight.
    const rounds = ROUNDS_BEFORE_KILL + Math.floor(random() * 10);
    for (let round = 0; round < rounds; round++) {
      writeRaftRound(disk.store, round);
      void disk.store.commitAll().then(() => (lastDurableRound = round));
      await scheduler.runUntil(scheduler.now() + Math.floor(random() * 3));
    }
    if (disk.environment.transactionsInFlight > 0) crashesInFlight++;
    const image = disk.crash();
    checkRaftRounds(openSimStore({ timers: scheduler, image }).store, lastDurableRound);
  }
  assert.ok(crashesInFlight >= 5, `only ${crashesInFlight} of 10 crashes dropped a transaction`);
});
