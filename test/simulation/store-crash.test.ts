/**
 * Crashes of the real NodeStore over the simulation's fake LMDB, on virtual time: what survives, what does
 * not, and that the storage classes keep their promises across a crash (as the SIGKILL tests check on
 * a real LMDB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRaftStorage, type ConfState, type Entry, type HardState, type Snapshot } from '../../src/raft/index.js';
import type { LmdbRaftLogStorage } from '../../src/storage/raft-log-store.js';
import type { StoredValue } from '../../src/storage/types.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore, type SimStore } from '../sim/sim-store.js';
import { seededRandom } from '../support/seeded-random.js';
import { settledFlag } from '../support/settled.js';

const VOTERS: ConfState = { voters: [1, 2, 3], learners: [] };
const str = (value: string, expireAtMs = 0): StoredValue => ({ type: 'string', value: Buffer.from(value), expireAtMs });
const read = (value: StoredValue | undefined): string | undefined => (value?.type === 'string' ? value.value.toString() : undefined);
const key = (name: string): Buffer => Buffer.from(name);

/** Entries from `first` on, one per term given, each carrying `index@term` so contents are checked too. */
function entries(first: number, terms: readonly number[], payloadBytes = 0): Entry[] {
  return terms.map((term, i) => ({ index: first + i, term, type: 'normal', data: new TextEncoder().encode(`${first + i}@${term}`.padEnd(payloadBytes, '.')) }));
}

function plain(found: readonly Entry[] | string): unknown {
  return typeof found === 'string' ? found : found.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString()]);
}

/** Runs the scheduler until `promise` settles (commits resolve on virtual time). */
async function runCommit(scheduler: Scheduler, promise: Promise<unknown>): Promise<void> {
  const done = settledFlag(promise);
  for (let i = 0; i < 1_000 && !done(); i++) await scheduler.runUntil(scheduler.now() + 1);
  assert.ok(done(), 'the commit landed');
  await promise;
}

test('shard writes are visible at once, pending until their transaction lands, and lost by a crash before that', async () => {
  const scheduler = new Scheduler();
  const disk = openSimStore({ timers: scheduler, fsyncDelayMs: 5 });
  const shard = disk.store.openShard('s1');
  shard.put(key('a'), str('1'));
  shard.put(key('b'), str('2'));
  assert.equal(read(shard.get(key('a'))), '1');
  assert.equal(shard.isPending(key('a')), true);
  assert.deepEqual(shard.scan(0, 16384, undefined, 10), [], 'scans read LMDB, which has only landed transactions');
  let durableAt: number | undefined;
  void shard.commit().then(() => (durableAt = scheduler.now()));
  shard.put(key('c'), str('3'));
  await scheduler.runUntil(4);
  assert.equal(durableAt, undefined);
  assert.equal(shard.isPending(key('a')), true, 'committed, not yet durable');
  await scheduler.runUntil(10);
  assert.equal(durableAt, 5);
  assert.equal(shard.isPending(key('a')), false);
  assert.equal(shard.isPending(key('c')), true, 'written after the commit: still pending');
  assert.deepEqual(
    shard
      .scan(0, 16384, undefined, 10)
      .map((k) => k.key.toString())
      .sort(),
    ['a', 'b'],
  );
  assert.equal(shard.keyCount, 3);

  const image = disk.crash();
  assert.throws(() => shard.get(key('a')), /LMDB environment crashed/);
  assert.throws(() => disk.store.commitAll(), /LMDB environment crashed/, 'the pending write of c cannot be committed');
  assert.throws(() => disk.store.shardIds(), /LMDB environment crashed/);
  const restarted = openSimStore({ timers: scheduler, image }).store.openShard('s1');
  assert.deepEqual([read(restarted.get(key('a'))), read(restarted.get(key('b'))), read(restarted.get(key('c')))], ['1', '2', undefined]);
  assert.equal(restarted.keyCount, 2);
  assert.equal(restarted.isPending(key('a')), false);
});

test('commits of one synchronous stretch share one transaction; transactions land in order even when a later fsync is faster', async () => {
  const scheduler = new Scheduler();
  const delays = [10, 1, 1];
  const disk = openSimStore({ timers: scheduler, fsyncDelayMs: () => delays.shift()! });
  const a = disk.store.openShard('a');
  const b = disk.store.openShard('b');
  const landed: string[] = [];
  a.put(key('x'), str('1'));
  b.put(key('x'), str('1'));
  void a.commit().then(() => landed.push(`a1@${scheduler.now()}`));
  void b.commit().then(() => landed.push(`b1@${scheduler.now()}`));
  assert.equal(disk.environment.transactionsInFlight, 1);
  await Promise.resolve();
  // A new stretch: a new transaction, whose 1 ms fsync still waits for the first one's 10 ms.
  b.put(key('y'), str('2'));
  void b.commit().then(() => landed.push(`b2@${scheduler.now()}`));
  assert.equal(disk.environment.transactionsInFlight, 2);
  await scheduler.runUntil(9);
  assert.deepEqual(landed, []);
  assert.deepEqual(b.scan(0, 16384, undefined, 10), [], 'the second transaction did not land before the first');
  await scheduler.runUntil(20);
  assert.deepEqual(landed, ['a1@10', 'b1@10', 'b2@10']);
  assert.equal(disk.environment.transactionsInFlight, 0);
  assert.deepEqual(delays, [1], 'two transactions drew a delay');
});

test('commitAll makes log, hard state, applied index and shard data of every group durable together, or none of it', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = seededRandom(seed);
    const scheduler = new Scheduler();
    const disk = openSimStore({ timers: scheduler, fsyncDelayMs: () => 1 + Math.floor(random() * 5) });
    const groups = ['g1', 'g2', 'g3'].map((id) => ({ log: disk.store.openRaftLog(id), shard: disk.store.openShard(id) }));
    for (const { log } of groups) log.bootstrap([1]);
    // Each round appends one entry per group, commits and applies it, and records the round in the data.
    for (let round = 1; round <= 30; round++) {
      for (const { log, shard } of groups) {
        const index = log.lastIndex() + 1;
        log.append(entries(index, [1]));
        log.setHardState({ term: 1, vote: 1, commit: index });
        shard.put(key('round'), str(String(round)));
        log.setApplied(index);
      }
      void disk.store.commitAll();
      await scheduler.runUntil(scheduler.now() + Math.floor(random() * 4));
    }
    await scheduler.runUntil(scheduler.now() + Math.floor(random() * 6));
    const restarted = openSimStore({ timers: scheduler, image: disk.crash() }).store;
    const seen = restarted.raftGroupIds().map((id) => {
      const log = restarted.openRaftLog(id);
      const round = Number(read(restarted.openShard(id).get(key('round'))) ?? 0);
      assert.equal(log.appliedIndex(), 1 + round, `seed ${seed}: group ${id}'s applied index matches its data`);
      assert.equal(log.lastIndex(), log.appliedIndex());
      assert.equal(log.getHardState().commit, log.appliedIndex());
      return round;
    });
    assert.equal(seen.length, 3, `seed ${seed}: every group survives`);
    assert.equal(new Set(seen).size, 1, `seed ${seed}: every group is at the same round (${seen.join(', ')})`);
  }
});

test('a crash drops transactions in flight: their commits never settle, and the image is what had landed', async () => {
  const scheduler = new Scheduler();
  const disk = openSimStore({ timers: scheduler, fsyncDelayMs: 10 });
  const shard = disk.store.openShard('s');
  shard.put(key('durable'), str('1'));
  await runCommit(scheduler, shard.commit());
  shard.put(key('in flight'), str('2'));
  const settled = settledFlag(shard.commit());
  const metaSettled = settledFlag(disk.store.putMeta('routing', { version: 1 }));
  await scheduler.runUntil(scheduler.now() + 5);
  const image = disk.crash();
  await scheduler.runUntil(scheduler.now() + 100);
  assert.equal(settled(), false, 'a commit of a dropped transaction never settles');
  assert.equal(metaSettled(), false);
  assert.equal(scheduler.pendingCount, 0, 'the fsync event was cancelled');
  // One image, two restarts: the first restart's writes do not leak into the image.
  const first = openSimStore({ timers: scheduler, image });
  first.store.openShard('s').put(key('later'), str('3'));
  await runCommit(scheduler, first.store.commitAll());
  const second = openSimStore({ timers: scheduler, image }).store;
  const s = second.openShard('s');
  assert.deepEqual([read(s.get(key('durable'))), s.get(key('in flight')), s.get(key('later'))], ['1', undefined, undefined]);
  assert.equal(second.getMeta('routing'), undefined);
});

test('dropShard removes shard and log together once durable; metadata reads its own writes and survives only once durable', async () => {
  const scheduler = new Scheduler();
  const disk = openSimStore({ timers: scheduler, fsyncDelayMs: 2 });
  const { store } = disk;
  store.openShard('s').put(key('a'), str('1'));
  store.openRaftLog('s').bootstrap([1]);
  store.openShard('t');
  await runCommit(scheduler, store.commitAll());
  const dropped = store.dropShard('s');
  assert.deepEqual(store.shardIds(), ['t']);
  assert.throws(() => store.openShard('s'), /being dropped/);
  // Not landed yet: a crash now brings the shard and its log back whole.
  const beforeDrop = openSimStore({ timers: scheduler, image: disk.environment.landedImage() }).store;
  assert.deepEqual([beforeDrop.shardIds(), beforeDrop.raftGroupIds()], [['s', 't'], ['s']]);
  assert.deepEqual(read(beforeDrop.openShard('s').get(key('a'))), '1');
  assert.equal(beforeDrop.openRaftLog('s').lastIndex(), 1);
  await runCommit(scheduler, dropped);
  assert.deepEqual([store.shardIds(), store.raftGroupIds()], [['t'], []]);
  assert.equal(store.openShard('s').keyCount, 0, 'reopened empty');

  void store.putMeta('routing', { version: 1 });
  const meta = store.getMeta('routing') as { version: number };
  assert.deepEqual(meta, { version: 1 });
  const lost = openSimStore({ timers: scheduler, image: disk.environment.landedImage() }).store;
  assert.equal(lost.getMeta('routing'), undefined, 'not durable yet');
  await scheduler.runUntil(scheduler.now() + 2);
  const landed = openSimStore({ timers: scheduler, image: disk.crash() }).store;
  assert.deepEqual(landed.getMeta('routing'), { version: 1 });
  assert.deepEqual(landed.shardIds(), ['s', 't']);
  assert.equal(landed.openShard('s').keyCount, 0);
});

test('the log: append replaces a conflicting suffix, a snapshot replaces the log, and a restart sees what landed', async () => {
  const scheduler = new Scheduler();
  let disk = openSimStore({ timers: scheduler });
  let log = disk.store.openRaftLog('g');
  log.bootstrap(VOTERS.voters);
  log.append(entries(2, [1, 1, 1, 1]));
  await runCommit(scheduler, log.commit());
  log.append(entries(4, [2, 2]));
  assert.deepEqual(plain(log.entries(2, 6, Infinity)), plain([...entries(2, [1, 1]), ...entries(4, [2, 2])]));
  log.setHardState({ term: 2, vote: 1, commit: 5 });
  await runCommit(scheduler, log.commit());
  // A longer log that is never committed: the restart must not see it.
  log.append(entries(6, [2, 2, 2]));
  disk = openSimStore({ timers: scheduler, image: disk.crash() });
  log = disk.store.openRaftLog('g');
  assert.deepEqual([log.firstIndex(), log.lastIndex(), log.term(5), log.term(6)], [2, 5, 2, 'unavailable']);
  assert.deepEqual(log.getHardState(), { term: 2, vote: 1, commit: 5 });
  // A snapshot behind the last index: the suffix beyond it must not come back after a restart.
  const snapshot: Snapshot = { metadata: { index: 3, term: 3, confState: VOTERS }, data: new Uint8Array() };
  assert.equal(log.applySnapshot(snapshot), 'ok');
  assert.equal(log.applySnapshot(snapshot), 'outOfDate');
  log.setHardState({ term: 3, vote: 0, commit: 3 });
  await runCommit(scheduler, log.commit());
  disk = openSimStore({ timers: scheduler, image: disk.crash() });
  log = disk.store.openRaftLog('g');
  assert.deepEqual([log.firstIndex(), log.lastIndex(), log.appliedIndex(), log.term(3), log.term(2)], [4, 3, 3, 3, 'compacted']);
  assert.equal(log.entries(3, 4, Infinity), 'compacted');
  assert.equal(log.snapshot(), 'temporarilyUnavailable');
});

/**
 * Random appends (with conflicts), hard states, compactions, snapshots, commits and crashes, run on
 * MemoryRaftStorage (the reference) and on the log over the fake; every read must agree. A crash rolls the
 * reference back to the last operation whose commit had landed, by replaying the operations up to it on a
 * fresh reference.
 */
for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`the log agrees with MemoryRaftStorage on every read, across crashes (seed ${seed})`, async () => {
    const random = seededRandom(seed);
    const pick = (n: number): number => Math.floor(random() * n);
    const scheduler = new Scheduler();
    const fsyncDelayMs = (): number => pick(4);
    const options = { tailCacheBytesMax: 300, compactBatchEntriesMax: 5 };
    let disk = openSimStore({ timers: scheduler, fsyncDelayMs });
    let log = disk.store.openRaftLog('g', options);
    log.bootstrap(VOTERS.voters);
    await runCommit(scheduler, log.commit());
    /** Every operation applied to the reference since the start, replayable. */
    type Operation = (model: MemoryRaftStorage) => void;
    const operations: Operation[] = [];
    let durableCount = 0;
    let model = MemoryRaftStorage.bootstrap(VOTERS.voters);
    let term = 1;
    let applied = 1;
    let appliedAt: number[] = [1];
    const run = (operation: Operation): void => {
      operation(model);
      operations.push(operation);
      appliedAt.push(applied);
    };
    let crashes = 0;
    for (let step = 0; step < 500; step++) {
      const roll = random();
      if (roll < 0.45) {
        const from = Math.max(model.firstIndex(), model.getHardState().commit + 1);
        const start = from + pick(model.lastIndex() + 2 - from);
        if (random() < 0.3) term++;
        const previousTerm = model.term(start - 1) as number;
        const batch = entries(
          start,
          Array.from({ length: 1 + pick(6) }, () => Math.max(term, previousTerm)),
          pick(40),
        );
        log.append(batch);
        run((m) => m.append(batch));
      } else if (roll < 0.6) {
        const commit = model.getHardState().commit + pick(model.lastIndex() - model.getHardState().commit + 1);
        const hardState: HardState = { term: Math.max(term, model.getHardState().term), vote: pick(4), commit };
        log.setHardState(hardState);
        applied = Math.max(applied, commit - pick(3));
        log.setApplied(applied);
        run((m) => m.setHardState(hardState));
      } else if (roll < 0.67 && applied > model.firstIndex()) {
        const index = model.firstIndex() + pick(applied - model.firstIndex() + 1);
        assert.equal(log.compact(index, VOTERS), 'ok');
        run((m) => {
          assert.equal(m.createSnapshot(index, VOTERS, new Uint8Array()), 'ok');
          assert.equal(m.compact(index), 'ok');
        });
      } else if (roll < 0.7) {
        term++;
        const index = model.lastIndex() + pick(5) - 2;
        const snapshot: Snapshot = { metadata: { index, term, confState: VOTERS }, data: new Uint8Array() };
        const hardState: HardState = { term, vote: 0, commit: index };
        const result = log.applySnapshot(snapshot);
        if (result === 'ok') {
          log.setHardState(hardState);
          applied = index;
        }
        run((m) => {
          assert.equal(m.applySnapshot(snapshot), result);
          if (result === 'ok') m.setHardState(hardState);
        });
      } else if (roll < 0.9) {
        const count = operations.length;
        void disk.store.commitAll().then(() => (durableCount = Math.max(durableCount, count)));
        await scheduler.runUntil(scheduler.now() + pick(3));
      } else if (roll < 0.95) {
        await scheduler.runUntil(scheduler.now() + pick(5));
      } else {
        crashes++;
        disk = openSimStore({ timers: scheduler, fsyncDelayMs, image: disk.crash() });
        log = disk.store.openRaftLog('g', options);
        model = MemoryRaftStorage.bootstrap(VOTERS.voters);
        for (const operation of operations.slice(0, durableCount)) operation(model);
        operations.length = durableCount;
        applied = appliedAt[durableCount]!;
        appliedAt = appliedAt.slice(0, durableCount + 1);
      }
      assertSame(log, model, `step ${step}`);
      assert.equal(log.appliedIndex(), applied, `step ${step}: applied index`);
    }
    assert.ok(crashes > 10, `only ${crashes} crashes`);
  });
}

function assertSame(log: LmdbRaftLogStorage, model: MemoryRaftStorage, at: string): void {
  assert.deepEqual([log.firstIndex(), log.lastIndex()], [model.firstIndex(), model.lastIndex()], at);
  assert.deepEqual(log.initialState(), model.initialState(), at);
  for (let i = model.firstIndex() - 2; i <= model.lastIndex() + 1; i++) assert.equal(log.term(i), model.term(i), `${at}: term(${i})`);
  for (const lo of [model.firstIndex() - 1, model.firstIndex(), Math.max(model.firstIndex(), model.lastIndex() - 3)]) {
    for (const maxSizeBytes of [0, 100, Infinity]) {
      const hi = model.lastIndex() + 1;
      if (lo > hi) continue;
      assert.deepEqual(plain(log.entries(lo, hi, maxSizeBytes)), plain(model.entries(lo, hi, maxSizeBytes)), `${at}: entries(${lo}, ${hi}, ${maxSizeBytes})`);
    }
  }
}

/**
 * Random puts, deletes, clears, commits and crashes on two shards of one store, against a model of what
 * each shard holds (in memory, and as of each commit); a crash must bring back exactly the state of the
 * newest commit that landed, for both shards at once, counters included.
 */
for (const seed of [1, 2, 3]) {
  test(`shard data survives crashes exactly as of the last landed commit (seed ${seed})`, async () => {
    const random = seededRandom(seed * 101);
    const pick = (n: number): number => Math.floor(random() * n);
    const scheduler = new Scheduler();
    const fsyncDelayMs = (): number => pick(5);
    let disk: SimStore = openSimStore({ timers: scheduler, fsyncDelayMs });
    const ids = ['s1', 's2'];
    type Model = Map<string, string>;
    let memory = new Map<string, Model>(ids.map((id) => [id, new Map()]));
    let durable: ReadonlyMap<string, Model> = new Map(ids.map((id) => [id, new Map()]));
    const copy = (state: ReadonlyMap<string, Model>): Map<string, Model> => new Map([...state].map(([id, m]) => [id, new Map(m)]));
    let landedSeq = -1;
    let commitSeq = 0;
    let crashes = 0;
    for (let step = 0; step < 600; step++) {
      const roll = random();
      const id = ids[pick(2)]!;
      const shard = disk.store.openShard(id);
      const model = memory.get(id)!;
      const name = `k${pick(12)}`;
      if (roll < 0.5) {
        const value = `v${step}`;
        shard.put(key(name), str(value, pick(2) * 1_000 * step));
        model.set(name, value);
      } else if (roll < 0.7) {
        assert.equal(shard.delete(key(name)), model.delete(name));
      } else if (roll < 0.73) {
        shard.clear();
        model.clear();
      } else if (roll < 0.9) {
        const seq = commitSeq++;
        const snapshot = copy(memory);
        void disk.store.commitAll().then(() => {
          if (seq > landedSeq) {
            landedSeq = seq;
            durable = snapshot;
          }
        });
        await scheduler.runUntil(scheduler.now() + pick(3));
      } else if (roll < 0.96) {
        await scheduler.runUntil(scheduler.now() + pick(6));
      } else {
        crashes++;
        disk = openSimStore({ timers: scheduler, fsyncDelayMs, image: disk.crash() });
        memory = copy(durable);
      }
      for (const shardId of ids) {
        const data = disk.store.openShard(shardId);
        const expected = memory.get(shardId)!;
        for (let k = 0; k < 12; k++) assert.equal(read(data.get(key(`k${k}`))), expected.get(`k${k}`), `step ${step}: ${shardId} k${k}`);
        assert.equal(data.keyCount, expected.size, `step ${step}: ${shardId} key count`);
      }
    }
    assert.ok(crashes > 10, `only ${crashes} crashes`);
    // After the last crash's restart, what LMDB holds (not the overlay) matches the counters.
    await runCommit(scheduler, disk.store.commitAll());
    for (const shardId of ids) {
      const data = disk.store.openShard(shardId);
      assert.equal(data.scan(0, 16384, undefined, 100).length, data.keyCount, `${shardId}: stored keys match the counter`);
      const expiring = data.scanExpiring(undefined, 100).map((found) => found.key.toString());
      assert.deepEqual(
        expiring.filter((name) => (data.get(key(name))?.expireAtMs ?? 0) === 0),
        [],
        `${shardId}: the expiry index holds only keys with an expiry`,
      );
    }
  });
}
