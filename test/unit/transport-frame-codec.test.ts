import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../src/raft/index.js';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameError, decodeFrameBody, encodeFrameBytes } from '../../src/transport/index.js';
import { cmd, RaftNetwork } from '../support/raft-network.js';

function decodeAll(decoder: FrameDecoder, chunks: readonly Buffer[]): unknown[] {
  return chunks.flatMap((chunk) => decoder.push(chunk).map((body) => decodeFrameBody(body)));
}

const values: readonly unknown[] = [
  { kind: 'raft', n: 1 },
  ['array', 2, null, true],
  'a string with ünïcödé',
  { bytes: new Uint8Array([0, 1, 2, 255]), empty: new Uint8Array(0) },
  { big: new Uint8Array(3000).fill(7) },
  42,
];

/** One message of every type, with and without byte fields, as a Raft node would build them. */
const everyMessageType: readonly Message[] = [
  {
    type: 'MsgApp',
    from: 1,
    to: 2,
    term: 3,
    index: 10,
    logTerm: 2,
    commit: 9,
    entries: [
      { term: 3, index: 11, type: 'normal', data: cmd('set a 1') },
      { term: 3, index: 12, type: 'confChange', data: new Uint8Array([1, 2, 3]) },
      { term: 3, index: 13, type: 'normal', data: new Uint8Array(0) },
    ],
  },
  { type: 'MsgAppResp', from: 2, to: 1, term: 3, index: 13, reject: false, rejectHint: 0, logTerm: 0 },
  { type: 'MsgVote', from: 3, to: 1, term: 4, index: 13, logTerm: 3, transfer: true },
  { type: 'MsgPreVote', from: 3, to: 1, term: 5, index: 13, logTerm: 3, transfer: false },
  { type: 'MsgVoteResp', from: 1, to: 3, term: 4, reject: true, commit: 12, commitTerm: 3 },
  { type: 'MsgPreVoteResp', from: 1, to: 3, term: 5, reject: false, commit: 0, commitTerm: 0 },
  { type: 'MsgHeartbeat', from: 1, to: 2, term: 3, commit: 12, context: null },
  { type: 'MsgHeartbeat', from: 1, to: 2, term: 3, commit: 12, context: cmd('read-7') },
  { type: 'MsgHeartbeatResp', from: 2, to: 1, term: 3, context: cmd('read-7') },
  {
    type: 'MsgSnap',
    from: 1,
    to: 4,
    term: 3,
    snapshot: { metadata: { index: 100, term: 3, confState: { voters: [1, 2, 3], learners: [4] } }, data: new Uint8Array(5000).fill(9) },
  },
  { type: 'MsgTimeoutNow', from: 1, to: 2, term: 3 },
  { type: 'MsgReadIndex', from: 2, to: 1, term: 3, context: cmd('ctx') },
  { type: 'MsgReadIndexResp', from: 1, to: 2, term: 3, index: 12, context: cmd('ctx') },
  { type: 'MsgTransferLeader', from: 2, to: 1, term: 3, transferee: 3 },
];

describe('transport: frame codec', () => {
  it('decodes a stream split at every byte boundary', () => {
    const stream = Buffer.concat(values.map((v) => encodeFrameBytes(v)));
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoded = decodeAll(new FrameDecoder(), [stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(decoded, values, `cut at ${cut}`);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const stream = Buffer.concat(values.map((v) => encodeFrameBytes(v)));
    const chunks = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    assert.deepEqual(decodeAll(new FrameDecoder(), chunks), values);
  });

  it('decodes many frames from one chunk, in order', () => {
    const sent = Array.from({ length: 1000 }, (_, i) => ({ seq: i, data: new Uint8Array([i & 0xff]) }));
    const decoder = new FrameDecoder();
    assert.deepEqual(decodeAll(decoder, [Buffer.concat(sent.map((v) => encodeFrameBytes(v)))]), sent);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('refuses a frame whose header exceeds the limit before buffering its body', () => {
    const decoder = new FrameDecoder(1024);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(1025);
    assert.throws(() => decoder.push(header), FrameError);
    // Split header: the limit applies as soon as the fourth byte arrives.
    const split = new FrameDecoder(1024);
    assert.deepEqual(split.push(header.subarray(0, 2)), []);
    assert.throws(() => split.push(header.subarray(2)), /exceeds the limit of 1024/);
    const empty = new FrameDecoder(1024);
    assert.throws(() => empty.push(Buffer.alloc(FRAME_HEADER_BYTES)), /empty body/);
  });

  it('accepts a frame of exactly the limit', () => {
    const frame = encodeFrameBytes(new Uint8Array(100));
    const bodyBytes = frame.length - FRAME_HEADER_BYTES;
    assert.deepEqual(decodeAll(new FrameDecoder(bodyBytes), [frame]), [new Uint8Array(100)]);
    assert.throws(() => new FrameDecoder(bodyBytes - 1).push(frame), FrameError);
  });

  it('decodes byte fields as plain Uint8Arrays that do not alias the received chunk', () => {
    const chunk = encodeFrameBytes({ data: Buffer.from([1, 2, 3]) });
    const [value] = decodeAll(new FrameDecoder(), [chunk]) as [{ data: Uint8Array }];
    assert.equal(Object.getPrototypeOf(value.data), Uint8Array.prototype);
    chunk.fill(0);
    assert.deepEqual(value.data, new Uint8Array([1, 2, 3]));
  });

  it('round-trips a message of every Raft type unchanged, byte fields included', () => {
    for (const message of everyMessageType) {
      assert.deepStrictEqual(decodeAll(new FrameDecoder(), [encodeFrameBytes(message)]), [message], message.type);
    }
  });

  it('round-trips the messages of a real Raft run unchanged', () => {
    const network = new RaftNetwork({ voters: [1, 2, 3] });
    const seen: Message[] = [];
    network.intercept = (m) => {
      seen.push(m);
      return m;
    };
    network.campaign(1);
    network.stabilize();
    for (let i = 0; i < 5; i++) network.propose(1, `value ${i}`);
    network.stabilize();
    network.tickAll(3);
    network.stabilize();
    const types = new Set(seen.map((m) => m.type));
    for (const type of ['MsgPreVote', 'MsgVote', 'MsgApp', 'MsgAppResp', 'MsgHeartbeat'] as const) assert.ok(types.has(type), type);
    const decoder = new FrameDecoder();
    assert.deepStrictEqual(decodeAll(decoder, [Buffer.concat(seen.map((m) => encodeFrameBytes(m)))]), seen);
  });
});
