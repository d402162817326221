/** Writes held while a split hands its range over: bounds, timeout, and the answers they all get. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { error, type Reply } from '../../src/resp/reply.js';
import { SplitBuffer, type HoldResult } from '../../src/split/split-buffer.js';

const TRYAGAIN = error('TRYAGAIN retry');
const moved = (slot: number): Reply => error(`MOVED ${slot} 127.0.0.1:7002`);

const heldReply = (result: HoldResult): Promise<Reply> => {
  assert.equal(result.kind, 'held');
  return (result as Extract<HoldResult, { kind: 'held' }>).reply;
};

/** Whether a held write has been answered yet. */
const settled = async (reply: Promise<Reply>): Promise<boolean> => {
  let done = false;
  void reply.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('SplitBuffer', () => {
  it('passes writes to other shards, to slots outside the moving range, and before buffering starts', () => {
    const buffer = new SplitBuffer();
    assert.deepEqual(buffer.hold('s1', 9000, 0, TRYAGAIN), { kind: 'pass' });
    buffer.start('s1', 8192, 16384, 10, 5000, 0);
    assert.deepEqual(buffer.hold('s1', 8191, 0, TRYAGAIN), { kind: 'pass' });
    assert.deepEqual(buffer.hold('s1', 16384, 0, TRYAGAIN), { kind: 'pass' });
    assert.deepEqual(buffer.hold('s2', 9000, 0, TRYAGAIN), { kind: 'pass' });
    assert.equal(buffer.count('s1'), 0);
  });

  it('holds writes to the moving range until the switch, then answers each MOVED for its slot', async () => {
    const waits: number[] = [];
    const buffer = new SplitBuffer((waitedMs) => waits.push(waitedMs));
    buffer.start('s1', 8192, 16384, 10, 5000, 1000);
    const first = heldReply(buffer.hold('s1', 8192, 1000, TRYAGAIN));
    const second = heldReply(buffer.hold('s1', 12000, 1010, TRYAGAIN));
    assert.equal(buffer.count('s1'), 2);
    assert.equal(buffer.countAll(), 2);
    assert.equal(await settled(first), false, 'held, not answered');
    assert.equal(buffer.release('s1', 1030, moved), 30, 'the longest wait');
    assert.deepEqual(await first, moved(8192));
    assert.deepEqual(await second, moved(12000));
    assert.deepEqual(waits, [30, 20]);
    assert.equal(buffer.isBuffering('s1'), false);
    assert.deepEqual(buffer.hold('s1', 8192, 1040, TRYAGAIN), { kind: 'pass' }, 'after the release writes go on');
  });

  it('answers TRYAGAIN to every held write on a rollback', async () => {
    const buffer = new SplitBuffer();
    buffer.start('s1', 0, 100, 10, 5000, 0);
    const held = heldReply(buffer.hold('s1', 5, 0, TRYAGAIN));
    buffer.release('s1', 10, () => TRYAGAIN);
    assert.deepEqual(await held, TRYAGAIN);
  });

  it('answers one write past bufferMaxSize at once and marks the buffer overflowed', async () => {
    const buffer = new SplitBuffer();
    buffer.start('s1', 0, 100, 2, 5000, 0);
    heldReply(buffer.hold('s1', 1, 0, TRYAGAIN));
    heldReply(buffer.hold('s1', 2, 0, TRYAGAIN));
    assert.equal(buffer.overflowed('s1'), false);
    const third = heldReply(buffer.hold('s1', 3, 0, TRYAGAIN));
    assert.deepEqual(await third, TRYAGAIN);
    assert.equal(buffer.overflowed('s1'), true);
    assert.equal(buffer.count('s1'), 2, 'the overflowing write is not held');
  });

  it('answers writes held bufferTimeoutMs or longer, and keeps the younger ones', async () => {
    const buffer = new SplitBuffer();
    buffer.start('s1', 0, 100, 10, 5000, 0);
    const old = heldReply(buffer.hold('s1', 1, 0, TRYAGAIN));
    const young = heldReply(buffer.hold('s1', 2, 1000, TRYAGAIN));
    assert.equal(buffer.expire(4999, TRYAGAIN), 0);
    assert.equal(buffer.expire(5000, TRYAGAIN), 1);
    assert.deepEqual(await old, TRYAGAIN);
    assert.equal(await settled(young), false);
    assert.equal(buffer.count('s1'), 1);
    assert.equal(buffer.bufferingForMs('s1', 5000), 5000, 'the buffer itself has held writes since it started');
  });

  it('keeps its first start when asked to start again, and answers everything when the node closes', async () => {
    const buffer = new SplitBuffer();
    buffer.start('s1', 0, 100, 10, 5000, 0);
    buffer.start('s1', 200, 300, 10, 5000, 50);
    assert.equal(buffer.bufferingForMs('s1', 100), 100);
    const held = heldReply(buffer.hold('s1', 1, 0, TRYAGAIN));
    buffer.start('s2', 0, 10, 10, 5000, 0);
    const other = heldReply(buffer.hold('s2', 3, 0, TRYAGAIN));
    buffer.releaseAll(10, TRYAGAIN);
    assert.deepEqual(await held, TRYAGAIN);
    assert.deepEqual(await other, TRYAGAIN);
    assert.equal(buffer.countAll(), 0);
  });
});
