import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rangeDisagreement, replicationProblems, slotCoverageProblems } from '../nemesis/checks.js';
import { refusedWithoutEffect } from '../nemesis/load.js';

describe('nemesis checks', () => {
  it('slot coverage: a full cover passes; a slot owned twice and a gap are named', () => {
    assert.deepEqual(
      slotCoverageProblems('v', [
        { start: 0, end: 8191 },
        { start: 8192, end: 16383 },
      ]),
      [],
    );
    assert.deepEqual(
      slotCoverageProblems('v', [
        { start: 0, end: 8192 },
        { start: 8192, end: 16383 },
      ]),
      ['v: slot 8192 is owned by 2 ranges'],
    );
    assert.deepEqual(
      slotCoverageProblems('v', [
        { start: 0, end: 100 },
        { start: 102, end: 16383 },
      ]),
      ['v: slot 101 is owned by no range'],
    );
    assert.deepEqual(slotCoverageProblems('v', [{ start: 0, end: 16384 }]), ['v: range [0, 16384] is not within 0..16383', 'v: slot 0 is owned by no range']);
  });

  it('two views agree whatever the order of their ranges, and disagree on a different boundary', () => {
    const a = [
      { start: 0, end: 99 },
      { start: 100, end: 16383 },
    ];
    assert.deepEqual(rangeDisagreement('a', a, 'b', [...a].reverse()), []);
    assert.equal(
      rangeDisagreement('a', a, 'b', [
        { start: 0, end: 100 },
        { start: 101, end: 16383 },
      ]).length,
      1,
    );
  });

  it('replication: a shard short of replicas or without a leader among them is named', () => {
    assert.deepEqual(replicationProblems([{ id: 's1', leader: 'n1', replicas: ['n1', 'n2', 'n3'] }], 3), []);
    assert.deepEqual(replicationProblems([{ id: 's1', leader: 'n1', replicas: ['n1', 'n2'] }], 3), ['s1 has 2 replicas (n1,n2), not 3']);
    assert.deepEqual(replicationProblems([{ id: 's1', leader: 'n4', replicas: ['n1', 'n2', 'n3'] }], 3), ['s1 has no leader among its replicas (leader n4)']);
  });

  it('only refusals that come before applying count as failed; a timeout or a dropped connection is unknown', () => {
    assert.equal(refusedWithoutEffect(new Error('TRYAGAIN the shard has no leader right now; retry shortly')), true);
    assert.equal(refusedWithoutEffect(new Error('CLUSTERDOWN Hash slot not served')), true);
    assert.equal(refusedWithoutEffect(new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 12 127.0.0.1:7001')), true);
    assert.equal(refusedWithoutEffect(new Error('timeout')), false);
    assert.equal(refusedWithoutEffect(new Error('Connection is closed.')), false);
    assert.equal(refusedWithoutEffect(new Error('ERR proposal dropped')), false);
  });
});
