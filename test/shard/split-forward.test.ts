/** forwardedPart: which part of a source entry a split forwards to its target. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyHashSlot } from '../../src/common/slots.js';
import { decodeShardCommand, encodeShardCommand } from '../../src/shard/shard-command.js';
import { forwardedPart } from '../../src/shard/split-forward.js';

const FROM = 8192;
const END = 16384;

function keyIn(inside: boolean, n: number): Buffer {
  for (let i = 0; ; i++) {
    const key = Buffer.from(`${inside ? 'in' : 'out'}${n}-${i}`);
    const slot = keyHashSlot(key);
    if ((slot >= FROM && slot < END) === inside) return key;
  }
}

const command = (...argv: string[]): Uint8Array => encodeShardCommand({ kind: 'command', nowMs: 5, argv: argv.map((a) => Buffer.from(a)) });

test('a key command is forwarded whole when its key moves, and not at all when it stays', () => {
  const inside = command('SET', keyIn(true, 1).toString(), 'v');
  assert.equal(forwardedPart(inside, FROM, END), inside);
  assert.equal(forwardedPart(command('SET', keyIn(false, 1).toString(), 'v'), FROM, END), null);
  assert.equal(forwardedPart(command('PING'), FROM, END), null, 'a command without keys has nothing to move');
});

test('an expiry keeps only the moving keys', () => {
  const [a, b, c] = [keyIn(true, 1), keyIn(false, 2), keyIn(true, 3)];
  const all = encodeShardCommand({ kind: 'expire', nowMs: 7, keys: [a, b, c] });
  const part = forwardedPart(all, FROM, END);
  assert.notEqual(part, null);
  assert.deepEqual(decodeShardCommand(part!), { kind: 'expire', nowMs: 7, keys: [a, c] });
  const inside = encodeShardCommand({ kind: 'expire', nowMs: 7, keys: [a] });
  assert.equal(forwardedPart(inside, FROM, END), inside);
  assert.equal(forwardedPart(encodeShardCommand({ kind: 'expire', nowMs: 7, keys: [b] }), FROM, END), null);
});

test('FLUSHALL is forwarded; split entries are not', () => {
  const flush = encodeShardCommand({ kind: 'flush', nowMs: 1 });
  assert.equal(forwardedPart(flush, FROM, END), flush);
  assert.equal(forwardedPart(encodeShardCommand({ kind: 'split-commit', taskId: 't' }), FROM, END), null);
});

test('multi-key and hash commands move by their one slot', () => {
  // One hash tag, one slot: a multi-key command is never cross-slot when it reaches the log.
  let tag = '';
  for (let i = 0; tag === ''; i++) if (keyHashSlot(Buffer.from(`tag${i}`)) >= FROM) tag = `tag${i}`;
  const mset = command('MSET', `{${tag}}a`, '1', `{${tag}}b`, '2');
  assert.equal(forwardedPart(mset, FROM, END), mset);
  assert.equal(forwardedPart(mset, 0, FROM), null);
  const del = command('DEL', `{${tag}}a`, `{${tag}}b`);
  assert.equal(forwardedPart(del, FROM, END), del);
  const hset = command('HSET', keyIn(true, 4).toString(), 'f', 'v');
  assert.equal(forwardedPart(hset, FROM, END), hset);
  assert.equal(forwardedPart(command('HSET', keyIn(false, 4).toString(), 'f', 'v'), FROM, END), null);
  assert.equal(forwardedPart(command('NOSUCHCOMMAND', keyIn(true, 5).toString()), FROM, END), null, 'a command the source could not apply changes nothing');
});

test('no split entry is forwarded', () => {
  const splitEntries = [
    encodeShardCommand({ kind: 'split-begin', taskId: 't', start: 0, splitSlot: FROM, end: END, target: 's2' }),
    encodeShardCommand({ kind: 'split-abort', taskId: 't', reason: 'r' }),
    encodeShardCommand({ kind: 'split-cleanup', taskId: 't', keys: [keyIn(true, 6)] }),
    encodeShardCommand({ kind: 'split-reset', taskId: 't', source: 's1', splitSlot: FROM, end: END, snapshotIndex: 1, attempt: 1, sourceClockMs: 0 }),
    encodeShardCommand({ kind: 'split-ingest', taskId: 't', snapshotIndex: 1, attempt: 1, cursor: null, entries: [], next: null }),
    encodeShardCommand({ kind: 'split-forward', taskId: 't', entries: [], throughIndex: 1 }),
    encodeShardCommand({ kind: 'split-handoff', taskId: 't', finalIndex: 1, fromIndex: 1, entries: [], sourceClockMs: 0 }),
  ];
  assert.deepEqual(
    splitEntries.map((data) => forwardedPart(data, FROM, END)),
    splitEntries.map(() => null),
  );
});
