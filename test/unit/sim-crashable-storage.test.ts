import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRaftStorage, type ConfState, type Entry, type HardState, type Snapshot } from '../../src/raft/index.js';
import { keyHashSlot } from '../../src/common/slots.js';
import type { StoredValue } from '../../src/storage/types.js';
import { SimDisk, type CrashableRaftLog } from '../sim/crashable-storage.js';
import { Scheduler } from '../sim/scheduler.js';
import { seededRandom } from '../support/seeded-random.js';

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

test('shard writes are visible at once, pending until their batch is fsync’d, and lost by a crash before that', async () => {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler, { fsyncDelayMs: 5 });
  const shard = disk.openShard('s1');
  shard.put(key('a'), str('1'));
  shard.put(key('b'), str('2'));
  assert.equal(read(shard.get(key('a'))), '1');
  assert.equal(shard.isPending(key('a')), true);
  assert.deepEqual(shard.scan(0, 16384, undefined, 10), [], 'scans see only durable data');
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
    shard.scan(0, 16384, undefined, 10).map((k) => k.key.toString()).sort(),
    ['a', 'b'],
  );
  assert.equal(shard.keyCount, 3);

  const image = disk.crash();
  assert.throws(() => shard.get(key('a')), /crashed disk/);
  assert.throws(() => disk.commitAll(), /disk crashed/);
  const restarted = new SimDisk(scheduler, {}, image).openShard('s1');
  assert.deepEqual([read(restarted.get(key('a'))), read(restarted.get(key('b'))), read(restarted.get(key('c')))], ['1', '2', undefined]);
  assert.equal(restarted.keyCount, 2);
  assert.equal(restarted.isPending(key('a')), false);
});

test('commits of one synchronous stretch share one batch; batches land in order even when a later fsync is faster', async () => {
  const scheduler = new Scheduler();
  const delays = [10, 1, 1];
  const disk = new SimDisk(scheduler, { fsyncDelayMs: () => delays.shift()! });
  const a = disk.openShard('a');
  const b = disk.openShard('b');
  const landed: string[] = [];
  a.put(key('x'), str('1'));
  b.put(key('x'), str('1'));
  void a.commit().then(() => landed.push(`a1@${scheduler.now()}`));
  void b.commit().then(() => landed.push(`b1@${scheduler.now()}`));
  await Promise.resolve();
  // A new stretch: a new batch, whose 1 ms fsync still waits for the first batch's 10 ms.
  a.put(key('y'), str('2'));
  void a.commit().then(() => landed.push(`a2@${scheduler.now()}`));
  await scheduler.runUntil(20);
  assert.deepEqual(landed, ['a1@10', 'b1@10', 'a2@10']);
  assert.equal(disk.batchesInFlight, 0);
});

test('commitAll makes log, hard state, applied index and shard data of every group durable together, or none of it', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = seededRandom(seed);
    const scheduler = new Scheduler();
    const disk = new SimDisk(scheduler, { fsyncDelayMs: () => 1 + Math.floor(random() * 5) });
    const groups = ['g1', 'g2', 'g3'].map((id) => ({ log: disk.openRaftLog(id), shard: disk.openShard(id) }));
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
      void disk.commitAll();
      await scheduler.runUntil(scheduler.now() + Math.floor(random() * 4));
    }
    await scheduler.runUntil(scheduler.now() + Math.floor(random() * 6));
    const image = disk.crash();
    const restarted = new SimDisk(scheduler, {}, image);
    const seen = restarted.raftGroupIds().map((id) => {
      const log = restarted.openRaftLog(id);
      const round = Number(read(restarted.openShard(id).get(key('round'))) ?? 0);
      assert.equal(log.appliedIndex(), 1 + round, `seed ${seed}: group ${id}'s applied index matches its data`);
      assert.equal(log.lastIndex(), log.appliedIndex());
      assert.equal(log.getHardState().commit, log.appliedIndex());
      return round;
    });
    assert.equal(new Set(seen).size, 1, `seed ${seed}: every group is at the same round (${seen.join(', ')})`);
  }
});

test('a crash drops batches in flight: their commits never settle, and the image is what had landed', async () => {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler, { fsyncDelayMs: 10 });
  const shard = disk.openShard('s');
  shard.put(key('durable'), str('1'));
  await runCommit(scheduler, shard.commit());
  shard.put(key('in flight'), str('2'));
  let settled = false;
  shard.commit().then(
    () => (settled = true),
    () => (settled = true),
  );
  await scheduler.runUntil(scheduler.now() + 5);
  const image = disk.crash();
  await scheduler.runUntil(scheduler.now() + 100);
  assert.equal(settled, false);
  assert.equal(scheduler.pendingCount, 0, 'the fsync event was cancelled');
  // One image, two restarts: the first restart's writes do not leak into the image.
  const first = new SimDisk(scheduler, {}, image);
  first.openShard('s').put(key('later'), str('3'));
  await runCommit(scheduler, first.commitAll());
  const second = new SimDisk(scheduler, {}, image).openShard('s');
  assert.deepEqual([read(second.get(key('durable'))), second.get(key('in flight')), second.get(key('later'))], ['1', undefined, undefined]);
});

test('clear, deletes and overwrites across overlapping commits: reads, counts and scans follow LMDB’s rules', async () => {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler, { fsyncDelayMs: 3 });
  const shard = disk.openShard('s');
  for (const name of ['a', 'b', 'c']) shard.put(key(name), str(name.repeat(3), name === 'b' ? 5_000 : 0));
  await runCommit(scheduler, shard.commit());
  assert.deepEqual(shard.scanExpiring(undefined, 10).map((e) => [e.key.toString(), e.expireAtMs]), [['b', 5_000]]);
  const bytes = shard.byteCount;
  assert.ok(bytes > 9, 'sizes count encoded values');
  assert.equal(shard.delete(key('a')), true);
  assert.equal(shard.delete(key('a')), false);
  assert.equal(shard.delete(key('zzz')), false);
  const first = shard.commit();
  shard.clear();
  assert.equal(shard.isPending(key('never written')), true, 'a pending clear is a pending delete of every key');
  assert.equal(shard.get(key('b')), undefined);
  shard.put(key('d'), str('d'));
  assert.deepEqual([shard.keyCount, read(shard.get(key('d')))], [1, 'd']);
  const second = shard.commit();
  await runCommit(scheduler, Promise.all([first, second]));
  assert.deepEqual(
    shard.scan(0, 16384, undefined, 10).map((k) => k.key.toString()),
    ['d'],
  );
  assert.equal(shard.isPending(key('never written')), false);
  assert.equal(shard.countInSlot(keyHashSlot(key('d'))), 1);
  assert.deepEqual(shard.keysInSlot(keyHashSlot(key('d')), 5), [key('d')]);
  const reopened = new SimDisk(scheduler, {}, disk.crash()).openShard('s');
  assert.deepEqual([reopened.keyCount, read(reopened.get(key('d'))), reopened.get(key('a'))], [1, 'd', undefined]);
});

test('a snapshot of durable data reads in chunks that another shard restores, and later writes do not change it', async () => {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler);
  const source = disk.openShard('source');
  for (let i = 0; i < 50; i++) source.put(key(`key${i}`), str(`value${i}`));
  await runCommit(scheduler, source.commit());
  const reader = source.openSnapshot();
  source.put(key('key0'), str('changed'));
  source.put(key('new'), str('new'));
  await runCommit(scheduler, source.commit());
  const target = disk.openShard('target');
  let cursor: Uint8Array | null = null;
  let chunks = 0;
  do {
    const chunk = reader.chunk(cursor, 100);
    target.restoreChunk(chunk);
    cursor = chunk.next;
    chunks++;
  } while (cursor !== null);
  reader.close();
  assert.throws(() => reader.chunk(null, 100), /closed/);
  assert.ok(chunks > 5);
  assert.equal(target.keyCount, 50);
  assert.equal(read(target.get(key('key0'))), 'value0');
  assert.equal(target.get(key('new')), undefined);
  source.put(key('pending'), str('x'));
  assert.throws(() => source.openSnapshot(), /needs every write durable/);
});

test('scan pages through slots after a key, as LMDB does', async () => {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler);
  const shard = disk.openShard('s');
  const names = Array.from({ length: 40 }, (_, i) => `k${i}`);
  for (const name of names) shard.put(key(name), str(name));
  await runCommit(scheduler, shard.commit());
  const order = [...names].sort((a, b) => keyHashSlot(key(a)) - keyHashSlot(key(b)) || Buffer.compare(key(a), key(b)));
  const paged: string[] = [];
  let after: Buffer | undefined;
  for (;;) {
    const page = shard.scan(0, 16384, after, 7);
    if (page.length === 0) break;
    paged.push(...page.map((k) => k.key.toString()));
    after = page[page.length - 1]!.key;
  }
  assert.deepEqual(paged, order);
  const slot = keyHashSlot(key(order[10]!));
  assert.deepEqual(
    shard.scan(slot, slot + 1, undefined, 100).map((k) => k.key.toString()),
    order.filter((name) => keyHashSlot(key(name)) === slot),
  );
  assert.deepEqual(shard.scan(0, 16384, undefined, 0), []);
});

test('dropShard removes shard and log together once durable; metadata reads its own writes and survives only once durable', async () => {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler, { fsyncDelayMs: 2 });
  disk.openShard('s').put(key('a'), str('1'));
  disk.openRaftLog('s').bootstrap([1]);
  disk.openShard('t');
  await runCommit(scheduler, disk.commitAll());
  const dropped = disk.dropShard('s');
  assert.deepEqual(disk.shardIds(), ['t']);
  assert.throws(() => disk.openShard('s'), /being dropped/);
  await runCommit(scheduler, dropped);
  assert.deepEqual([disk.shardIds(), disk.raftGroupIds()], [['t'], []]);
  assert.equal(disk.openShard('s').keyCount, 0, 'reopened empty');

  void disk.putMeta('routing', { version: 1 });
  const meta = disk.getMeta('routing') as { version: number };
  assert.deepEqual(meta, { version: 1 });
  meta.version = 99;
  assert.deepEqual(disk.getMeta('routing'), { version: 1 }, 'a copy is returned');
  const lost = new SimDisk(scheduler, {}, disk.durableImage());
  assert.equal(lost.getMeta('routing'), undefined, 'not durable yet');
  await scheduler.runUntil(scheduler.now() + 2);
  assert.deepEqual(new SimDisk(scheduler, {}, disk.crash()).getMeta('routing'), { version: 1 });
});

test('the log: append replaces a conflicting suffix, a snapshot replaces the log, and a restart sees what landed', async () => {
  const scheduler = new Scheduler();
  let disk = new SimDisk(scheduler);
  let log = disk.openRaftLog('g');
  log.bootstrap(VOTERS.voters);
  log.append(entries(2, [1, 1, 1, 1]));
  await runCommit(scheduler, log.commit());
  log.append(entries(4, [2, 2]));
  assert.deepEqual(plain(log.entries(2, 6, Infinity)), plain([...entries(2, [1, 1]), ...entries(4, [2, 2])]));
  log.setHardState({ term: 2, vote: 1, commit: 5 });
  await runCommit(scheduler, log.commit());
  // A longer log that is never committed: the restart must not see it.
  log.append(entries(6, [2, 2, 2]));
  disk = new SimDisk(scheduler, {}, disk.crash());
  log = disk.openRaftLog('g');
  assert.deepEqual([log.firstIndex(), log.lastIndex(), log.term(5), log.term(6)], [2, 5, 2, 'unavailable']);
  assert.deepEqual(log.getHardState(), { term: 2, vote: 1, commit: 5 });
  // A snapshot behind the last index: the suffix beyond it must not come back after a restart.
  const snapshot: Snapshot = { metadata: { index: 3, term: 3, confState: VOTERS }, data: new Uint8Array() };
  assert.equal(log.applySnapshot(snapshot), 'ok');
  assert.equal(log.applySnapshot(snapshot), 'outOfDate');
  log.setHardState({ term: 3, vote: 0, commit: 3 });
  await runCommit(scheduler, log.commit());
  disk = new SimDisk(scheduler, {}, disk.crash());
  log = disk.openRaftLog('g');
  assert.deepEqual([log.firstIndex(), log.lastIndex(), log.appliedIndex(), log.term(3), log.term(2)], [4, 3, 3, 3, 'compacted']);
  assert.equal(log.entries(3, 4, Infinity), 'compacted');
  assert.equal(log.snapshot(), 'temporarilyUnavailable');
  log.setSnapshotSource(() => snapshot);
  assert.deepEqual(log.snapshot(), snapshot);
});

/**
 * The property test of storage-raft-log.test.ts, on the crashable log: random appends (with conflicts),
 * hard states, compactions, snapshots, commits and crashes, run on MemoryRaftStorage (the reference) and
 * on the crashable log; every read must agree. A crash rolls the reference back to the last operation
 * whose commit had landed, by replaying the operations up to it on a fresh reference.
 */
for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`the log agrees with MemoryRaftStorage on every read, across crashes (seed ${seed})`, async () => {
    const random = seededRandom(seed);
    const pick = (n: number): number => Math.floor(random() * n);
    const scheduler = new Scheduler();
    const fsyncDelayMs = (): number => pick(4);
    let disk = new SimDisk(scheduler, { fsyncDelayMs });
    let log = disk.openRaftLog('g');
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
        const batch = entries(start, Array.from({ length: 1 + pick(6) }, () => Math.max(term, previousTerm)), pick(40));
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
        void log.commit().then(() => (durableCount = Math.max(durableCount, count)));
        await scheduler.runUntil(scheduler.now() + pick(3));
      } else if (roll < 0.95) {
        await scheduler.runUntil(scheduler.now() + pick(5));
      } else {
        crashes++;
        disk = new SimDisk(scheduler, { fsyncDelayMs }, disk.crash());
        log = disk.openRaftLog('g');
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

function assertSame(log: CrashableRaftLog, model: MemoryRaftStorage, at: string): void {
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
 * Random puts, deletes, clears, commits and crashes on two shards of one disk, against a model of what
 * each shard holds (in memory, and as of each commit); a crash must bring back exactly the state of the
 * newest commit that landed, for both shards at once.
 */
for (const seed of [1, 2, 3]) {
  test(`shard data survives crashes exactly as of the last landed commit (seed ${seed})`, async () => {
    const random = seededRandom(seed * 101);
    const pick = (n: number): number => Math.floor(random() * n);
    const scheduler = new Scheduler();
    const fsyncDelayMs = (): number => pick(5);
    let disk = new SimDisk(scheduler, { fsyncDelayMs });
    const ids = ['s1', 's2'];
    type Model = Map<string, string>;
    let memory = new Map<string, Model>(ids.map((id) => [id, new Map()]));
    let durable: ReadonlyMap<string, Model> = new Map(ids.map((id) => [id, new Map()]));
    const copy = (state: ReadonlyMap<string, Model>): Map<string, Model> => new Map([...state].map(([id, m]) => [id, new Map(m)]));
    let landedSeq = -1;
    let commitSeq = 0;
    for (let step = 0; step < 600; step++) {
      const roll = random();
      const id = ids[pick(2)]!;
      const shard = disk.openShard(id);
      const model = memory.get(id)!;
      const name = `k${pick(12)}`;
      if (roll < 0.5) {
        const value = `v${step}`;
        shard.put(key(name), str(value));
        model.set(name, value);
      } else if (roll < 0.7) {
        assert.equal(shard.delete(key(name)), model.delete(name));
      } else if (roll < 0.73) {
        shard.clear();
        model.clear();
      } else if (roll < 0.9) {
        const seq = commitSeq++;
        const snapshot = copy(memory);
        void disk.commitAll().then(() => {
          if (seq > landedSeq) {
            landedSeq = seq;
            durable = snapshot;
          }
        });
        await scheduler.runUntil(scheduler.now() + pick(3));
      } else if (roll < 0.96) {
        await scheduler.runUntil(scheduler.now() + pick(6));
      } else {
        disk = new SimDisk(scheduler, { fsyncDelayMs }, disk.crash());
        memory = copy(durable);
      }
      for (const shardId of ids) {
        const data = disk.openShard(shardId);
        const expected = memory.get(shardId)!;
        for (let k = 0; k < 12; k++) assert.equal(read(data.get(key(`k${k}`))), expected.get(`k${k}`), `step ${step}: ${shardId} k${k}`);
        assert.equal(data.keyCount, expected.size, `step ${step}: ${shardId} key count`);
      }
    }
  });
}

/** Runs the scheduler until `promise` settles (commits resolve on virtual time). */
async function runCommit(scheduler: Scheduler, promise: Promise<unknown>): Promise<void> {
  let done = false;
  void promise.then(() => (done = true));
  for (let i = 0; i < 1_000 && !done; i++) await scheduler.runUntil(scheduler.now() + 1);
  assert.ok(done, 'the commit landed');
}

