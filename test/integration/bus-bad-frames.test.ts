/**
 * A node process whose bus is sent frames no node would send: each is refused and counted, the node keeps
 * running, and clients are still served.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { respRequest } from '../../src/client/resp-request.js';
import { freePort } from '../../src/common/free-ports.js';
import { encodeFrameBytes } from '../../src/transport/index.js';
import { TestCluster } from '../support/cluster.js';
import { messageFrame, rawBusPeer } from '../support/raw-bus-peer.js';

describe('node bus: malformed peer frames', () => {
  let cluster: TestCluster;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    cluster = await TestCluster.start({
      nodes: 1,
      extraNodeArgs: ['--metrics-port', String(metricsPort)],
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  async function rejected(): Promise<Record<string, number>> {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const [, reason, value] of text.matchAll(/^cleave_bus_frames_rejected_total\{reason="([a-z]+)"\} (\d+)$/gm)) counts[reason!] = Number(value);
    return counts;
  }

  it('refuses and counts each, and keeps serving clients', async () => {
    const node = cluster.nodes[0]!;
    const busPort = Number(node.args[node.args.indexOf('--bus-port') + 1]);
    const bus = { host: '127.0.0.1', port: busPort };

    const evil = await rawBusPeer(bus, 'evil', cluster.env['CLEAVE_CLUSTER_SECRET']);
    assert.deepEqual(evil.answer, { t: 'refuse', reason: 'bad-identity' });
    await evil.closed;

    // A peer that passes the handshake and then sends garbage payloads: each frame is dropped, the link stays.
    const peer = await rawBusPeer(bus, 'node9', cluster.env['CLEAVE_CLUSTER_SECRET']);
    assert.equal(peer.answer.t, 'accept');
    peer.write(messageFrame('raft', 42));
    peer.write(messageFrame('raft', [null]));
    peer.write(messageFrame('raft', [{ t: 'raft', g: 'shard_0001', m: { type: 'MsgHeartbeat', from: 9, to: 1, term: '7', commit: 0, context: null } }]));
    peer.write(messageFrame('raft', [{ t: 'bogus', g: 'shard_0001' }]));
    // Forwarded commands: malformed ones are refused at the edge; a well-formed one that is no key command is never run.
    assert.deepEqual(await respRequest('127.0.0.1', node.port, [['SET', 'kept-key', 'v']]), ['OK']);
    peer.write(encodeFrameBytes([1, 'forward', { argv: [Buffer.from('GET'), Buffer.from('k')], protocol: 9 }, 1]));
    peer.write(encodeFrameBytes([1, 'forward', { argv: 'GET k', protocol: 2 }, 2]));
    peer.write(encodeFrameBytes([1, 'forward', { argv: [Buffer.from('FLUSHALL')], protocol: 2 }, 3]));
    // A frame that is not msgpack closes the link.
    const truncated = messageFrame('raft', [{ t: 'snap-gone', g: 'shard_0001', snap: 1 }]);
    const body = truncated.subarray(4, truncated.length - 3);
    peer.write(Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]));
    await peer.closed;

    const oversize = await rawBusPeer(bus, 'node9', cluster.env['CLEAVE_CLUSTER_SECRET']);
    oversize.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await oversize.closed;
    const shapeless = await rawBusPeer(bus, 'node9', cluster.env['CLEAVE_CLUSTER_SECRET']);
    shapeless.write(encodeFrameBytes({ hello: 'world' }));
    await shapeless.closed;

    assert.ok(node.running, node.log);
    assert.deepEqual(
      await respRequest('127.0.0.1', node.port, [
        ['SET', 'bus-key', 'v'],
        ['GET', 'bus-key'],
        ['GET', 'kept-key'],
      ]),
      ['OK', 'v', 'v'],
    );
    assert.deepEqual(await rejected(), { oversize: 1, undecodable: 1, shape: 1, identity: 1, payload: 6 });
  });
});
