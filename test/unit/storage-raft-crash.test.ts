import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStore } from '../../src/storage/node-store.js';
import { runUntilKilled } from '../support/crash-child.js';

const GROUPS = ['a', 'b', 'c', 'd'];
const ENTRIES_PER_ROUND = 3;
/** Rounds the child must report durable before it is killed. */
const ROUNDS_BEFORE_KILL = 40;
const CHILD_TIMEOUT_MS = 20_000;

/**
 * Every round, in every group: a new leader term every 4th round that overwrites the last (uncommitted)
 * entry, else plain appends; commit all but the last entry; apply the committed entries into the shard of
 * the same id (key `e<index>` → term) with the applied index; compact now and then. One commitAll per
 * round, then the round is printed. It never stops by itself: the test kills it with SIGKILL.
 */
const CHILD_SOURCE = `
const [storeUrl, dir, groupsJson, perRound] = process.argv.slice(1);
const { NodeStore } = await import(storeUrl);
const store = NodeStore.open(dir);
const groups = JSON.parse(groupsJson).map((id) => ({ log: store.openRaftLog(id, { tailCacheBytesMax: 2048, compactBatchEntriesMax: 16 }), shard: store.openShard(id) }));
for (const { log } of groups) log.bootstrap([1]);
for (let round = 0; ; round++) {
  const term = 1 + Math.floor((round + 1) / 4);
  for (const { log, shard } of groups) {
    const start = round % 4 === 3 ? log.lastIndex() : log.lastIndex() + 1;
    const entries = [];
    for (let i = 0; i < Number(perRound); i++) {
      entries.push({ index: start + i, term, type: 'normal', data: new Uint8Array(100).fill(round % 256) });
    }
    log.append(entries);
    const commit = log.lastIndex() - 1;
    log.setHardState({ term, vote: 1, commit });
    for (let index = log.appliedIndex() + 1; index <= commit; index++) {
      shard.put(Buffer.from('e' + index), { type: 'string', value: Buffer.from(String(log.term(index))), expireAtMs: 0 });
    }
    log.setApplied(commit);
    if (round % 10 === 9) log.compact(commit - 5, { voters: [1], learners: [] });
  }
  await store.commitAll();
  process.stdout.write(round + '\\n');
}
`;

/** The last index of every group after `round` (the same arithmetic as the child's). */
function lastIndexAfter(round: number): number {
  let last = 1;
  for (let r = 0; r <= round; r++) last = (r % 4 === 3 ? last - 1 : last) + ENTRIES_PER_ROUND;
  return last;
}

test('after SIGKILL every group and shard is at one committed round, at or past the last one reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-raft-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storeUrl = new URL('../../src/storage/node-store.js', import.meta.url).href;
  const lastDurableRound = await runUntilKilled(CHILD_SOURCE, [storeUrl, dir, JSON.stringify(GROUPS), String(ENTRIES_PER_ROUND)], ROUNDS_BEFORE_KILL, CHILD_TIMEOUT_MS);

  const store = NodeStore.open(dir);
  t.after(() => store.close());
  assert.deepEqual(store.raftGroupIds(), GROUPS);
  const lastIndexes = new Set<number>();
  for (const id of GROUPS) {
    const log = store.openRaftLog(id);
    const shard = store.openShard(id);
    const last = log.lastIndex();
    lastIndexes.add(last);
    // Entries and the hard state that counts them committed landed together.
    const { hardState } = log.initialState();
    assert.equal(hardState.commit, last - 1, `group ${id}: commit ${hardState.commit}, last ${last}`);
    // Applied data and the applied index landed together: every applied entry's key, none beyond.
    assert.equal(log.appliedIndex(), hardState.commit);
    assert.equal(shard.keyCount, log.appliedIndex() - 1, `group ${id}: keys for entries 2..applied`);
    assert.equal(shard.get(Buffer.from(`e${log.appliedIndex() + 1}`)), undefined);
    const kept = log.entries(log.firstIndex(), last + 1, Infinity);
    assert.ok(typeof kept !== 'string');
    assert.equal(kept.length, last - log.firstIndex() + 1);
    for (const entry of kept) {
      if (entry.index > log.appliedIndex()) continue;
      assert.deepEqual(shard.get(Buffer.from(`e${entry.index}`)), {
        type: 'string',
        value: Buffer.from(String(entry.term)),
        expireAtMs: 0,
      });
    }
  }
  // One transaction per round for all groups: a crash cannot leave them at different rounds.
  assert.equal(lastIndexes.size, 1, `groups recovered at different last indexes ${[...lastIndexes].join(', ')}`);
  const [recoveredLast] = lastIndexes;
  let round = 0;
  while (lastIndexAfter(round) < recoveredLast!) round++;
  assert.equal(lastIndexAfter(round), recoveredLast, 'the recovered log ends where a round ended');
  assert.ok(round >= lastDurableRound, `recovered round ${round} is older than reported round ${lastDurableRound}`);
});
