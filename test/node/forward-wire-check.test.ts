/**
 * The checks of a forwarded command and its reply, on values as they come off the wire (msgpack round
 * trip): everything a node sends passes, each kind of damage or excess is refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { argvOf, FORWARD_ARGV_BYTES_MAX, FORWARD_ARGV_COUNT_MAX, forwardedReply, isForwardRequest } from '../../src/node/forward-wire-check.js';
import type { Reply } from '../../src/resp/reply.js';
import { decodeFrameBody, encodeFrameBytes, FRAME_HEADER_BYTES } from '../../src/transport/index.js';

const wire = (value: unknown): unknown => decodeFrameBody(encodeFrameBytes(value).subarray(FRAME_HEADER_BYTES));
const argv = (...args: string[]): Buffer[] => args.map((a) => Buffer.from(a));

describe('forward request check', () => {
  it('accepts a command in RESP2 or RESP3 and hands its arguments over as Buffers', () => {
    for (const protocol of [2, 3] as const) {
      const request = wire({ argv: argv('SET', 'k', 'v'), protocol });
      assert.ok(isForwardRequest(request));
      const args = argvOf(request);
      assert.ok(args.every((a) => Buffer.isBuffer(a)));
      assert.deepEqual(args.map(String), ['SET', 'k', 'v']);
    }
  });

  it('refuses damaged requests', () => {
    const bad: [string, unknown][] = [
      ['not an object', 'SET k v'],
      ['null', null],
      ['no argv', { protocol: 2 }],
      ['empty argv', { argv: [], protocol: 2 }],
      ['a string argument', { argv: [Buffer.from('GET'), 'k'], protocol: 2 }],
      ['a number argument', { argv: [Buffer.from('GET'), 7], protocol: 2 }],
      ['argv not an array', { argv: { 0: Buffer.from('GET') }, protocol: 2 }],
      ['an unknown protocol', { argv: argv('GET', 'k'), protocol: 4 }],
      ['a protocol as text', { argv: argv('GET', 'k'), protocol: '2' }],
    ];
    for (const [what, payload] of bad) assert.equal(isForwardRequest(wire(payload)), false, what);
  });

  it('refuses more arguments or bytes than the limits', () => {
    const many = new Array<Uint8Array>(FORWARD_ARGV_COUNT_MAX + 1).fill(new Uint8Array(0));
    assert.equal(isForwardRequest({ argv: many, protocol: 2 }), false);
    assert.equal(isForwardRequest({ argv: [Buffer.from('SET'), Buffer.from('k'), new Uint8Array(FORWARD_ARGV_BYTES_MAX)], protocol: 2 }), false);
    assert.equal(isForwardRequest({ argv: [Buffer.from('SET'), Buffer.from('k'), new Uint8Array(FORWARD_ARGV_BYTES_MAX - 4)], protocol: 2 }), true);
  });
});

describe('forwarded reply check', () => {
  const replies: Reply[] = [
    { kind: 'simple', value: 'OK' },
    { kind: 'error', message: 'MOVED 12 127.0.0.1:7002' },
    { kind: 'int', value: 42 },
    { kind: 'int', value: -(2n ** 63n) },
    { kind: 'bulk', value: Buffer.from([0, 1, 255]) },
    { kind: 'bulk', value: 'text' },
    { kind: 'null' },
    { kind: 'null-array' },
    { kind: 'array', items: [{ kind: 'bulk', value: Buffer.from('a') }, { kind: 'null' }, { kind: 'array', items: [] }] },
    { kind: 'set', items: [{ kind: 'bulk', value: Buffer.from('m') }] },
    {
      kind: 'map',
      entries: [
        [
          { kind: 'bulk', value: Buffer.from('f') },
          { kind: 'double', value: 1.5 },
        ],
      ],
    },
    { kind: 'bool', value: true },
    { kind: 'verbatim', format: 'txt', text: 'hello' },
  ];

  it('passes every kind of reply through, byte strings as Buffers', () => {
    for (const reply of replies) {
      const checked = forwardedReply(wire(reply));
      assert.deepEqual(checked, reply, reply.kind);
    }
    const bulk = forwardedReply(wire({ kind: 'bulk', value: Buffer.from('x') }));
    assert.ok(bulk?.kind === 'bulk' && Buffer.isBuffer(bulk.value));
  });

  it('refuses damaged replies', () => {
    const bad: [string, unknown][] = [
      ['not an object', 'OK'],
      ['an unknown kind', { kind: 'push', items: [] }],
      ['a simple string without text', { kind: 'simple' }],
      ['an error message as bytes', { kind: 'error', message: Buffer.from('ERR') }],
      ['a fractional integer', { kind: 'int', value: 1.5 }],
      ['an integer beyond 2^53 as a double', { kind: 'int', value: 2 ** 60 }],
      ['a bulk number', { kind: 'bulk', value: 3 }],
      ['array items not an array', { kind: 'array', items: { kind: 'null' } }],
      ['a damaged item', { kind: 'array', items: [{ kind: 'null' }, { kind: 'what' }] }],
      ['a map entry of one', { kind: 'map', entries: [[{ kind: 'null' }]] }],
      ['a double as text', { kind: 'double', value: '1.5' }],
      ['a bool as a number', { kind: 'bool', value: 1 }],
      // The writer asserts a 3-byte format: a peer's reply must never reach that assertion.
      ['a verbatim format of 4 bytes', { kind: 'verbatim', format: 'text', text: 'x' }],
    ];
    for (const [what, payload] of bad) assert.equal(forwardedReply(wire(payload)), undefined, what);
  });

  it('refuses a reply nested deeper than any key command answers', () => {
    let deep: unknown = { kind: 'null' };
    for (let i = 0; i < 40; i++) deep = { kind: 'array', items: [deep] };
    assert.equal(forwardedReply(wire(deep)), undefined);
  });
});
