import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { ClientConnection } from '../../src/node/client-connection.js';
import { int, type Reply } from '../../src/resp/reply.js';

function deferred(): { promise: Promise<Reply>; resolve: (r: Reply) => void } {
  let resolve!: (r: Reply) => void;
  const promise = new Promise<Reply>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ClientConnection', () => {
  it('writes replies in request order even when earlier ones settle later', async () => {
    const written: number[] = [];
    const conn = new ClientConnection(1, {} as Socket, false, 0, (reply) => written.push(Number((reply as { value: number }).value)));
    const first = deferred();
    const third = deferred();
    conn.reply(first.promise);
    conn.reply(int(2));
    conn.reply(third.promise);
    conn.reply(int(4));
    assert.deepEqual(written, []);
    assert.equal(conn.owed, 4);
    third.resolve(int(3));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(written, []);
    first.resolve(int(1));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(written, [1, 2, 3, 4]);
    assert.equal(conn.owed, 0);
    conn.reply(int(5));
    assert.deepEqual(written, [1, 2, 3, 4, 5]);
  });

  it('turns a failed reply into an error reply in its place', async () => {
    const written: Reply[] = [];
    const conn = new ClientConnection(1, {} as Socket, true, 0, (reply) => written.push(reply));
    assert.equal(conn.authenticated, false);
    conn.reply(Promise.reject(new Error('disk full')));
    conn.reply(int(1));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(written, [{ kind: 'error', message: 'ERR disk full' }, int(1)]);
  });

  it('encodes each reply in the protocol in force when its request ran', async () => {
    const written: [Reply, number][] = [];
    const conn = new ClientConnection(1, {} as Socket, false, 0, (reply, protocol) => written.push([reply, protocol]));
    const slow = deferred();
    conn.reply(slow.promise);
    conn.protocol = 3; // HELLO 3 ran after the slow request
    conn.reply(int(2));
    slow.resolve(int(1));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(written, [
      [int(1), 2],
      [int(2), 3],
    ]);
  });
});
