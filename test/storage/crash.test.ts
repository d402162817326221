import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStore } from '../../src/storage/node-store.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore } from '../sim/sim-store.js';
import { runUntilKilled } from '../support/crash-child.js';
import { checkShardRounds, SHARD_CRASH_ID, writeShardRound } from '../support/crash-workloads.js';
import { seededRandom } from '../support/seeded-random.js';

/** Rounds the child must report durable before it is killed. */
const ROUNDS_BEFORE_KILL = 30;
const CHILD_TIMEOUT_MS = 20_000;

/**
 * The child writes rounds (see writeShardRound), one commit per round, and prints each round once its
 * commit resolved. It never stops by itself: the test kills it with SIGKILL.
 */
const CHILD_SOURCE = `
const [storeUrl, workloadUrl, dir] = process.argv.slice(1);
const { NodeStore } = await import(storeUrl);
const { SHARD_CRASH_ID, writeShardRound } = await import(workloadUrl);
const shard = NodeStore.open(dir).openShard(SHARD_CRASH_ID);
for (let round = 0; ; round++) {
  writeShardRound(shard, round);
  await shard.commit();
  process.stdout.write(round + '\\n');
}
`;

test('every commit that resolved survives SIGKILL; no commit is half there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-storage-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storeUrl = new URL('../../src/storage/node-store.js', import.meta.url).href;
  const workloadUrl = new URL('../support/crash-workloads.js', import.meta.url).href;
  const lastDurableRound = await runUntilKilled(CHILD_SOURCE, [storeUrl, workloadUrl, dir], ROUNDS_BEFORE_KILL, CHILD_TIMEOUT_MS);

  const store = NodeStore.open(dir);
  t.after(() => store.close());
  checkShardRounds(store.openShard(SHARD_CRASH_ID), lastDurableRound);
});

test('every commit that resolved survives a crash of the fake LMDB; no commit is half there', async () => {
  let crashesInFlight = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const random = seededRandom(seed);
    const scheduler = new Scheduler();
    const disk = openSimStore({ timers: scheduler, fsyncDelayMs: () => 1 + Math.floor(random() * 5) });
    const shard = disk.store.openShard(SHARD_CRASH_ID);
    let lastDurableRound = -1;
    // Rounds overlap: a round's commit starts before the previous one landed, so several are in flight.
    const rounds = ROUNDS_BEFORE_KILL + Math.floor(random() * 10);
    for (let round = 0; round < rounds; round++) {
      writeShardRound(shard, round);
      void shard.commit().then(() => (lastDurableRound = round));
      await scheduler.runUntil(scheduler.now() + Math.floor(random() * 3));
    }
    if (disk.environment.transactionsInFlight > 0) crashesInFlight++;
    const image = disk.crash();
    checkShardRounds(openSimStore({ timers: scheduler, image }).store.openShard(SHARD_CRASH_ID), lastDurableRound);
  }
  assert.ok(crashesInFlight >= 5, `only ${crashesInFlight} of 10 crashes dropped a transaction`);
});
