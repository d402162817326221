import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import type { Message } from '../../src/raft/index.js';
import { RaftNetwork } from '../support/raft-network.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('raft: a pure core', () => {
  it('uses no clock, timers, global randomness or I/O', () => {
    const forbidden = [/Date\.now/, /new Date\(/, /Math\.random/, /setTimeout/, /setInterval/, /setImmediate/, /performance\.now/, /process\./, /from 'node:/];
    const files = sourceFiles(join(process.cwd(), 'src', 'raft'));
    assert(files.length > 10);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const pattern of forbidden) assert(!pattern.test(text), `${file} uses ${pattern}`);
    }
  });

  it('messages survive a msgpack round trip and still drive the protocol', () => {
    const net = new RaftNetwork({ voters: [1, 2, 3] });
    net.intercept = (m) => unpack(pack(m)) as Message;
    net.campaign(1);
    net.propose(1, 'over the wire');
    net.raw(2).readIndex(new TextEncoder().encode('ctx'));
    net.stabilize();
    assert.deepEqual(net.node(3).appliedCommands(), ['over the wire']);
    assert.equal(net.node(2).readStates.length, 1);
  });
});
