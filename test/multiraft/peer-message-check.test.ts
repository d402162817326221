/**
 * The checks of what peers send, on values as they come off the wire (msgpack round trip): every message
 * Raft and the driver build passes, and each kind of damage is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPLICA_ID_STRIDE } from '../../src/common/replica-ids.js';
import { peerBatchCheck } from '../../src/multiraft/peer-message-check.js';
import type { PeerMessage } from '../../src/multiraft/peer-message.js';
import { isSplitRequest, isTargetAnswer } from '../../src/split/split-wire-check.js';
import type { Message } from '../../src/raft/index.js';
import { encodeShardCommand } from '../../src/shard/shard-command.js';
import { decodeFrameBody, encodeFrameBytes, FRAME_HEADER_BYTES } from '../../src/transport/index.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const wire = (value: unknown): unknown => decodeFrameBody(encodeFrameBytes(value).subarray(FRAME_HEADER_BYTES));
const check = peerBatchCheck(1);
const accepts = (messages: unknown[], from = 'node2'): boolean => check(wire(messages), from);

/** One of every Raft message type, from node2 to node1. */
const RAFT: Message[] = [
  {
    type: 'MsgApp',
    from: 2,
    to: 1,
    term: 4,
    index: 5,
    logTerm: 3,
    commit: 5,
    entries: [
      { term: 3, index: 6, type: 'normal', data: bytes(1) },
      { term: 4, index: 7, type: 'confChange', data: bytes(2) },
    ],
  },
  { type: 'MsgApp', from: 2, to: 1, term: 4, index: 0, logTerm: 0, commit: 0, entries: [] },
  { type: 'MsgAppResp', from: 2, to: 1, term: 4, index: 5, reject: true, rejectHint: 3, logTerm: 2 },
  { type: 'MsgVote', from: 2, to: 1, term: 4, index: 5, logTerm: 3, transfer: false },
  { type: 'MsgPreVote', from: 2, to: 1, term: 5, index: 5, logTerm: 3, transfer: true },
  { type: 'MsgVoteResp', from: 2, to: 1, term: 4, reject: false, commit: 3, commitTerm: 2 },
  { type: 'MsgPreVoteResp', from: 2, to: 1, term: 4, reject: true, commit: 3, commitTerm: 2 },
  { type: 'MsgHeartbeat', from: 2, to: 1, term: 4, commit: 5, context: null },
  { type: 'MsgHeartbeat', from: 2, to: 1, term: 4, commit: 5, context: bytes(9, 9) },
  { type: 'MsgHeartbeatResp', from: 2, to: 1, term: 4, context: null },
  { type: 'MsgSnap', from: 2, to: 1, term: 4, snapshot: { metadata: { index: 9, term: 4, confState: { voters: [1, 2, 3], learners: [4, 7] } }, data: new Uint8Array(0) } },
  { type: 'MsgTimeoutNow', from: 2, to: 1, term: 4 },
  { type: 'MsgReadIndex', from: 2, to: 1, term: 4, context: bytes(1) },
  { type: 'MsgReadIndexResp', from: 2, to: 1, term: 4, index: 8, context: bytes(1) },
  { type: 'MsgTransferLeader', from: 2, to: 1, term: 4, transferee: 3 },
];

const DRIVER: PeerMessage[] = [
  { t: 'snap-req', g: 's1', r: 2, snap: 3, cursor: null },
  { t: 'snap-req', g: 's1', r: 2 + 3 * REPLICA_ID_STRIDE, snap: 3, cursor: bytes(4) },
  { t: 'snap-chunk', g: 's1', snap: 3, cursor: null, chunk: { entries: [bytes(1), bytes(2)], next: bytes(5), meta: null, clockMs: 1_700_000_000_000 } },
  { t: 'snap-chunk', g: 's1', snap: 3, cursor: bytes(5), chunk: { entries: [], next: null } },
  { t: 'not-member', g: 's1', index: 40 },
  // The pilot group's snapshot is one entry: the pairing of entries is its state machine's business.
  { t: 'snap-chunk', g: 'pilot', snap: 3, cursor: null, chunk: { entries: [bytes(7)], next: null } },
  { t: 'snap-gone', g: 's1', snap: 3 },
];

describe('peer batch check', () => {
  it('accepts every Raft message type and every driver message, alone and batched', () => {
    for (const m of RAFT) assert.ok(accepts([{ t: 'raft', g: 's1', m }]), m.type);
    for (const message of DRIVER) assert.ok(accepts([message]), JSON.stringify(message));
    assert.ok(accepts([...RAFT.map((m) => ({ t: 'raft', g: 's1', m })), ...DRIVER]));
    assert.ok(accepts([]));
  });

  const heartbeat = RAFT[7]!;
  const app = RAFT[0] as Extract<Message, { type: 'MsgApp' }>;
  const snap = RAFT[10] as Extract<Message, { type: 'MsgSnap' }>;
  const raft = (m: unknown): unknown => ({ t: 'raft', g: 's1', m });
  const withConf = (voters: unknown, learners: unknown): unknown =>
    raft({ ...snap, snapshot: { ...snap.snapshot, metadata: { ...snap.snapshot.metadata, confState: { voters, learners } } } });
  const refused: [string, unknown][] = [
    ['null', null],
    ['a string', 'raft'],
    ['no group', { t: 'raft', m: heartbeat }],
    ['an empty group id', { t: 'raft', g: '', m: heartbeat }],
    ['a group id of 300 characters', { t: 'raft', g: 'x'.repeat(300), m: heartbeat }],
    ['an unknown kind', { t: 'snap-bogus', g: 's1', snap: 1 }],
    ['no Raft message', { t: 'raft', g: 's1' }],
    ['an unknown Raft type', raft({ ...heartbeat, type: 'MsgProp' })],
    ['a string term', raft({ ...heartbeat, term: '4' })],
    ['a negative term', raft({ ...heartbeat, term: -1 })],
    ['a fractional commit', raft({ ...heartbeat, commit: 1.5 })],
    ['a 64-bit term', raft({ ...heartbeat, term: 2n ** 63n })],
    ['sender 0', raft({ ...heartbeat, from: 0 })],
    ["a sender other than the frame's", raft({ ...heartbeat, from: 3 })],
    ['a receiver other than this node', raft({ ...heartbeat, to: 3 })],
    ['a sender replica of another node', raft({ ...heartbeat, from: 3 + REPLICA_ID_STRIDE })],
    ['a receiver replica of another node', raft({ ...heartbeat, to: 3 + 2 * REPLICA_ID_STRIDE })],
    ['a snapshot request for a replica of another node', { t: 'snap-req', g: 's1', r: 3, snap: 1, cursor: null }],
    ['a snapshot request naming no replica', { t: 'snap-req', g: 's1', snap: 1, cursor: null }],
    ['a numeric heartbeat context', raft({ ...heartbeat, context: 5 })],
    ['a missing reject flag', raft({ ...RAFT[2]!, reject: undefined })],
    ['entries that are not an array', raft({ ...app, entries: { length: 1 } })],
    ['a null entry', raft({ ...app, entries: [null] })],
    ['an entry out of sequence', raft({ ...app, entries: [{ ...app.entries[0]!, index: 7 }] })],
    ['entry terms going down', raft({ ...app, entries: [app.entries[1], { ...app.entries[0]!, index: 7 }].map((e, i) => ({ ...e, index: 6 + i })) })],
    ['an entry term past the message term', raft({ ...app, entries: [{ ...app.entries[0]!, term: 5 }] })],
    ["an entry term before the previous entry's", raft({ ...app, logTerm: 4, entries: [app.entries[0]] })],
    ['an unknown entry type', raft({ ...app, entries: [{ ...app.entries[0]!, type: 'blob' }] })],
    ['string entry data', raft({ ...app, entries: [{ ...app.entries[0]!, data: 'x' }] })],
    ['a snapshot without metadata', raft({ ...snap, snapshot: { data: new Uint8Array(0) } })],
    ['unsorted voters', withConf([2, 1], [])],
    ['repeated voters', withConf([1, 1], [])],
    ['a voter who is a learner', withConf([1, 2], [2])],
    ['a voter id 0', withConf([0, 1], [])],
    ['learners that are not an array', withConf([1], null)],
    ['a transferee 0', raft({ ...RAFT[14]!, transferee: 0 })],
    ['a read index without context', raft({ ...RAFT[12]!, context: null })],
    ['a negative snapshot id', { t: 'snap-gone', g: 's1', snap: -1 }],
    ['a numeric cursor', { t: 'snap-req', g: 's1', snap: 1, cursor: 7 }],
    ['a string chunk entry', { t: 'snap-chunk', g: 's1', snap: 1, cursor: null, chunk: { entries: ['k', bytes(1)], next: null } }],
    ['a chunk without next', { t: 'snap-chunk', g: 's1', snap: 1, cursor: null, chunk: { entries: [] } }],
    ['a numeric chunk meta', { t: 'snap-chunk', g: 's1', snap: 1, cursor: null, chunk: { entries: [], next: null, meta: 1 } }],
    ['a chunk clock that is no number', { t: 'snap-chunk', g: 's1', snap: 1, cursor: null, chunk: { entries: [], next: null, meta: null, clockMs: '5' } }],
  ];
  for (const [what, message] of refused) {
    it(`refuses ${what}`, () => {
      assert.equal(accepts([message]), false);
      // One bad message spoils the batch it travels in.
      assert.equal(accepts([{ t: 'raft', g: 's1', m: heartbeat }, message]), false);
    });
  }

  it('accepts Raft messages between replica ids of the sending and the receiving node', () => {
    assert.ok(accepts([raft({ ...heartbeat, from: 2 + 4 * REPLICA_ID_STRIDE, to: 1 + 7 * REPLICA_ID_STRIDE })]));
  });

  it('maps senders as told (pilot replicas are not nodeN)', () => {
    const pilotCheck = peerBatchCheck(1, { senderOf: (from) => (from === 'pilot2' ? 2 : undefined), peerOf: (id) => id });
    const batch = wire([{ t: 'raft', g: 'pilot', m: RAFT[7] }]);
    assert.ok(pilotCheck(batch, 'pilot2'));
    assert.equal(pilotCheck(batch, 'node2'), false);
  });

  it('refuses a payload that is no batch, and a sender that is no node', () => {
    for (const payload of [42, null, 'x', { 0: heartbeat }]) assert.equal(check(wire(payload), 'node2'), false);
    assert.equal(check(wire([]), 'evil'), false);
  });
});

describe('split request and answer checks', () => {
  const forwarded = (data: Uint8Array) => encodeShardCommand({ kind: 'split-forward', taskId: 't1', entries: [{ index: 7, data }], throughIndex: 7 });
  const setX = encodeShardCommand({ kind: 'command', nowMs: 5, argv: [bytes(83, 69, 84), bytes(120), bytes(49)] });

  it('accepts what a source sends and a target answers', () => {
    const commands = [
      encodeShardCommand({ kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: 100, end: 200, snapshotIndex: 9, attempt: 1, sourceClockMs: 5 }),
      encodeShardCommand({ kind: 'split-ingest', taskId: 't1', snapshotIndex: 9, cursor: null, attempt: 1, entries: [bytes(1), bytes(2)], next: null }),
      forwarded(setX),
      forwarded(encodeShardCommand({ kind: 'expire', nowMs: 5, keys: [bytes(120)] })),
      encodeShardCommand({
        kind: 'split-handoff',
        taskId: 't1',
        finalIndex: 9,
        fromIndex: 8,
        entries: [{ index: 9, data: encodeShardCommand({ kind: 'flush', nowMs: 5 }) }],
        sourceClockMs: 5,
      }),
    ];
    for (const command of [null, ...commands]) assert.ok(isSplitRequest(wire({ shard: 's2', command })));
    const target = {
      role: 'target',
      taskId: 't1',
      source: 's1',
      splitSlot: 100,
      end: 200,
      snapshotIndex: 9,
      attempt: 1,
      nextCursor: null,
      snapshotDone: true,
      lastSourceIndex: 9,
      handedOff: false,
      bytesIngested: 10,
    };
    const source = { role: 'source', taskId: 't1', target: 's2', splitSlot: 100, end: 200, phase: 'begun', commitIndex: 0 };
    for (const answer of [
      { kind: 'ok', result: null, state: target, owned: { start: 100, end: 100 } },
      { kind: 'ok', result: { ok: true, state: source }, state: null, owned: null },
      { kind: 'ok', result: { ok: false, reason: 'stale', state: null }, state: null, owned: null },
      { kind: 'notLeader' },
      { kind: 'unreachable', reason: 'no replica answered' },
    ]) {
      assert.ok(isTargetAnswer(wire(answer)), JSON.stringify(answer));
    }
  });

  it('refuses a request whose command the target could not apply', () => {
    const requests: unknown[] = [
      42,
      { shard: 7, command: null },
      { shard: 's2', command: 'split-reset' },
      { shard: 's2', command: bytes(0xc1) },
      // A source's own entry or a key command is nothing a target proposes.
      { shard: 's2', command: encodeShardCommand({ kind: 'split-commit', taskId: 't1' }) },
      { shard: 's2', command: setX },
      { shard: 's2', command: encodeShardCommand({ kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: 300, end: 200, snapshotIndex: 9, attempt: 1, sourceClockMs: 5 }) },
      { shard: 's2', command: encodeShardCommand({ kind: 'split-ingest', taskId: 't1', snapshotIndex: 9, cursor: null, attempt: 1, entries: [bytes(1)], next: null }) },
      { shard: 's2', command: encodeShardCommand({ kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: 100, end: 200, snapshotIndex: 9, attempt: -1, sourceClockMs: 5 }) },
      {
        shard: 's2',
        command: encodeShardCommand({ kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: 100, end: 200, snapshotIndex: 9, attempt: 1, sourceClockMs: Number.NaN }),
      },
      { shard: 's2', command: forwarded(bytes(1, 2, 3)) },
      { shard: 's2', command: forwarded(encodeShardCommand({ kind: 'split-commit', taskId: 't1' })) },
      { shard: 's2', command: forwarded(encodeShardCommand({ kind: 'command', nowMs: 5, argv: [] })) },
    ];
    for (const request of requests) assert.equal(isSplitRequest(wire(request)), false, JSON.stringify(request));
  });

  it('refuses a malformed answer', () => {
    for (const answer of [
      null,
      { kind: 'ok' },
      { kind: 'ok', result: 1, state: null, owned: null },
      { kind: 'ok', result: null, state: { role: 'both' }, owned: null },
      { kind: 'unreachable' },
      { kind: 'maybe' },
    ]) {
      assert.equal(isTargetAnswer(wire(answer)), false, JSON.stringify(answer));
    }
  });
});
