import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStore } from '../../src/storage/node-store.js';
import { runUntilKilled } from '../support/crash-child.js';

const KEYS_PER_ROUND = 50;
/** Rounds the child must report durable before it is killed. */
const ROUNDS_BEFORE_KILL = 30;
const CHILD_TIMEOUT_MS = 20_000;

/**
 * The child writes rounds of KEYS_PER_ROUND new keys, one commit per round, and prints each round once
 * its commit resolved. It never stops by itself: the test kills it with SIGKILL.
 */
const CHILD_SOURCE = `
const [storeUrl, dir, keysPerRound] = process.argv.slice(1);
const { NodeStore } = await import(storeUrl);
const shard = NodeStore.open(dir).openShard('crash');
for (let round = 0; ; round++) {
  for (let i = 0; i < Number(keysPerRound); i++) {
    shard.put(Buffer.from('r' + round + '-' + i), { type: 'string', value: Buffer.from(String(round)), expireAtMs: round % 2 ? 1e12 : 0 });
  }
  if (round % 7 === 3) shard.delete(Buffer.from('r' + (round - 1) + '-0'));
  await shard.commit();
  process.stdout.write(round + '\\n');
}
`;

test('every commit that resolved survives SIGKILL; no commit is half there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-storage-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storeUrl = new URL('../../src/storage/node-store.js', import.meta.url).href;
  const lastDurableRound = await runUntilKilled(CHILD_SOURCE, [storeUrl, dir, String(KEYS_PER_ROUND)], ROUNDS_BEFORE_KILL, CHILD_TIMEOUT_MS);

  const store = NodeStore.open(dir);
  t.after(() => store.close());
  const shard = store.openShard('crash');
  const expected = (round: number) => ({ type: 'string', value: Buffer.from(String(round)), expireAtMs: round % 2 ? 1e12 : 0 });
  const stored = (round: number, i: number) => shard.get(Buffer.from(`r${round}-${i}`));
  // Key 1 of a round is never deleted: it tells whether the round's commit landed.
  const landed = (round: number): boolean => stored(round, 1) !== undefined;
  let round = 0;
  for (; landed(round); round++) {
    for (let i = 1; i < KEYS_PER_ROUND; i++) assert.deepEqual(stored(round, i), expected(round), `r${round}-${i}`);
    const deletedByNext = (round + 1) % 7 === 3 && landed(round + 1);
    assert.deepEqual(stored(round, 0), deletedByNext ? undefined : expected(round), `r${round}-0`);
  }
  assert.ok(round > lastDurableRound, `round ${round} is missing though reported durable (up to ${lastDurableRound})`);
  for (let i = 0; i < KEYS_PER_ROUND; i++) assert.equal(stored(round, i), undefined, 'the first missing round is missing whole');
  assert.equal(landed(round + 1), false);
  // The counters were committed with the data they count.
  assert.equal(shard.keyCount, shard.scan(0, 16384, undefined, 1_000_000).length);
});
