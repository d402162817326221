/** Routing between a split's switch and the routing table that records it: what the replicas' logs say wins. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingSplit } from '../../src/common/routing.js';
import { SPLIT_PARAMS_DEFAULT } from '../../src/split/types.js';
import type { SourceSplitState } from '../../src/shard/split-state.js';
import { flushPlan, newOwnerOf, targetServing, type TargetReplica } from '../../src/split/split-overlay.js';

const handedOver: TargetReplica = { id: 'shard_0002', owned: { start: 8192, end: 16384 } };

describe('a split target before the routing table gives it slots', () => {
  it('serves the slots its log owns', () => {
    assert.equal(targetServing(8192, [handedOver]), 'shard_0002');
    assert.equal(targetServing(16383, [handedOver]), 'shard_0002');
  });

  it('serves nothing outside its owned range', () => {
    assert.equal(targetServing(8191, [handedOver]), undefined);
    assert.equal(targetServing(16384, [handedOver]), undefined);
  });

  it('serves nothing before the handoff (empty or no owned range)', () => {
    assert.equal(targetServing(8192, [{ ...handedOver, owned: { start: 8192, end: 8192 } }]), undefined);
    assert.equal(targetServing(8192, [{ ...handedOver, owned: null }]), undefined);
  });

  it('answers for the slots its log owns where another node leads it, instead of sending the client back to the source', () => {
    // The node passes no leadership: a follower's request fails as not led here and goes to the target's leader as Raft knows it.
    assert.equal(targetServing(8192, [handedOver]), 'shard_0002');
  });

  it('picks the target that owns the slot among several splits', () => {
    const other: TargetReplica = { id: 'shard_0009', owned: { start: 100, end: 200 } };
    assert.equal(targetServing(150, [handedOver, other]), 'shard_0009');
  });
});

describe('a source that gave a slot away', () => {
  const state: SourceSplitState = { role: 'source', taskId: 't1', target: 'shard_0002', splitSlot: 8192, end: 16384, phase: 'committed', commitIndex: 9 };
  const marker: RoutingSplit = { taskId: 't1', role: 'source', peer: 'shard_0002', splitSlot: 8192, params: SPLIT_PARAMS_DEFAULT };

  const handedOver = (taskId: string): boolean => taskId === 't1';
  const notYet = (): boolean => false;

  it('redirects to the target its log names once the target is known to have taken the handoff', () => {
    assert.equal(newOwnerOf('shard_0001', state, undefined, 'shard_0001', handedOver), 'shard_0002');
  });

  it('knows no owner between its commit and the handoff seen here: the target still routes the slot back', () => {
    assert.equal(newOwnerOf('shard_0001', state, marker, 'shard_0001', notYet), undefined);
    assert.equal(
      newOwnerOf('shard_0001', state, marker, 'shard_0001', (taskId) => taskId === 'an earlier task'),
      undefined,
    );
  });

  it('redirects to the target the routing marker names once cleanup cleared the log state', () => {
    assert.equal(newOwnerOf('shard_0001', null, marker, 'shard_0001', notYet), 'shard_0002');
    assert.equal(newOwnerOf('shard_0001', null, { ...marker, role: 'target', peer: 'shard_0000' }, 'shard_0001', notYet), undefined, 'a target marker names the source');
  });

  it('redirects where a newer table routes the slot, and knows no owner otherwise', () => {
    assert.equal(newOwnerOf('shard_0001', null, undefined, 'shard_0002', notYet), 'shard_0002');
    assert.equal(newOwnerOf('shard_0001', null, undefined, 'shard_0001', notYet), undefined);
    assert.equal(newOwnerOf('shard_0001', null, undefined, undefined, notYet), undefined);
  });
});

describe('FLUSHALL on a node while its shards split', () => {
  const begun: SourceSplitState = { role: 'source', taskId: 'split_1', target: 'shard_0002', splitSlot: 8192, end: 16384, phase: 'begun', commitIndex: 0 };
  const stateOf = (states: Record<string, SourceSplitState>) => (id: string) => states[id] ?? null;

  it('flushes the shards it leads and the split targets it leads that the table does not list yet', () => {
    assert.deepEqual(flushPlan(['shard_0001'], ['shard_0002'], stateOf({ shard_0001: begun })), ['shard_0001', 'shard_0002']);
  });

  it('asks to retry while a source it leads has switched and not finished its cleanup: its flush would miss what the target took over', () => {
    assert.equal(flushPlan(['shard_0001', 'shard_0003'], [], stateOf({ shard_0001: { ...begun, phase: 'committed', commitIndex: 40 } })), 'switching');
  });
});
