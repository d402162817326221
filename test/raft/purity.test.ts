import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import type { Message } from '../../src/raft/index.js';
import { RaftNetwork } from '../support/raft-network.js';

describe('raft: messages', () => {
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
