/** cleave's slot of a key equals real redis-server's CLUSTER KEYSLOT, for ordinary, tagged and odd keys. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyHashSlot } from '../../src/common/slots.js';
import { freePort } from '../../src/common/free-ports.js';
import { requireBinary } from '../support/binaries.js';
import { waitUntil } from '../support/cluster.js';
import { respRequest } from '../../src/client/resp-request.js';

describe('hash slots against redis-server', () => {
  let server: ChildProcess;
  let port: number;
  let dir: string;
  before(async () => {
    requireBinary('redis-server', 'redis-server');
    dir = mkdtempSync(join(tmpdir(), 'cleave-keyslot-'));
    port = await freePort();
    server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    await waitUntil('redis-server', async () => (await respRequest('127.0.0.1', port, [['PING']]))[0] === 'PONG');
  });
  after(() => {
    server?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('agrees on 2000 keys', async () => {
    const keys = ['', '{}', '{', '}', '{{}}', 'a{b}c', 'a{}b{c}', '{a}{b}', 'x{y', 'é{ü}', 'user:{42}:name'];
    for (let i = 0; i < 2000 - keys.length; i++) keys.push(`key-${i}-${(i * 7919) % 104729}${i % 5 === 0 ? `{t${i % 37}}` : ''}`);
    const replies = await respRequest(
      '127.0.0.1',
      port,
      keys.map((k) => ['CLUSTER', 'KEYSLOT', k]),
    );
    assert.deepEqual(
      replies,
      keys.map((k) => keyHashSlot(Buffer.from(k))),
    );
  });
});
