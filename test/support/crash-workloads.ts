/**
 * The write streams the crash tests interrupt, and what must hold after the crash: run in a child process
 * killed with SIGKILL on real LMDB, and on the simulation's fake LMDB crashed at a virtual instant. A
 * round is durable once the commit after it resolved.
 */
import assert from 'node:assert/strict';
import type { NodeStore } from '../../src/storage/node-store.js';
import type { ShardData, StoredValue } from '../../src/storage/types.js';

// --- one shard: rounds of new keys ----------------------------------------------------------------------

export const SHARD_CRASH_ID = 'crash';
export const KEYS_PER_ROUND = 50;

function shardRoundValue(round: number): StoredValue {
  return { type: 'string', value: Buffer.from(String(round)), expireAtMs: round % 2 ? 1e12 : 0 };
}

/** Round `round`: KEYS_PER_ROUND new keys, and every 7th round a delete of the previous round's key 0. */
export function writeShardRound(shard: ShardData, round: number): void {
  for (let i = 0; i < KEYS_PER_ROUND; i++) shard.put(Buffer.from(`r${round}-${i}`), shardRoundValue(round));
  if (round % 7 === 3) shard.delete(Buffer.from(`r${round - 1}-0`));
}

/** Every round up to `lastDurableRound` survived whole, the first missing round is missing whole, counters match. */
export function checkShardRounds(shard: ShardData, lastDurableRound: number): void {
  const stored = (round: number, i: number) => shard.get(Buffer.from(`r${round}-${i}`));
  // Key 1 of a round is never deleted: it tells whether the round's commit landed.
  const landed = (round: number): boolean => stored(round, 1) !== undefined;
  let round = 0;
  for (; landed(round); round++) {
    for (let i = 1; i < KEYS_PER_ROUND; i++) assert.deepEqual(stored(round, i), shardRoundValue(round), `r${round}-${i}`);
    const deletedByNext = (round + 1) % 7 === 3 && landed(round + 1);
    assert.deepEqual(stored(round, 0), deletedByNext ? undefined : shardRoundValue(round), `r${round}-0`);
  }
  assert.ok(round > lastDurableRound, `round ${round} is missing though reported durable (up to ${lastDurableRound})`);
  for (let i = 0; i < KEYS_PER_ROUND; i++) assert.equal(stored(round, i), undefined, 'the first missing round is missing whole');
  assert.equal(landed(round + 1), false);
  // The counters were committed with the data they count.
  assert.equal(shard.keyCount, shard.scan(0, 16384, undefined, 1_000_000).length);
}

// --- Raft groups and their shards: rounds of entries, hard state, applied data and compaction ------------

export const RAFT_CRASH_GROUPS = ['a', 'b', 'c', 'd'];
export const ENTRIES_PER_ROUND = 3;
export const RAFT_CRASH_LOG_OPTIONS = { tailCacheBytesMax: 2048, compactBatchEntriesMax: 16 };

/** Opens every group's log and shard; bootstraps the logs of a new store. */
export function openRaftCrashGroups(store: NodeStore): void {
  for (const id of RAFT_CRASH_GROUPS) {
    store.openShard(id);
    store.openRaftLog(id, RAFT_CRASH_LOG_OPTIONS).bootstrap([1]);
  }
}

/**
 * Round `round`, in every group: a new leader term every 4th round that overwrites the last (uncommitted)
 * entry, else plain appends; commit all but the last entry; apply the committed entries into the shard of
 * the same id (key `e<index>` → term) with the applied index; compact now and then. The caller commits.
 */
export function writeRaftRound(store: NodeStore, round: number): void {
  const term = 1 + Math.floor((round + 1) / 4);
  for (const id of RAFT_CRASH_GROUPS) {
    const log = store.openRaftLog(id, RAFT_CRASH_LOG_OPTIONS);
    const shard = store.openShard(id);
    const start = round % 4 === 3 ? log.lastIndex() : log.lastIndex() + 1;
    const entries = Array.from({ length: ENTRIES_PER_ROUND }, (_, i) => ({
      index: start + i,
      term,
      type: 'normal' as const,
      data: new Uint8Array(100).fill(round % 256),
    }));
    log.append(entries);
    const commit = log.lastIndex() - 1;
    log.setHardState({ term, vote: 1, commit });
    for (let index = log.appliedIndex() + 1; index <= commit; index++) {
      shard.put(Buffer.from(`e${index}`), { type: 'string', value: Buffer.from(String(log.term(index))), expireAtMs: 0 });
    }
    log.setApplied(commit);
    if (round % 10 === 9) log.compact(commit - 5, { voters: [1], learners: [] });
  }
}

/** The last index of every group after `round` (the same arithmetic as writeRaftRound's). */
function lastIndexAfter(round: number): number {
  let last = 1;
  for (let r = 0; r <= round; r++) last = (r % 4 === 3 ? last - 1 : last) + ENTRIES_PER_ROUND;
  return last;
}

/** Every group and shard is at one committed round, at or past `lastDurableRound`, with data and applied index together. */
export function checkRaftRounds(store: NodeStore, lastDurableRound: number): void {
  assert.deepEqual(store.raftGroupIds(), RAFT_CRASH_GROUPS);
  const lastIndexes = new Set<number>();
  for (const id of RAFT_CRASH_GROUPS) {
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
}
