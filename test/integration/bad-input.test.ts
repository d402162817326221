/** Malformed and oversize input get Redis's protocol errors and a closed connection; nothing else is harmed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { respRequest, RespErrorValue } from '../../src/client/resp-request.js';
import { TestCluster } from '../support/cluster.js';

/** Sends raw bytes; resolves with everything received until the server closes (or `waitMs` passes). */
function rawExchange(port: number, data: Buffer | string, waitMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', () => undefined);
    socket.write(data);
  });
}

describe('bad input', () => {
  let cluster: TestCluster;
  const password = 's3cret pass';
  before(async () => {
    cluster = await TestCluster.start({ nodes: 1, requirepass: password });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('requires AUTH when requirepass is set, and accepts the right password only', async () => {
    const port = cluster.nodes[0]!.port;
    const [noauth] = await respRequest('127.0.0.1', port, [['GET', 'x']]);
    assert.ok(noauth instanceof RespErrorValue);
    assert.equal(noauth.message, 'NOAUTH Authentication required.');
    const [wrong, stillNoauth] = await respRequest('127.0.0.1', port, [['AUTH', 'nope'], ['GET', 'x']]);
    assert.equal((wrong as RespErrorValue).message, 'WRONGPASS invalid username-password pair or user is disabled.');
    assert.ok(stillNoauth instanceof RespErrorValue);
    assert.deepEqual(await respRequest('127.0.0.1', port, [['AUTH', password], ['SET', 'x', '1'], ['GET', 'x']]), ['OK', 'OK', '1']);
  });

  it('answers malformed RESP with a protocol error and closes only that connection', async () => {
    const port = cluster.nodes[0]!.port;
    const bystander = connect({ host: '127.0.0.1', port });
    await new Promise((r) => bystander.once('connect', r));
    const cases: [string, RegExp][] = [
      ['*2\r\n$3\r\nGET\r\n:1\r\n', /^-ERR Protocol error: expected '\$', got ':'\r\n$/],
      ['*abc\r\n', /^-ERR Protocol error: invalid multibulk length\r\n$/],
      ['*1\r\n$-5\r\n', /^-ERR Protocol error: invalid bulk length\r\n$/],
      ['SET "unbalanced\r\n', /^-ERR Protocol error: unbalanced quotes in request\r\n$/],
    ];
    for (const [input, expected] of cases) {
      const { text, closed } = await rawExchange(port, input);
      assert.match(text, expected, JSON.stringify(input));
      assert.ok(closed, `connection not closed after ${JSON.stringify(input)}`);
    }
    // The bystander connection still works.
    const reply = await new Promise<string>((resolve) => {
      bystander.once('data', (d) => resolve(d.toString()));
      bystander.write(`*2\r\n$4\r\nAUTH\r\n$${password.length}\r\n${password}\r\n`);
    });
    assert.equal(reply, '+OK\r\n');
    bystander.destroy();
  });

  it('refuses an oversize bulk from its header, before the payload is sent', async () => {
    const port = cluster.nodes[0]!.port;
    const { text, closed } = await rawExchange(port, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999999\r\n');
    assert.equal(text, '-ERR Protocol error: invalid bulk length\r\n');
    assert.ok(closed);
    const many = await rawExchange(port, '*99999999\r\n');
    assert.equal(many.text, '-ERR Protocol error: invalid multibulk length\r\n');
  });

  it('answers unknown commands and wrong arity with Redis error texts and keeps the connection', async () => {
    const port = cluster.nodes[0]!.port;
    const replies = await respRequest('127.0.0.1', port, [['AUTH', password], ['NOSUCH', 'a', 'b'], ['GET'], ['PING']]);
    assert.equal((replies[1] as RespErrorValue).message, "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ");
    assert.equal((replies[2] as RespErrorValue).message, "ERR wrong number of arguments for 'get' command");
    assert.equal(replies[3], 'PONG');
  });
});
