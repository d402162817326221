import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handshakeProof, isLoopbackAddress, proofMatches } from '../../src/transport/handshake.js';

describe('transport: handshake', () => {
  it('recognises loopback addresses, IPv4-mapped included', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(address), true, address);
    for (const address of ['10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fe80::1', '::', '0.0.0.0', '', undefined]) {
      assert.equal(isLoopbackAddress(address), false, String(address));
    }
  });

  it('binds a proof to the secret, the step, the nonce and both node ids', () => {
    const nonce = new Uint8Array(32).fill(1);
    const proof = handshakeProof('secret', 'dial', nonce, 'node1', 'node2');
    assert.equal(proof.length, 32);
    assert.ok(proofMatches(handshakeProof('secret', 'dial', nonce, 'node1', 'node2'), proof));
    const variants = [
      handshakeProof('other', 'dial', nonce, 'node1', 'node2'),
      handshakeProof('secret', 'accept', nonce, 'node1', 'node2'),
      handshakeProof('secret', 'dial', new Uint8Array(32).fill(2), 'node1', 'node2'),
      handshakeProof('secret', 'dial', nonce, 'node2', 'node1'),
      // Concatenation ambiguity: ('node1', 'node2') must not equal ('node1n', 'ode2').
      handshakeProof('secret', 'dial', nonce, 'node1n', 'ode2'),
    ];
    for (const variant of variants) assert.equal(proofMatches(variant, proof), false);
  });

  it('without a secret the proof is empty, and an empty proof never matches a real one', () => {
    const nonce = new Uint8Array(32);
    assert.equal(handshakeProof(undefined, 'dial', nonce, 'a', 'b').length, 0);
    assert.equal(proofMatches(handshakeProof('s', 'dial', nonce, 'a', 'b'), new Uint8Array(0)), false);
  });
});
