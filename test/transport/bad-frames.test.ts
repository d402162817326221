/**
 * Frames a peer must never be able to crash a node with, sent over a real socket to a real Transport that
 * checks payloads as a node does: each is refused at the edge, counted, and the transport keeps serving.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { pollUntil } from '../../src/common/poll.js';
import { peerBatchCheck } from '../../src/multiraft/peer-message-check.js';
import { isNodeId, type PeerMessage } from '../../src/multiraft/peer-message.js';
import { isSplitRequest, isTargetAnswer } from '../../src/split/split-wire-check.js';
import { encodeFrameBytes, Transport, TransportError, type Envelope, type PeerAddress } from '../../src/transport/index.js';
import { messageFrame, rawBusPeer, type RawBusPeer } from '../support/raw-bus-peer.js';

const SECRET = 'cluster-secret';
const opened: Transport[] = [];
const sockets: (Socket | RawBusPeer)[] = [];
after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(opened.map((t) => t.close()));
});

async function rawPeer(address: PeerAddress, identity: string): Promise<RawBusPeer> {
  const peer = await rawBusPeer(address, identity, SECRET);
  sockets.push(peer);
  return peer;
}

function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return pollUntil(condition, { what, timeoutMs, intervalMs: 2 });
}

/** A listener configured as a node's bus: node ids only, Raft batches and split requests checked. */
async function nodeBus(frameBytesMax?: number): Promise<{ bus: Transport; address: PeerAddress; received: Envelope<readonly PeerMessage[]>[] }> {
  const bus = new Transport({ nodeId: 'node1', clusterSecret: SECRET, isNodeId, ...(frameBytesMax === undefined ? {} : { frameBytesMax }) });
  opened.push(bus);
  const received: Envelope<readonly PeerMessage[]>[] = [];
  bus.on('raft', (envelope) => received.push(envelope), peerBatchCheck(1));
  // Answers what a TargetAnswer is not (`ok` without its fields), for the requester's check to refuse.
  bus.onRequest('split', (envelope) => ({ kind: 'ok', shard: envelope.payload.shard }), isSplitRequest);
  return { bus, address: await bus.listen('127.0.0.1', 0), received };
}

const heartbeat = (from: number, to = 1): PeerMessage => ({ t: 'raft', g: 's1', m: { type: 'MsgHeartbeat', from, to, term: 3, commit: 1, context: null } });

/** A valid peer (a real Transport) still exchanges messages with the listener. */
async function stillServes(address: PeerAddress, received: Envelope[], from = 'node3'): Promise<void> {
  const honest = new Transport({ nodeId: from, clusterSecret: SECRET, isNodeId });
  opened.push(honest);
  honest.setPeers(new Map([['node1', address]]));
  const before = received.length;
  honest.send('node1', 'raft', [heartbeat(Number(from.slice(4)))]);
  await until(() => received.length === before + 1, 'a valid batch after the bad frame');
  assert.deepEqual(received.at(-1)!.payload, [heartbeat(Number(from.slice(4)))]);
}

describe('bus: the handshake refuses a malformed identity', () => {
  for (const identity of ['evil', 'node0', 'node01', 'node99999999999999999999', '', 'node1']) {
    it(`refuses ${JSON.stringify(identity)} and counts it`, async () => {
      const { bus, address, received } = await nodeBus();
      const peer = await rawPeer(address, identity);
      assert.deepEqual(peer.answer, { t: 'refuse', reason: 'bad-identity' });
      await peer.closed;
      assert.equal(bus.counters.framesRejected.identity, 1);
      assert.equal(bus.counters.handshakesRefused, 1);
      await stillServes(address, received);
    });
  }
});

describe('bus: payloads that fail their check are dropped, counted, and the link stays usable', () => {
  const bad: [string, unknown][] = [
    ['a number', 42],
    ['[null]', [null]],
    ['a Raft message with a string term', [{ t: 'raft', g: 's1', m: { type: 'MsgHeartbeat', from: 2, to: 1, term: '3', commit: 1, context: null } }]],
    ['an unknown peer message kind', [{ t: 'bogus', g: 's1' }]],
    ['an unknown Raft message type', [{ t: 'raft', g: 's1', m: { type: 'MsgBogus', from: 2, to: 1, term: 3 } }]],
    ['a Raft message claiming another sender', [heartbeat(3)]],
    ['a Raft message for another node', [heartbeat(2, 5)]],
    [
      'an entry without data',
      [{ t: 'raft', g: 's1', m: { type: 'MsgApp', from: 2, to: 1, term: 3, index: 4, logTerm: 3, commit: 4, entries: [{ term: 3, index: 5, type: 'normal' }] } }],
    ],
    [
      'a snapshot with overlapping voters and learners',
      [
        {
          t: 'raft',
          g: 's1',
          m: { type: 'MsgSnap', from: 2, to: 1, term: 3, snapshot: { metadata: { index: 9, term: 3, confState: { voters: [1, 2], learners: [2] } }, data: new Uint8Array(0) } },
        },
      ],
    ],
    ['a snapshot chunk with a numeric cursor', [{ t: 'snap-chunk', g: 's1', snap: 1, cursor: 7, chunk: { entries: [], next: null } }]],
    ['a snapshot request with a negative id', [{ t: 'snap-req', g: 's1', r: 2, snap: -1, cursor: null }]],
  ];
  for (const [what, payload] of bad) {
    it(`drops ${what}`, async () => {
      const { bus, address, received } = await nodeBus();
      const peer = await rawPeer(address, 'node2');
      assert.deepEqual(peer.answer.t, 'accept');
      peer.write(messageFrame('raft', payload));
      peer.write(messageFrame('raft', [heartbeat(2)]));
      await until(() => received.length === 1, 'the valid batch sent after the bad one');
      assert.deepEqual(received[0]!.payload, [heartbeat(2)]);
      assert.equal(bus.counters.framesRejected.payload, 1);
      assert.equal(peer.isClosed(), false);
      await stillServes(address, received);
    });
  }

  it('answers a malformed split request with an error, and the requester rejects a malformed answer', async () => {
    const { bus, address } = await nodeBus();
    const requester = new Transport({ nodeId: 'node2', clusterSecret: SECRET, isNodeId });
    opened.push(requester);
    const requesterAddress = await requester.listen('127.0.0.1', 0);
    requester.setPeers(new Map([['node1', address]]));
    bus.setPeers(new Map([['node2', requesterAddress]]));
    await assert.rejects(
      requester.request('node1', 'split', { shard: 7, command: null }, 2000),
      (e: unknown) => e instanceof TransportError && e.code === 'remote' && /malformed/.test(e.message),
    );
    assert.equal(bus.counters.framesRejected.payload, 1);
    await assert.rejects(
      requester.request('node1', 'split', { shard: 's1', command: null }, 2000, isTargetAnswer),
      (e: unknown) => e instanceof TransportError && e.code === 'remote' && /malformed/.test(e.message),
    );
    assert.equal(requester.counters.framesRejected.payload, 1);
  });
});

describe('bus: frames that cannot be decoded close the link, counted', () => {
  const cases: [string, (frameBytesMax: number) => Buffer, 'oversize' | 'undecodable' | 'shape'][] = [
    ['an oversize frame header', (max) => Buffer.from([(max + 1) >>> 24, ((max + 1) >>> 16) & 0xff, ((max + 1) >>> 8) & 0xff, (max + 1) & 0xff]), 'oversize'],
    ['a huge msgpack array length', () => Buffer.from([0, 0, 0, 5, 0xdd, 0xff, 0xff, 0xff, 0xff]), 'undecodable'],
    [
      'a truncated msgpack body',
      () => {
        const full = messageFrame('raft', [heartbeat(2)]);
        const body = full.subarray(4, full.length - 6);
        const header = Buffer.alloc(4);
        header.writeUInt32BE(body.length);
        return Buffer.concat([header, body]);
      },
      'undecodable',
    ],
    ['an empty frame', () => Buffer.alloc(4), 'undecodable'],
    ['a value that is not a data frame', () => encodeFrameBytes({ t: 'raft' }), 'shape'],
    ['a message frame with a numeric kind', () => encodeFrameBytes([0, 7, []]), 'shape'],
  ];
  for (const [what, bytes, reason] of cases) {
    it(`closes on ${what}`, async () => {
      const frameBytesMax = 1 << 20;
      const { bus, address, received } = await nodeBus(frameBytesMax);
      const peer = await rawPeer(address, 'node2');
      peer.write(bytes(frameBytesMax));
      await peer.closed;
      assert.equal(bus.counters.framesRejected[reason], 1);
      assert.equal(bus.counters.protocolErrors, 1);
      assert.equal(received.length, 0);
      await stillServes(address, received, 'node2');
    });
  }

  it('counts an undecodable handshake frame and refuses the dialer', async () => {
    const { bus, address, received } = await nodeBus();
    const socket = connect(address.port, address.host);
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.resume();
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(Buffer.from([0, 0, 0, 5, 0xdd, 0xff, 0xff, 0xff, 0xff]));
    await closed;
    assert.equal(bus.counters.framesRejected.undecodable, 1);
    assert.equal(bus.counters.handshakesRefused, 1);
    await stillServes(address, received);
  });
});
