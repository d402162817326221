import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRaftStorage, type ConfState, type Entry, type RaftLogStorage } from '../../src/raft/index.js';
import type { NodeStore } from '../../src/storage/node-store.js';
import { raftLogDbName } from '../../src/storage/raft-group-ids.js';
import { decodeIndexKey } from '../../src/storage/raft-log-encoding.js';
import type { LmdbRaftLogStorage, RaftLogOptions } from '../../src/storage/raft-log-store.js';
import { seededRandom } from '../support/raft-network.js';
import { testOnEachBackend, type StoreBackend, type StoreDisk } from '../support/store-backends.js';

/** A fresh disk; `open()` opens a store on it. Stores are closed, then the disk removed, after the test. */
function fixture(t: TestContext, backend: StoreBackend): StoreDisk {
  return backend.disk(t, { mapBytes: 256 * 1024 ** 2, databasesMax: 64 });
}

const VOTERS: ConfState = { voters: [1, 2, 3], learners: [] };

/** Entries from `first` on, one per term given, each carrying `first-index` text so contents are checked too. */
function entries(first: number, terms: readonly number[], payloadBytes = 0): Entry[] {
  return terms.map((term, i) => {
    const text = `${first + i}@${term}`.padEnd(payloadBytes, '.');
    return { index: first + i, term, type: (first + i) % 5 === 0 ? 'confChange' : 'normal', data: new TextEncoder().encode(text) };
  });
}

/** Entries as comparable plain tuples. */
function plain(found: readonly Entry[] | string): unknown {
  return typeof found === 'string' ? found : found.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString()]);
}

function bootstrapped(store: NodeStore, groupId = 'g', options: RaftLogOptions = {}): LmdbRaftLogStorage {
  const log = store.openRaftLog(groupId, options);
  log.bootstrap(VOTERS.voters);
  return log;
}

testOnEachBackend('append replaces a conflicting suffix and skips compacted entries, as MemoryRaftStorage does', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const log = bootstrapped(store);
  log.append(entries(2, [1, 1, 1, 1]));
  assert.deepEqual([log.firstIndex(), log.lastIndex()], [2, 5]);
  await store.commitAll();
  log.append(entries(4, [2, 2, 2]));
  assert.deepEqual(plain(log.entries(2, 7, Infinity)), plain([...entries(2, [1, 1]), ...entries(4, [2, 2, 2])]));
  // Shorter than before: the stored suffix past the new last entry must not come back.
  log.append(entries(3, [3]));
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.term(4), 'unavailable');
  assert.throws(() => log.append(entries(9, [3])), /gap/);
  log.append(entries(1, [1, 1, 3]));
  assert.equal(log.lastIndex(), 3, 'entries at or below the compaction point are skipped');
  await store.close();
  const reopened = open().openRaftLog('g');
  assert.deepEqual(plain(reopened.entries(2, 4, Infinity)), plain([...entries(2, [1]), ...entries(3, [3])]));
  assert.equal(reopened.term(4), 'unavailable');
});

testOnEachBackend('term(), entries() and their errors at the boundaries of the kept log', async (t, backend) => {
  const store = fixture(t, backend).open();
  const log = bootstrapped(store);
  log.append(entries(2, [1, 2, 2, 3, 3]));
  log.setHardState({ term: 3, vote: 1, commit: 6 });
  log.setApplied(5);
  await store.commitAll();
  assert.equal(log.compact(3, VOTERS), 'ok');
  assert.equal(log.compact(3, VOTERS), 'compacted');
  assert.equal(log.compact(2, VOTERS), 'compacted');
  assert.throws(() => log.compact(6, VOTERS), /past applied/);
  assert.equal(log.term(2), 'compacted');
  assert.equal(log.term(3), 2, 'the term just before the first entry is kept');
  assert.equal(log.term(6), 3);
  assert.equal(log.term(7), 'unavailable');
  assert.equal(log.entries(3, 5, Infinity), 'compacted');
  assert.deepEqual(plain(log.entries(4, 7, Infinity)), plain(entries(4, [2, 3, 3])));
  assert.deepEqual(plain(log.entries(5, 5, Infinity)), []);
  assert.throws(() => log.entries(4, 8, Infinity), /past last index/);
});

testOnEachBackend('entries() stops at the size limit but returns at least one entry, from cache and from disk alike', async (t, backend) => {
  const store = fixture(t, backend).open();
  // A cache of ~2 entries: most reads go to LMDB.
  const log = bootstrapped(store, 'g', { tailCacheBytesMax: 250 });
  const all = entries(
    2,
    Array.from({ length: 20 }, () => 1),
    100,
  );
  log.append(all);
  // Applied entries leave the cache; unapplied ones stay.
  log.setHardState({ term: 1, vote: 0, commit: 21 });
  log.setApplied(21);
  await store.commitAll();
  log.append(entries(22, [1], 100));
  assert.ok(log.cachedBytes <= 250 + 116, `cache holds ${log.cachedBytes} bytes`);
  const entryBytes = 116;
  for (const lo of [2, 12, 20]) {
    assert.deepEqual(plain(log.entries(lo, 23, 1)), plain([...all, ...entries(22, [1], 100)].slice(lo - 2, lo - 1)));
    const three = log.entries(lo, 23, 3 * entryBytes + 10);
    assert.ok(typeof three !== 'string');
    assert.deepEqual(
      three.map((e) => e.index),
      [lo, lo + 1, lo + 2],
    );
  }
});

testOnEachBackend('a durable entry stays cached until it is applied, so applying it does not read it back from LMDB', async (t, backend) => {
  const store = fixture(t, backend).open();
  const log = bootstrapped(store, 'g', { tailCacheBytesMax: 0 });
  const [large, next] = entries(2, [1, 1], 1024 * 1024);
  log.append([large!, next!]);
  await store.commitAll();
  log.setHardState({ term: 1, vote: 0, commit: 3 });
  const [cached] = log.entries(2, 3, Infinity) as Entry[];
  assert.equal(cached, large, 'served from memory, not read back from LMDB');
  assert.ok(log.cachedBytes >= 2 * 1024 * 1024);
  log.setApplied(2);
  await store.commitAll();
  const [reread] = log.entries(2, 3, Infinity) as Entry[];
  assert.notEqual(reread, large, 'once applied it leaves the cache');
  assert.deepEqual(plain([reread!]), plain([large!]));
  assert.equal((log.entries(3, 4, Infinity) as Entry[])[0], next, 'the unapplied one stays');
});

testOnEachBackend('a snapshot replaces the log; state survives a reopen', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const log = bootstrapped(store);
  log.append(entries(2, [1, 1, 2]));
  await store.commitAll();
  const confState: ConfState = { voters: [1, 2], learners: [3] };
  assert.equal(log.applySnapshot({ metadata: { index: 1, term: 1, confState }, data: new Uint8Array() }), 'outOfDate');
  assert.equal(log.applySnapshot({ metadata: { index: 10, term: 4, confState }, data: new Uint8Array() }), 'ok');
  log.setHardState({ term: 4, vote: 0, commit: 10 });
  assert.deepEqual([log.firstIndex(), log.lastIndex(), log.term(10), log.appliedIndex()], [11, 10, 4, 10]);
  assert.equal(log.entries(10, 11, Infinity), 'compacted');
  log.append(entries(11, [4, 4]));
  await store.commitAll();
  await log.compacted();
  await store.close();

  const reopened = open().openRaftLog('g');
  assert.deepEqual(reopened.initialState(), { hardState: { term: 4, vote: 0, commit: 10 }, confState });
  assert.deepEqual([reopened.firstIndex(), reopened.lastIndex(), reopened.appliedIndex()], [11, 12, 10]);
  assert.deepEqual(plain(reopened.entries(11, 13, Infinity)), plain(entries(11, [4, 4])));
});

testOnEachBackend('writes reach disk only at commit; the snapshot source answers for the leader', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const log = bootstrapped(store);
  assert.equal(log.snapshot(), 'temporarilyUnavailable');
  log.setSnapshotSource(() => ({ metadata: { index: 1, term: 1, confState: VOTERS }, data: new Uint8Array([7]) }));
  assert.deepEqual((log.snapshot() as { data: Uint8Array }).data, new Uint8Array([7]));
  log.append(entries(2, [1]));
  await store.commitAll();
  log.append(entries(3, [1, 1]));
  log.setHardState({ term: 1, vote: 0, commit: 4 });
  log.setApplied(4);
  assert.equal(log.compact(4, VOTERS), 'ok');
  assert.throws(() => log.snapshot(), /older than the compaction point/);
  // Dropping the group (as its shard is dropped) discards what was not committed.
  await store.dropShard('g');
  assert.throws(() => log.term(2), /was dropped/);
  await assert.rejects(log.commit(), /was dropped/);
  assert.deepEqual(store.raftGroupIds(), []);
  const again = store.openRaftLog('g');
  assert.deepEqual([again.firstIndex(), again.lastIndex(), again.getHardState().term], [1, 0, 0]);
  assert.deepEqual(store.raftGroupIds(), ['g']);
});

testOnEachBackend('compaction deletes entries in the background in small batches, and resumes after a reopen', async (t, backend) => {
  const { open, storedKeys } = fixture(t, backend);
  const store = open();
  const log = bootstrapped(store, 'g', { compactBatchEntriesMax: 7 });
  log.append(
    entries(
      2,
      Array.from({ length: 99 }, () => 1),
    ),
  );
  log.setHardState({ term: 1, vote: 0, commit: 100 });
  log.setApplied(100);
  await store.commitAll();
  assert.equal(log.compact(60, VOTERS), 'ok');
  await store.commitAll();
  await log.compacted();
  // Close with a deletion pending: the reopened log finishes it.
  assert.equal(log.compact(90, VOTERS), 'ok');
  await store.close();
  const reopenedStore = open();
  const reopened = reopenedStore.openRaftLog('g', { compactBatchEntriesMax: 7 });
  await reopened.compacted();
  assert.deepEqual([reopened.firstIndex(), reopened.lastIndex(), reopened.term(90)], [91, 100, 1]);
  await reopenedStore.close();
  // What is left on disk is exactly the kept log.
  const stored = await storedKeys(raftLogDbName('g'));
  assert.deepEqual(
    stored.map(decodeIndexKey),
    Array.from({ length: 10 }, (_, i) => 91 + i),
  );
});

testOnEachBackend('commitAll makes log, hard state, shard data and applied index of several groups durable together', async (t, backend) => {
  const { open } = fixture(t, backend);
  const store = open();
  const groups = ['a', 'b', 'c'].map((id) => bootstrapped(store, id));
  const shard = store.openShard('a');
  groups.forEach((log, i) => {
    log.append(entries(2, [1, 1 + i]));
    log.setHardState({ term: 1 + i, vote: 1, commit: 3 });
    log.setApplied(3);
  });
  shard.put(Buffer.from('k'), { type: 'string', value: Buffer.from('v'), expireAtMs: 0 });
  await store.commitAll();
  await store.close();
  const reopened = open();
  assert.deepEqual(reopened.raftGroupIds(), ['a', 'b', 'c']);
  for (const [i, id] of ['a', 'b', 'c'].entries()) {
    const log = reopened.openRaftLog(id);
    assert.deepEqual(log.getHardState(), { term: 1 + i, vote: 1, commit: 3 });
    assert.deepEqual([log.appliedIndex(), log.term(3)], [3, 1 + i]);
  }
  assert.equal(reopened.openShard('a').keyCount, 1);
});

/**
 * The property test: random appends (with conflicts), hard states, compactions, snapshots, commits and
 * reopens, run on MemoryRaftStorage (the reference) and on LMDB with a tiny cache; every read must agree.
 */
for (const seed of [1, 2, 3, 4, 5, 6]) {
  testOnEachBackend(`agrees with MemoryRaftStorage on every read (seed ${seed})`, async (t, backend) => {
    const random = seededRandom(seed);
    const pick = (n: number): number => Math.floor(random() * n);
    const { open } = fixture(t, backend);
    let store = open();
    const options: RaftLogOptions = { tailCacheBytesMax: 300, compactBatchEntriesMax: 5 };
    let log = bootstrapped(store, 'g', options);
    const model = MemoryRaftStorage.bootstrap(VOTERS.voters);
    let term = 1;
    let applied = 1;
    for (let step = 0; step < 400; step++) {
      const roll = random();
      if (roll < 0.5) {
        // Never overwrite committed entries; sometimes a new leader cuts a suffix.
        const from = Math.max(model.firstIndex(), model.getHardState().commit + 1);
        const start = from + pick(model.lastIndex() + 2 - from);
        if (random() < 0.3) term++;
        const previousTerm = model.term(start - 1) as number;
        const batch = entries(
          start,
          Array.from({ length: 1 + pick(6) }, () => Math.max(term, previousTerm)),
          pick(120),
        );
        model.append(batch);
        log.append(batch);
      } else if (roll < 0.65) {
        const commit = model.getHardState().commit + pick(model.lastIndex() - model.getHardState().commit + 1);
        const hardState = { term: Math.max(term, model.getHardState().term), vote: pick(4), commit };
        model.setHardState(hardState);
        log.setHardState(hardState);
        applied = Math.max(applied, commit - pick(3));
        log.setApplied(applied);
      } else if (roll < 0.72 && applied > model.firstIndex()) {
        const index = model.firstIndex() + pick(applied - model.firstIndex() + 1);
        assert.equal(model.createSnapshot(index, VOTERS, new Uint8Array()), 'ok');
        assert.equal(model.compact(index), 'ok');
        assert.equal(log.compact(index, VOTERS), 'ok');
      } else if (roll < 0.75) {
        term++;
        const index = model.lastIndex() + pick(5) - 2;
        const snapshot = { metadata: { index, term, confState: VOTERS }, data: new Uint8Array() };
        const result = model.applySnapshot(snapshot);
        assert.equal(log.applySnapshot(snapshot), result);
        if (result === 'ok') {
          const hardState = { term, vote: 0, commit: index };
          model.setHardState(hardState);
          log.setHardState(hardState);
          applied = index;
        }
      } else if (roll < 0.95) {
        await store.commitAll();
      } else {
        await store.close();
        store = open();
        log = store.openRaftLog('g', options);
      }
      assertSame(log, model, step);
      assert.equal(log.appliedIndex(), applied);
    }
    await store.commitAll();
    await log.compacted();
  });
}

function assertSame(log: RaftLogStorage, model: MemoryRaftStorage, step: number): void {
  const at = `step ${step}`;
  assert.deepEqual([log.firstIndex(), log.lastIndex()], [model.firstIndex(), model.lastIndex()], at);
  assert.deepEqual(log.initialState(), model.initialState(), at);
  for (let i = model.firstIndex() - 2; i <= model.lastIndex() + 1; i++) assert.equal(log.term(i), model.term(i), `${at}: term(${i})`);
  for (const lo of [model.firstIndex() - 1, model.firstIndex(), Math.max(model.firstIndex(), model.lastIndex() - 3)]) {
    for (const maxSizeBytes of [0, 200, Infinity]) {
      const hi = model.lastIndex() + 1;
      if (lo > hi) continue;
      assert.deepEqual(plain(log.entries(lo, hi, maxSizeBytes)), plain(model.entries(lo, hi, maxSizeBytes)), `${at}: entries(${lo}, ${hi}, ${maxSizeBytes})`);
    }
  }
}
