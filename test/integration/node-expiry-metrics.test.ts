/** Active expiry removes keys nobody reads; a node's /metrics counts commands; RESP3 through HELLO 3. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { respRequest } from '../../src/client/resp-request.js';
import { freePort } from '../../src/common/free-ports.js';
import { TestCluster, waitUntil } from '../support/cluster.js';
import { connect } from 'node:net';

describe('a node on its own', () => {
  let cluster: TestCluster;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    cluster = await TestCluster.start({ nodes: 1, extraNodeArgs: ['--metrics-port', String(metricsPort)] });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('deletes expired keys in the background, without reads', async () => {
    const port = cluster.nodes[0]!.port;
    // Long enough that the count below is taken before they expire, even on a loaded machine.
    const commands = Array.from({ length: 200 }, (_, i) => ['SET', `exp:${i}`, 'v', 'PX', '2000']);
    await respRequest('127.0.0.1', port, [...commands, ['SET', 'keeper', 'v']]);
    assert.deepEqual(await respRequest('127.0.0.1', port, [['DBSIZE']]), [201]);
    // DBSIZE counts stored keys, expired or not, so it falls only when the keys are really deleted.
    await waitUntil('active expiry', async () => (await respRequest('127.0.0.1', port, [['DBSIZE']]))[0] === 1, undefined, 10_000);
    assert.deepEqual(await respRequest('127.0.0.1', port, [['GET', 'keeper']]), ['v']);
  });

  it('accepts expiry times far past 2^53 ms, as Redis does, and stays up', async () => {
    const port = cluster.nodes[0]!.port;
    const replies = await respRequest('127.0.0.1', port, [['SET', 'far', '1', 'PXAT', '9007199254740993'], ['EXPIREAT', 'far', '100000000000000'], ['GET', 'far'], ['PING']]);
    assert.deepEqual(replies, ['OK', 1, '1', 'PONG']);
    const [ttl] = await respRequest('127.0.0.1', port, [['TTL', 'far']]);
    assert.ok((ttl as number) > 90_000_000_000, `ttl ${ttl}`);
  });

  it('serves Prometheus metrics with command counts and latencies', async () => {
    const port = cluster.nodes[0]!.port;
    await respRequest('127.0.0.1', port, [
      ['SET', 'm', '1'],
      ['GET', 'm'],
      ['GET', 'm'],
    ]);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const gets = Number(/cleave_node_commands_total\{command="get"\} (\d+)/.exec(text)?.[1]);
    assert.ok(gets >= 2, `get count ${gets}`);
    assert.match(text, /cleave_node_command_duration_seconds_bucket\{le="[\d.]+",command="set"\} \d+/);
    assert.match(text, /cleave_node_shard_keys\{shard="shard_0001"\}/);
  });

  it('speaks RESP3 after HELLO 3', async () => {
    const port = cluster.nodes[0]!.port;
    const raw = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
        if (text.endsWith('_\r\n')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.write('HELLO 3\r\nHSET h3 f v\r\nHGETALL h3\r\nGET missing\r\n');
    });
    assert.match(raw, /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
    assert.match(raw, /\$5\r\nproto\r\n:3\r\n/);
    assert.ok(raw.endsWith(':1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n_\r\n'), JSON.stringify(raw.slice(-60)));
  });
});
