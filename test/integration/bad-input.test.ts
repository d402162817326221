/** Malformed and oversize input get Redis's protocol errors and a closed connection; nothing else is harmed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

/**
 * A process's mapped memory in bytes, from /proc: an allocation shows here at once, while its pages count
 * as resident only once written, so a declared-but-unsent bulk is visible here only.
 */
function mappedBytes(pid: number): number {
  const match = /VmSize:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, 'VmSize not found');
  return Number(match[1]) * 1024;
}

/** Opens a connection and writes `data`; resolves once the server has read it (a PING after it is answered). */
async function holdOpen(port: number, data: string | Buffer): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  socket.write(data);
  await new Promise((r) => setTimeout(r, 300));
  return socket;
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
    const [wrong, stillNoauth] = await respRequest('127.0.0.1', port, [
      ['AUTH', 'nope'],
      ['GET', 'x'],
    ]);
    assert.equal((wrong as RespErrorValue).message, 'WRONGPASS invalid username-password pair or user is disabled.');
    assert.ok(stillNoauth instanceof RespErrorValue);
    assert.deepEqual(
      await respRequest('127.0.0.1', port, [
        ['AUTH', password],
        ['SET', 'x', '1'],
        ['GET', 'x'],
      ]),
      ['OK', 'OK', '1'],
    );
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

  it('refuses a bulk over 16 KiB or more than 10 arguments before AUTH, with the texts Redis uses, and not after it', async () => {
    const port = cluster.nodes[0]!.port;
    const bulk = await rawExchange(port, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n');
    assert.equal(bulk.text, '-ERR Protocol error: unauthenticated bulk length\r\n');
    assert.ok(bulk.closed);
    const many = await rawExchange(port, '*11\r\n');
    assert.equal(many.text, '-ERR Protocol error: unauthenticated multibulk length\r\n');
    assert.ok(many.closed);
    // AUTH and a large SET in one write: the limit is lifted from the command after AUTH on.
    const value = 'v'.repeat(100_000);
    const [authed, stored, read] = await respRequest('127.0.0.1', port, [
      ['AUTH', password],
      ['SET', 'big', value],
      ['STRLEN', 'big'],
    ]);
    assert.deepEqual([authed, stored, read], ['OK', 'OK', 100_000]);
  });

  it('holds memory for what a client sent, not for the size its bulk header declares', async () => {
    const node = cluster.nodes[0]!;
    const port = node.port;
    const before = mappedBytes(node.child!.pid!);
    const authCommand = `*2\r\n$4\r\nAUTH\r\n$${password.length}\r\n${password}\r\n`;
    // Four clients each announce a 400 MB value and send 1 MB of it.
    const sockets = await Promise.all(
      [1, 2, 3, 4].map(() => holdOpen(port, Buffer.concat([Buffer.from(`${authCommand}*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n`), Buffer.alloc(1_000_000, 120)]))),
    );
    try {
      const grown = mappedBytes(node.child!.pid!) - before;
      assert.ok(grown < 200_000_000, `the node grew by ${Math.round(grown / 1e6)} MB for 4 MB received`);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    assert.deepEqual(await respRequest('127.0.0.1', port, [['AUTH', password], ['PING']]), ['OK', 'PONG']);
  });

  it('reads of a key over the key limit find nothing, as for any absent key; writes of one are refused', async () => {
    const port = cluster.nodes[0]!.port;
    const long = 'k'.repeat(5000);
    const [, get, exists, ttl, set] = await respRequest('127.0.0.1', port, [
      ['AUTH', password],
      ['GET', long],
      ['EXISTS', long],
      ['TTL', long],
      ['SET', long, 'v'],
    ]);
    assert.deepEqual([get, exists, ttl], [null, 0, -2]);
    assert.match((set as RespErrorValue).message, /^ERR key is longer than \d+ bytes/);
  });

  it('answers unknown commands and wrong arity with Redis error texts and keeps the connection', async () => {
    const port = cluster.nodes[0]!.port;
    const replies = await respRequest('127.0.0.1', port, [['AUTH', password], ['NOSUCH', 'a', 'b'], ['GET'], ['PING']]);
    assert.equal((replies[1] as RespErrorValue).message, "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ");
    assert.equal((replies[2] as RespErrorValue).message, "ERR wrong number of arguments for 'get' command");
    assert.equal(replies[3], 'PONG');
  });
});

describe('client input limit of a node', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 1, extraNodeArgs: ['--client-input-bytes-max', String(10 * 1024 * 1024)] });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('closes the connection that pushes all clients past the limit, and serves the others', async () => {
    const port = cluster.nodes[0]!.port;
    const halfSent = (): Buffer => Buffer.concat([Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$50000000\r\n'), Buffer.alloc(6 * 1024 * 1024, 120)]);
    const first = await holdOpen(port, halfSent());
    try {
      const second = await rawExchange(port, halfSent());
      assert.equal(second.text, "-ERR the node's input buffers for all clients are full; closing this connection\r\n");
      assert.ok(second.closed);
      assert.equal(first.destroyed, false);
    } finally {
      first.destroy();
    }
    // The first connection's bytes are released when it closes: a third client may hold as much again.
    await new Promise((r) => setTimeout(r, 200));
    const third = await holdOpen(port, halfSent());
    assert.equal(third.destroyed, false);
    third.destroy();
    assert.deepEqual(
      await respRequest('127.0.0.1', port, [
        ['SET', 'after', '1'],
        ['GET', 'after'],
      ]),
      ['OK', '1'],
    );
  });
});
