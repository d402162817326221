import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRaftStorage, type Entry } from '../../src/raft/index.js';
import { RaftLog } from '../../src/raft/raft-log.js';
import { Unstable } from '../../src/raft/unstable.js';

function entries(from: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: 'normal', data: new Uint8Array(10) }));
}

function logWith(persistedTerms: readonly number[], unstableTerms: readonly number[] = []): RaftLog {
  const storage = MemoryRaftStorage.bootstrap([1]);
  storage.append(entries(2, persistedTerms));
  const log = new RaftLog(storage, Infinity);
  if (unstableTerms.length > 0) log.append(entries(2 + persistedTerms.length, unstableTerms));
  return log;
}

describe('raft log', () => {
  it('reads terms and entries across storage and the unstable tail', () => {
    const log = logWith([1, 2, 2], [3, 3]);
    assert.deepEqual([log.firstIndex(), log.lastIndex(), log.lastTerm()], [2, 6, 3]);
    assert.equal(log.termOf(1), 1, 'the snapshot boundary term is known');
    assert.equal(log.termOf(0), undefined);
    assert.equal(log.termOf(7), undefined);
    const all = log.slice(2, 7, Infinity);
    assert(all !== 'compacted');
    assert.deepEqual(
      all.map((e) => e.term),
      [1, 2, 2, 3, 3],
    );
    assert.equal(log.slice(1, 3, Infinity), 'compacted');
  });

  it('limits slices by size but always returns at least one entry', () => {
    const log = logWith([1, 1, 1, 1]);
    // Each entry counts 10 bytes of data + 16 of overhead.
    const two = log.slice(2, 6, 60);
    assert(two !== 'compacted');
    assert.equal(two.length, 2);
    const one = log.slice(2, 6, 1);
    assert(one !== 'compacted');
    assert.equal(one.length, 1);
  });

  it('the up-to-date comparison looks at the last term first, then the length (§5.4.1)', () => {
    const log = logWith([1, 2, 2]); // last 4, term 2
    assert.equal(log.isUpToDate(3, 3), true, 'later last term wins even if shorter');
    assert.equal(log.isUpToDate(4, 2), true);
    assert.equal(log.isUpToDate(3, 2), false);
    assert.equal(log.isUpToDate(9, 1), false, 'earlier last term loses even if longer');
  });

  it('findConflictByTerm skips whole terms', () => {
    const log = logWith([1, 1, 3, 3, 5]); // indexes 2..6
    assert.deepEqual(log.findConflictByTerm(6, 4), { index: 5, term: 3 });
    assert.deepEqual(log.findConflictByTerm(6, 2), { index: 3, term: 1 });
    assert.deepEqual(log.findConflictByTerm(6, 5), { index: 6, term: 5 });
  });

  it('never commits backwards, never past the last index, and refuses to overwrite committed entries', () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(3);
    log.commitTo(2);
    assert.equal(log.committed, 3);
    assert.throws(() => log.commitTo(9), /beyond last index/);
    assert.throws(() => log.append(entries(3, [2])), /overwrite committed/);
  });

  it('hands out committed entries once, and none while a snapshot is pending', () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(4);
    assert.deepEqual(
      log.nextCommittedEntries().map((e) => e.index),
      [2, 3, 4],
    );
    log.appliedTo(4);
    assert.equal(log.hasNextCommittedEntries(), false);
    log.restore({ metadata: { index: 10, term: 5, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
    assert.equal(log.hasNextCommittedEntries(), false);
    assert.deepEqual([log.firstIndex(), log.lastIndex(), log.termOf(10)], [11, 10, 5]);
  });
});

describe('raft unstable log', () => {
  it('truncates on conflicting appends and only marks matching entries stable', () => {
    const u = new Unstable(5);
    u.truncateAndAppend(entries(5, [1, 1, 1]));
    u.truncateAndAppend(entries(6, [2]));
    assert.deepEqual(
      u.entries.map((e) => [e.index, e.term]),
      [
        [5, 1],
        [6, 2],
      ],
    );
    u.stableTo(6, 1); // That entry was overwritten: ignore.
    assert.equal(u.entries.length, 2);
    u.stableTo(5, 1);
    assert.deepEqual([u.offset, u.entries.length], [6, 1]);
    u.truncateAndAppend(entries(3, [3])); // Replaces persisted entries too.
    assert.deepEqual([u.offset, u.entries.length], [3, 1]);
  });
});

describe('raft memory storage', () => {
  it('appending over a stored suffix replaces it; appending after a gap is a bug', () => {
    const storage = MemoryRaftStorage.bootstrap([1]);
    storage.append(entries(2, [1, 1, 1]));
    storage.append(entries(3, [2]));
    assert.equal(storage.lastIndex(), 3);
    assert.equal(storage.term(3), 2);
    assert.throws(() => storage.append(entries(9, [2])), /gap/);
    assert.equal(storage.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: [1], learners: [] } }, data: new Uint8Array() }), 'outOfDate');
  });
});
