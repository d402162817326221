import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../src/raft/index.js';
import { COMMAND_BYTES_MAX_DEFAULT } from '../../src/resp/parser.js';
import {
  ATTACHMENT_BYTES_MIN,
  FRAME_BYTES_MAX_DEFAULT,
  FRAME_ENVELOPE_BYTES_MAX,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  decodeFrameBody,
  encodeFrame,
  encodeFrameBytes,
} from '../../src/transport/index.js';
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

  it('frames a large byte field without copying it, and decodes it as a view of the received body', () => {
    const data = new Uint8Array(100_000_000).fill(0x62);
    data[99_999_999] = 0x63;
    const message = {
      t: 'raft',
      g: 'shard_0001',
      m: {
        type: 'MsgApp',
        entries: [
          { index: 7, data },
          { index: 8, data: new Uint8Array([1, 2]) },
        ],
      },
    };
    const frame = encodeFrame(message);
    // The caller's buffer itself is among the parts written to the socket.
    assert.equal(frame.body.filter((part) => part.buffer === data.buffer).length, 1);
    const copiedBytes = frame.body.filter((part) => part.buffer !== data.buffer).reduce((n, part) => n + part.length, 0);
    assert.ok(copiedBytes < 1024, `${copiedBytes} bytes copied`);
    assert.equal(frame.bodyBytes, data.length + copiedBytes);
    assert.equal(frame.header.readUInt32BE(0), frame.bodyBytes);
    // As the decoder hands it over: one buffer holding the whole body.
    const body = Buffer.concat(frame.body, frame.bodyBytes);
    const decoded = decodeFrameBody(body) as typeof message;
    const received = decoded.m.entries[0]!.data;
    assert.equal(received.buffer, body.buffer);
    assert.equal(received.length, data.length);
    assert.equal(received[99_999_999], 0x63);
    assert.deepEqual(decoded.m.entries[1], { index: 8, data: new Uint8Array([1, 2]) });
  });

  it('round-trips byte fields on either side of the attachment size, in arrays and nested records', () => {
    const value = {
      small: new Uint8Array(ATTACHMENT_BYTES_MIN - 1).fill(1),
      list: [new Uint8Array(ATTACHMENT_BYTES_MIN).fill(2), 'x', { deep: new Uint8Array(ATTACHMENT_BYTES_MIN + 1).fill(3) }],
      empty: new Uint8Array(0),
    };
    const stream = encodeFrameBytes(value);
    assert.deepStrictEqual(decodeAll(new FrameDecoder(), [stream]), [value]);
    // Cut into socket-sized chunks, as it arrives.
    const chunks = Array.from({ length: Math.ceil(stream.length / 65536) }, (_, i) => stream.subarray(i * 65536, (i + 1) * 65536));
    assert.deepStrictEqual(decodeAll(new FrameDecoder(), chunks), [value]);
  });

  it('refuses a body whose attachments and references do not match', () => {
    const { body } = encodeFrame({ a: new Uint8Array(ATTACHMENT_BYTES_MIN) });
    const [packed, binHeader, bytes] = body as [Buffer, Buffer, Buffer];
    assert.throws(() => decodeFrameBody(Buffer.concat([packed])), /bad attachment references: 1 for 0/);
    assert.throws(() => decodeFrameBody(Buffer.concat([packed, binHeader, bytes, binHeader, bytes])), /bad attachment references: 1 for 2/);
    const plain = encodeFrameBytes({ a: 1 }).subarray(FRAME_HEADER_BYTES);
    assert.throws(() => decodeFrameBody(Buffer.concat([plain, binHeader, bytes])), /bad attachment references: 0 for 1/);
    const twice = encodeFrame({ a: new Uint8Array(ATTACHMENT_BYTES_MIN), b: new Uint8Array(ATTACHMENT_BYTES_MIN) }).body;
    assert.throws(() => decodeFrameBody(Buffer.concat([twice[0]!, binHeader, bytes, binHeader, bytes.subarray(1)])));
  });

  it('accepts by default a frame carrying the largest command a client may send', () => {
    assert.ok(FRAME_BYTES_MAX_DEFAULT >= COMMAND_BYTES_MAX_DEFAULT + FRAME_ENVELOPE_BYTES_MAX);
    assert.ok(FRAME_BYTES_MAX_DEFAULT < 2 ** 32, 'the header holds a 32-bit length');
  });
});
