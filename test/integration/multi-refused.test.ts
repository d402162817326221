/**
 * MULTI is not supported yet: a transaction must then fail whole. MULTI is refused and so is every command
 * queued after it until EXEC or DISCARD, so nothing a client meant to run atomically is applied piecemeal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { respRequest, RespErrorValue } from '../../src/client/resp-request.js';
import { TestCluster } from '../support/cluster.js';

describe('MULTI without transactions', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ nodes: 1 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('refuses MULTI and the commands queued after it, applies none of them, and serves again after EXEC', async () => {
    const port = cluster.nodes[0]!.port;
    const replies = await respRequest('127.0.0.1', port, [['MULTI'], ['SET', 'm:a', '1'], ['INCR', 'm:c'], ['EXEC'], ['GET', 'm:a'], ['GET', 'm:c']]);
    assert.match((replies[0] as RespErrorValue).message, /^ERR MULTI is not supported/);
    assert.match((replies[1] as RespErrorValue).message, /^ERR .*transaction/);
    assert.match((replies[2] as RespErrorValue).message, /^ERR .*transaction/);
    assert.equal((replies[3] as RespErrorValue).message, 'EXECABORT Transaction discarded because of previous errors.');
    assert.deepEqual(replies.slice(4), [null, null]);
  });

  it('ends the refusal on DISCARD; EXEC and DISCARD outside one answer as Redis does', async () => {
    const port = cluster.nodes[0]!.port;
    const replies = await respRequest('127.0.0.1', port, [['MULTI'], ['SET', 'm:d', '1'], ['DISCARD'], ['SET', 'm:d', '2'], ['GET', 'm:d'], ['EXEC'], ['DISCARD']]);
    assert.ok(replies[1] instanceof RespErrorValue);
    assert.deepEqual(replies.slice(2, 5), ['OK', 'OK', '2']);
    assert.equal((replies[5] as RespErrorValue).message, 'ERR EXEC without MULTI');
    assert.equal((replies[6] as RespErrorValue).message, 'ERR DISCARD without MULTI');
  });

  it("ioredis's multi() rejects and leaves every key untouched", async () => {
    const client = new Cluster(cluster.startupNodes);
    try {
      await client.set('{t}:counter', '10');
      await assert.rejects(client.multi().set('{t}:a', 'x').incr('{t}:counter').exec());
      assert.equal(await client.get('{t}:a'), null);
      assert.equal(await client.get('{t}:counter'), '10');
      assert.equal(await client.set('{t}:after', 'y'), 'OK');
    } finally {
      client.disconnect();
    }
  });
});
