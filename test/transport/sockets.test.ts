import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, describe, it } from 'node:test';
import { pollUntil } from '../../src/common/poll.js';
import type { Message } from '../../src/raft/index.js';
import { encodeFrameBytes, FaultInjector, FrameDecoder, Transport, TransportError, type Envelope, type PeerAddress, type TransportOptions } from '../../src/transport/index.js';
import { cmd, seededRandom } from '../support/raft-network.js';

const FAST_BACKOFF = { baseMs: 5, delayMsMax: 20, jitter: 0.5 };

/** Transports on 127.0.0.1, port 0, each with every other in its peers map; closed after the suite. */
const opened: Transport[] = [];
after(async () => {
  await Promise.all(opened.map((t) => t.close()));
});

async function cluster(ids: readonly string[], options: Partial<TransportOptions> = {}): Promise<{ transports: Map<string, Transport>; addresses: Map<string, PeerAddress> }> {
  const transports = new Map<string, Transport>();
  const addresses = new Map<string, PeerAddress>();
  for (const [i, id] of ids.entries()) {
    const transport = new Transport({ nodeId: id, clusterSecret: 'cluster-secret', backoff: FAST_BACKOFF, random: seededRandom(i + 1), ...options });
    opened.push(transport);
    transports.set(id, transport);
    addresses.set(id, await transport.listen('127.0.0.1', 0));
  }
  for (const transport of transports.values()) transport.setPeers(addresses);
  return { transports, addresses };
}

/** Every message of `kind` a transport receives, in arrival order. */
function collect(transport: Transport, kind = 'test'): Envelope[] {
  const received: Envelope[] = [];
  transport.on(kind, (envelope) => received.push(envelope));
  return received;
}

function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return pollUntil(condition, { what, timeoutMs, intervalMs: 2 });
}

function nonLoopbackIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (info.family === 'IPv4' && !info.internal) return info.address;
  }
  return undefined;
}

describe('transport: messages over loopback sockets', () => {
  it('delivers messages between three nodes, in order per sender', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const { transports } = await cluster(ids);
    const inboxes = new Map(ids.map((id) => [id, collect(transports.get(id)!)]));
    const perPair = 300;
    // Several event-loop turns, each interleaving sends to both peers.
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < perPair / 10; i++) {
        for (const from of ids) for (const to of ids) if (from !== to) assert.ok(transports.get(from)!.send(to, 'test', { seq: turn * (perPair / 10) + i }));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => [...inboxes.values()].every((inbox) => inbox.length === 2 * perPair), 'all messages');
    for (const [to, inbox] of inboxes) {
      for (const from of ids) {
        if (from === to) continue;
        const seqs = inbox.filter((e) => e.from === from).map((e) => (e.payload as { seq: number }).seq);
        assert.deepEqual(
          seqs,
          Array.from({ length: perPair }, (_, i) => i),
          `${from} → ${to}`,
        );
        assert.ok(inbox.every((e) => e.to === to && e.kind === 'test'));
      }
    }
  });

  it('sends everything queued for a peer in one event-loop turn as one socket write', async () => {
    const { transports } = await cluster(['a', 'b']);
    const a = transports.get('a')!;
    const inbox = collect(transports.get('b')!);
    a.send('b', 'test', 'warm-up');
    await until(() => inbox.length === 1, 'warm-up');
    const before = { ...a.peerCounters('b') };
    for (let i = 0; i < 500; i++) a.send('b', 'test', i);
    await until(() => inbox.length === 501, 'burst');
    const counters = a.peerCounters('b');
    assert.equal(counters.writes - before.writes, 1);
    assert.equal(counters.framesSent - before.framesSent, 500);
    assert.equal(transports.get('b')!.peerCounters('a').framesReceived, 501);
  });

  it('carries Raft messages unchanged, byte fields included', async () => {
    const { transports } = await cluster(['a', 'b']);
    const inbox = collect(transports.get('b')!, 'raft');
    const messages: Message[] = [
      { type: 'MsgApp', from: 1, to: 2, term: 2, index: 5, logTerm: 2, commit: 5, entries: [{ term: 2, index: 6, type: 'normal', data: cmd('x') }] },
      { type: 'MsgHeartbeat', from: 1, to: 2, term: 2, commit: 5, context: null },
      {
        type: 'MsgSnap',
        from: 1,
        to: 2,
        term: 2,
        snapshot: { metadata: { index: 5, term: 2, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(300_000).fill(3) },
      },
    ];
    transports.get('a')!.send('b', 'raft', { shard: 's1', messages });
    await until(() => inbox.length === 1, 'raft batch');
    assert.deepStrictEqual(inbox[0]!.payload, { shard: 's1', messages });
  });

  it('delivers a 100 MB byte field, and the small frames sent before it first', async () => {
    const { transports } = await cluster(['a', 'b']);
    const inbox = collect(transports.get('b')!);
    const data = new Uint8Array(100_000_000).fill(0x62);
    const a = transports.get('a')!;
    assert.ok(a.send('b', 'test', { seq: 1 }));
    assert.ok(a.send('b', 'test', { seq: 2, data }));
    await until(() => inbox.length === 2, 'the large message', 60_000);
    assert.deepEqual(inbox[0]!.payload, { seq: 1 });
    const received = (inbox[1]!.payload as { data: Uint8Array }).data;
    assert.equal(received.length, data.length);
    assert.ok(Buffer.from(received.buffer, received.byteOffset, received.byteLength).equals(data));
    assert.equal(a.counters.dropsTooLarge, 0);
  });

  it('reconnects after the listener restarts, with backoff, and delivers what is sent afterwards', async () => {
    const unreachable: string[] = [];
    const a = new Transport({ nodeId: 'a', clusterSecret: 's', backoff: FAST_BACKOFF, random: seededRandom(3), onUnreachable: (peer) => unreachable.push(peer) });
    const b1 = new Transport({ nodeId: 'b', clusterSecret: 's' });
    opened.push(a, b1);
    const address = await b1.listen('127.0.0.1', 0);
    a.setPeers(new Map([['b', address]]));
    const first = collect(b1);
    a.send('b', 'test', 'before');
    await until(() => first.length === 1, 'first message');
    await b1.close();
    // The broken connection is noticed; sends fail while the peer is away.
    await until(() => unreachable.length > 0, 'unreachable report');
    // Restart on the same port (the kernel gave it to b1 a moment ago).
    const b2 = new Transport({ nodeId: 'b', clusterSecret: 's' });
    opened.push(b2);
    await b2.listen('127.0.0.1', address.port);
    const second = collect(b2);
    await until(() => {
      a.send('b', 'test', 'probe');
      return second.length > 0;
    }, 'reconnection');
    for (let i = 0; i < 100; i++) a.send('b', 'test', i);
    await until(() => second.filter((e) => typeof e.payload === 'number').length === 100, 'messages after reconnection');
    assert.deepEqual(
      second.map((e) => e.payload).filter((p) => typeof p === 'number'),
      Array.from({ length: 100 }, (_, i) => i),
    );
    const counters = a.peerCounters('b');
    assert.ok(counters.reconnects >= 1 && counters.connects >= 2, JSON.stringify(counters));
    assert.ok(counters.connectFailures >= 1);
  });

  it('follows a peer to its new address after setPeers', async () => {
    const { transports, addresses } = await cluster(['a', 'b']);
    const a = transports.get('a')!;
    const oldInbox = collect(transports.get('b')!);
    a.send('b', 'test', 'old');
    await until(() => oldInbox.length === 1, 'old address');
    const moved = new Transport({ nodeId: 'b', clusterSecret: 'cluster-secret' });
    opened.push(moved);
    const newAddress = await moved.listen('127.0.0.1', 0);
    const newInbox = collect(moved);
    a.setPeers(new Map([...addresses, ['b', newAddress]]));
    a.send('b', 'test', 'new');
    await until(() => newInbox.length === 1, 'new address');
    assert.equal(oldInbox.length, 1);
  });

  it('refuses a dialer with the wrong secret and counts it', async () => {
    const unreachable: string[] = [];
    const listener = new Transport({ nodeId: 'b', clusterSecret: 'right' });
    const intruder = new Transport({ nodeId: 'a', clusterSecret: 'wrong', backoff: FAST_BACKOFF, onUnreachable: (_peer, reason) => unreachable.push(reason) });
    opened.push(listener, intruder);
    const address = await listener.listen('127.0.0.1', 0);
    intruder.setPeers(new Map([['b', address]]));
    const inbox = collect(listener);
    intruder.send('b', 'test', 'let me in');
    await until(() => unreachable.length > 0, 'refusal');
    assert.match(unreachable[0]!, /bad-proof/);
    assert.equal(listener.counters.handshakesRefused, 1);
    assert.equal(inbox.length, 0);
    assert.equal(intruder.peerCounters('b').connects, 0);
  });

  it('refuses a listener that cannot prove the secret (not a node of this cluster)', async () => {
    // A listener that accepts anyone with a made-up proof.
    const impostor = createServer((socket) => {
      const decoder = new FrameDecoder(1024);
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        if (decoder.push(chunk).length > 0) socket.write(encodeFrameBytes({ t: 'accept', proof: new Uint8Array(32) }));
      });
      socket.write(encodeFrameBytes({ t: 'challenge', nonce: new Uint8Array(32), nodeId: 'b' }));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const unreachable: string[] = [];
    const dialer = new Transport({ nodeId: 'a', clusterSecret: 'ours', backoff: FAST_BACKOFF, onUnreachable: (_peer, reason) => unreachable.push(reason) });
    opened.push(dialer);
    dialer.setPeers(new Map([['b', { host: '127.0.0.1', port: (impostor.address() as AddressInfo).port }]]));
    dialer.send('b', 'test', 'secret data');
    await until(() => unreachable.length > 0, 'dialer refusal');
    assert.match(unreachable[0]!, /listener proof/);
    assert.equal(dialer.peerCounters('b').framesSent, 0);
    await new Promise((resolve) => impostor.close(resolve));
  });

  it('a listener without the secret refuses a dialer that has one (mismatched configuration)', async () => {
    const unreachable: string[] = [];
    const open = new Transport({ nodeId: 'b' });
    const dialer = new Transport({ nodeId: 'a', clusterSecret: 'ours', backoff: FAST_BACKOFF, onUnreachable: (_peer, reason) => unreachable.push(reason) });
    opened.push(open, dialer);
    dialer.setPeers(new Map([['b', await open.listen('127.0.0.1', 0)]]));
    dialer.send('b', 'test', 'hello?');
    await until(() => unreachable.length > 0, 'refusal');
    assert.match(unreachable[0]!, /bad-proof/);
  });

  it('refuses a dialer that reached the wrong node id', async () => {
    const unreachable: string[] = [];
    const { transports, addresses } = await cluster(['a', 'b', 'c']);
    const a = new Transport({ nodeId: 'a2', clusterSecret: 'cluster-secret', onUnreachable: (_peer, reason) => unreachable.push(reason) });
    opened.push(a);
    // A stale routing table: 'c' is listed at b's address.
    a.setPeers(new Map([['c', addresses.get('b')!]]));
    a.send('c', 'test', 'x');
    await until(() => unreachable.length > 0, 'wrong node');
    assert.match(unreachable[0]!, /reached b instead of c/);
    assert.equal(transports.get('b')!.counters.handshakesRefused, 0, 'the dialer hangs up itself');
  });

  it('closes a connection that does not complete the handshake in time', async () => {
    const listener = new Transport({ nodeId: 'b', clusterSecret: 's', handshakeTimeoutMs: 50 });
    opened.push(listener);
    const address = await listener.listen('127.0.0.1', 0);
    const socket = connect(address.port, '127.0.0.1');
    socket.resume(); // read (and discard) the challenge, so the close is seen
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    await closed;
    assert.equal(listener.counters.handshakesRefused, 1);
  });

  it('refuses an oversize frame from an unauthenticated dialer at once', async () => {
    const listener = new Transport({ nodeId: 'b', clusterSecret: 's' });
    opened.push(listener);
    const address = await listener.listen('127.0.0.1', 0);
    const socket = connect(address.port, '127.0.0.1');
    socket.resume();
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await closed;
    assert.equal(listener.counters.handshakesRefused, 1);
  });

  it('without a secret, refuses dialers from non-loopback addresses', async (t) => {
    const external = nonLoopbackIPv4();
    if (external === undefined) return t.skip('no non-loopback IPv4 interface');
    const listener = new Transport({ nodeId: 'b' });
    opened.push(listener);
    const { port } = await listener.listen('0.0.0.0', 0);
    const unreachable: string[] = [];
    const dialer = new Transport({ nodeId: 'a', backoff: FAST_BACKOFF, onUnreachable: (_p, reason) => unreachable.push(reason) });
    opened.push(dialer);
    dialer.setPeers(new Map([['b', { host: external, port }]]));
    const inbox = collect(listener);
    dialer.send('b', 'test', 'x');
    await until(() => unreachable.length > 0, 'refusal');
    assert.match(unreachable[0]!, /not-loopback/);
    assert.equal(listener.counters.handshakesRefused, 1);
    // The same listener accepts a loopback dialer.
    const local = new Transport({ nodeId: 'c' });
    opened.push(local);
    local.setPeers(new Map([['b', { host: '127.0.0.1', port }]]));
    local.send('b', 'test', 'y');
    await until(() => inbox.length === 1, 'loopback delivery');
  });

  it('drops the oldest frames when the send queue is full', async () => {
    const { transports } = await cluster(['a', 'b'], { sendQueueBytesMax: 2000 });
    const a = transports.get('a')!;
    const inbox = collect(transports.get('b')!);
    // Queued while connecting: 100 × ~110 bytes cannot all fit in 2000.
    for (let i = 0; i < 100; i++) a.send('b', 'test', { i, pad: 'x'.repeat(90) });
    await until(() => inbox.length > 0 && a.peerCounters('b').framesSent === inbox.length, 'delivery');
    const received = inbox.map((e) => (e.payload as { i: number }).i);
    assert.ok(received.length < 100 && received.length > 5, `${received.length} received`);
    assert.deepEqual(
      received,
      Array.from({ length: received.length }, (_, k) => 100 - received.length + k),
      'the newest survive, in order',
    );
    assert.equal(a.peerCounters('b').dropsQueueFull, 100 - received.length);
    assert.equal(a.send('b', 'test', 'x'.repeat(3000)), false, 'a frame larger than the queue is refused');
  });

  it('counts sends to unknown peers and oversize frames as drops', async () => {
    const { transports } = await cluster(['a', 'b'], { frameBytesMax: 1000 });
    const a = transports.get('a')!;
    assert.equal(a.send('nobody', 'test', 1), false);
    assert.equal(a.counters.dropsUnknownPeer, 1);
    assert.equal(a.send('b', 'test', new Uint8Array(2000)), false);
    assert.equal(a.counters.dropsTooLarge, 1);
  });
});

describe('transport: requests', () => {
  it('answers a request and correlates concurrent ones', async () => {
    const { transports } = await cluster(['a', 'b']);
    transports.get('b')!.onRequest('echo', async (e) => {
      const n = e.payload as number;
      // Answer out of order: later requests first.
      await new Promise((resolve) => setTimeout(resolve, 50 - n));
      return { n, from: e.from };
    });
    const a = transports.get('a')!;
    const responses = await Promise.all(Array.from({ length: 20 }, (_, n) => a.request('b', 'echo', n, 2000)));
    assert.deepEqual(
      responses,
      Array.from({ length: 20 }, (_, n) => ({ n, from: 'a' })),
    );
    assert.equal(a.requestsOutstanding, 0);
  });

  it('fails with remote for a missing handler or a throwing one', async () => {
    const { transports } = await cluster(['a', 'b']);
    transports.get('b')!.onRequest('fail', () => {
      throw new Error('no such shard');
    });
    const a = transports.get('a')!;
    await assert.rejects(a.request('b', 'fail', null, 2000), (e: unknown) => e instanceof TransportError && e.code === 'remote' && /no such shard/.test(e.message));
    await assert.rejects(a.request('b', 'missing', null, 2000), (e: unknown) => e instanceof TransportError && e.code === 'remote' && /no handler/.test(e.message));
  });

  it('times out when no answer comes, and bounds outstanding requests', async () => {
    const { transports } = await cluster(['a', 'b'], { requestsOutstandingMax: 2 });
    transports.get('b')!.onRequest('never', () => new Promise(() => undefined));
    const a = transports.get('a')!;
    const started = Date.now();
    const first = a.request('b', 'never', null, 100);
    const second = a.request('b', 'never', null, 100);
    await assert.rejects(a.request('b', 'never', null, 100), (e: unknown) => e instanceof TransportError && e.code === 'overloaded');
    await assert.rejects(first, (e: unknown) => e instanceof TransportError && e.code === 'timeout');
    await assert.rejects(second, (e: unknown) => e instanceof TransportError && e.code === 'timeout');
    assert.ok(Date.now() - started >= 95);
    assert.equal(a.requestsOutstanding, 0);
  });

  it('fails at once for an unknown peer and after close', async () => {
    const a = new Transport({ nodeId: 'a' });
    await assert.rejects(a.request('b', 'x', null, 1000), (e: unknown) => e instanceof TransportError && e.code === 'unknown-peer');
    await a.close();
    await assert.rejects(a.request('b', 'x', null, 1000), (e: unknown) => e instanceof TransportError && e.code === 'closed');
  });
});

describe('transport: fault injection over sockets', () => {
  /** Sends `payload` from → to, then heals nothing and returns whether it arrived, using a later marker. */
  async function arrives(transports: Map<string, Transport>, inboxes: Map<string, Envelope[]>, from: string, to: string, faults: FaultInjector): Promise<boolean> {
    const inbox = inboxes.get(to)!;
    const start = inbox.length;
    const tag = `${from}->${to}@${start}`;
    transports.get(from)!.send(to, 'test', tag);
    // A marker sent after the faults are lifted arrives after the message, if the message was sent at all.
    const saved = snapshotRules(faults);
    faults.reset();
    transports.get(from)!.send(to, 'test', 'marker');
    await until(() => inbox.slice(start).some((e) => e.payload === 'marker' && e.from === from), `marker ${from} → ${to}`);
    saved();
    const got = inbox.slice(start).some((e) => e.payload === tag);
    inbox.length = start;
    return got;
  }

  /** Captures a partition state to restore (the tests below only use partitions). */
  function snapshotRules(faults: FaultInjector): () => void {
    const pairs: [string, string][] = [];
    for (const from of ['n1', 'n2', 'n3']) for (const to of ['n1', 'n2', 'n3']) if (from !== to && faults.isBlocked(from, to)) pairs.push([from, to]);
    return () => {
      for (const [from, to] of pairs) faults.partition([from], [to], 'a-to-b');
    };
  }

  async function threeNodes(faults: FaultInjector): Promise<{ transports: Map<string, Transport>; inboxes: Map<string, Envelope[]> }> {
    const { transports } = await cluster(['n1', 'n2', 'n3'], { faults });
    const inboxes = new Map([...transports].map(([id, t]) => [id, collect(t)]));
    return { transports, inboxes };
  }

  it('a partition blocks delivery both ways; heal restores it', async () => {
    const faults = new FaultInjector(seededRandom(1));
    const { transports, inboxes } = await threeNodes(faults);
    faults.partition(['n1'], ['n2', 'n3']);
    assert.equal(await arrives(transports, inboxes, 'n1', 'n2', faults), false);
    assert.equal(await arrives(transports, inboxes, 'n2', 'n1', faults), false);
    assert.equal(await arrives(transports, inboxes, 'n3', 'n1', faults), false);
    assert.equal(await arrives(transports, inboxes, 'n2', 'n3', faults), true);
    faults.heal();
    assert.equal(await arrives(transports, inboxes, 'n1', 'n2', faults), true);
    assert.equal(await arrives(transports, inboxes, 'n2', 'n1', faults), true);
    assert.ok(transports.get('n1')!.peerCounters('n2').dropsFault >= 1);
  });

  it('a one-way partition blocks only its direction', async () => {
    const faults = new FaultInjector(seededRandom(2));
    const { transports, inboxes } = await threeNodes(faults);
    faults.partition(['n1'], ['n2'], 'a-to-b');
    assert.equal(await arrives(transports, inboxes, 'n1', 'n2', faults), false);
    assert.equal(await arrives(transports, inboxes, 'n2', 'n1', faults), true);
  });

  it("a partition set on one transport's own injector cuts both directions at that node", async () => {
    const { transports } = await cluster(['n1', 'n2']);
    const n1 = transports.get('n1')!;
    const n2 = transports.get('n2')!;
    const at1 = collect(n1);
    const at2 = collect(n2);
    n1.faults.partition(['n1'], ['n2']);
    n1.send('n2', 'test', 'lost');
    n2.send('n1', 'test', 'lost');
    // Received and refused by n1: wait for the frame to be counted, then heal and check nothing leaked.
    await until(() => n1.peerCounters('n2').dropsFault === 2, 'both drops');
    n1.faults.heal();
    n2.send('n1', 'test', 'after');
    n1.send('n2', 'test', 'after');
    await until(() => at1.length === 1 && at2.length === 1, 'after heal');
    assert.deepEqual([at1[0]!.payload, at2[0]!.payload], ['after', 'after']);
  });

  it("a one-way partition set on one transport's own injector cuts only what that node sends", async () => {
    const { transports } = await cluster(['n1', 'n2']);
    const n1 = transports.get('n1')!;
    const n2 = transports.get('n2')!;
    const at1 = collect(n1);
    const at2 = collect(n2);
    n1.faults.partition(['n1'], ['n2'], 'a-to-b');
    n1.send('n2', 'test', 'lost');
    n2.send('n1', 'test', 'arrives');
    await until(() => at1.length === 1, 'n2 → n1 still delivered');
    assert.equal(at1[0]!.payload, 'arrives');
    assert.equal(n1.peerCounters('n2').dropsFault, 1);
    n1.faults.heal();
    n1.send('n2', 'test', 'after');
    await until(() => at2.length === 1, 'after heal');
    assert.equal(at2[0]!.payload, 'after');
  });

  it('a drop probability drops the expected fraction, as the seeded random decides', async () => {
    const seed = 42;
    const faults = new FaultInjector(seededRandom(seed));
    const { transports, inboxes } = await threeNodes(faults);
    const count = 2000;
    const p = 0.3;
    faults.setDrop('n1', 'n2', p);
    for (let i = 0; i < count; i++) transports.get('n1')!.send('n2', 'test', i);
    faults.setDrop('n1', 'n2', 0);
    transports.get('n1')!.send('n2', 'test', 'end');
    const inbox = inboxes.get('n2')!;
    await until(() => inbox.some((e) => e.payload === 'end'), 'end marker');
    const delivered = inbox.map((e) => e.payload).filter((x): x is number => typeof x === 'number');
    // The same seed replays the same decisions: exactly these messages survive.
    const replay = seededRandom(seed);
    const expected = Array.from({ length: count }, (_, i) => i).filter(() => replay() >= p);
    assert.deepEqual(delivered, expected);
    assert.ok(Math.abs(delivered.length / count - (1 - p)) < 0.04, `${delivered.length} of ${count} delivered`);
    assert.equal(transports.get('n1')!.peerCounters('n2').dropsFault, count - delivered.length);
  });

  it('a delay holds messages at least the configured time, and keeps their order', async () => {
    const faults = new FaultInjector();
    const { transports, inboxes } = await threeNodes(faults);
    const n1 = transports.get('n1')!;
    n1.send('n2', 'test', 'warm-up');
    await until(() => inboxes.get('n2')!.length === 1, 'warm-up');
    const arrivals: number[] = [];
    const inbox = inboxes.get('n2')!;
    const delayMs = 80;
    faults.setDelay('n1', 'n2', delayMs);
    const sentAt = performance.now();
    for (let i = 0; i < 10; i++) n1.send('n2', 'test', i);
    await until(() => inbox.length === 11, 'delayed messages');
    arrivals.push(performance.now() - sentAt);
    assert.ok(arrivals[0]! >= delayMs - 1, `arrived after ${arrivals[0]} ms`);
    assert.deepEqual(
      inbox.slice(1).map((e) => e.payload),
      Array.from({ length: 10 }, (_, i) => i),
    );
    // The other direction is not delayed.
    const back = inboxes.get('n1')!;
    const t0 = performance.now();
    transports.get('n2')!.send('n1', 'test', 'quick');
    await until(() => back.length === 1, 'undelayed');
    assert.ok(performance.now() - t0 < delayMs);
  });

  it('a request over a partitioned link times out', async () => {
    const faults = new FaultInjector();
    const { transports } = await threeNodes(faults);
    transports.get('n2')!.onRequest('ping', () => 'pong');
    assert.equal(await transports.get('n1')!.request('n2', 'ping', null, 1000), 'pong');
    faults.partition(['n2'], ['n1'], 'a-to-b'); // the answer is lost
    await assert.rejects(transports.get('n1')!.request('n2', 'ping', null, 100), (e: unknown) => e instanceof TransportError && e.code === 'timeout');
  });
});
