/** Requests waiting for a shard's leadership to settle: each ends at its shard's change or at its bound. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LeadershipWaits } from '../../src/node/leadership-waits.js';
import { systemEnvironment } from '../../src/common/environment.js';

const settledWithin = (promise: Promise<void>, ms: number): Promise<boolean> =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('LeadershipWaits', () => {
  it("ends every wait on a shard at that shard's change, and none of another's", async () => {
    const waits = new LeadershipWaits(systemEnvironment());
    const a1 = waits.wait('shard_a', 60_000);
    const a2 = waits.wait('shard_a', 60_000);
    const b = waits.wait('shard_b', 60_000);
    waits.changed('shard_a');
    assert.deepEqual(await Promise.all([settledWithin(a1, 50), settledWithin(a2, 50), settledWithin(b, 50)]), [true, true, false]);
    waits.changed('shard_b');
    assert.equal(await settledWithin(b, 50), true);
  });

  it('ends a wait after its bound when nothing changes, and a later change finds nothing to end', async () => {
    const waits = new LeadershipWaits(systemEnvironment());
    const started = Date.now();
    await waits.wait('shard_a', 30);
    assert.ok(Date.now() - started >= 25);
    waits.changed('shard_a');
    const next = waits.wait('shard_a', 60_000);
    assert.equal(await settledWithin(next, 30), false);
    waits.changed('shard_a');
    assert.equal(await settledWithin(next, 50), true);
  });
});
