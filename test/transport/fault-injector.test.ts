import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultInjector } from '../../src/transport/index.js';
import { seededRandom } from '../support/raft-network.js';

describe('transport: fault injector', () => {
  it('is inactive until a rule is set and after every rule is removed', () => {
    const faults = new FaultInjector(seededRandom(1));
    assert.equal(faults.active, false);
    faults.setDelay('a', 'b', 10);
    assert.equal(faults.active, true);
    faults.setDelay('a', 'b', 0);
    assert.equal(faults.active, false);
    faults.partition(['a'], ['b']);
    faults.setDrop('a', 'b', 0.5);
    faults.heal();
    assert.equal(faults.active, true, 'drop rule remains after heal');
    faults.reset();
    assert.equal(faults.active, false);
  });

  it('cuts both directions of a partition, or one', () => {
    const faults = new FaultInjector();
    faults.partition(['n1'], ['n2', 'n3']);
    assert.deepEqual(faults.decide('n1', 'n2'), { kind: 'drop', reason: 'partition' });
    assert.deepEqual(faults.decide('n3', 'n1'), { kind: 'drop', reason: 'partition' });
    assert.deepEqual(faults.decide('n2', 'n3'), { kind: 'deliver', delayMs: 0 });
    faults.heal();
    faults.partition(['n1'], ['n2'], 'a-to-b');
    assert.equal(faults.isBlocked('n1', 'n2'), true);
    assert.equal(faults.isBlocked('n2', 'n1'), false);
  });

  it('drops the expected fraction, reproducibly from a seed', () => {
    const run = (seed: number): boolean[] => {
      const faults = new FaultInjector(seededRandom(seed));
      faults.setDrop('a', 'b', 0.25);
      return Array.from({ length: 10_000 }, () => faults.decide('a', 'b').kind === 'drop');
    };
    const drops = run(7);
    assert.deepEqual(run(7), drops);
    const fraction = drops.filter(Boolean).length / drops.length;
    assert.ok(Math.abs(fraction - 0.25) < 0.02, `dropped ${fraction}`);
  });

  it('delays only the configured direction', () => {
    const faults = new FaultInjector();
    faults.setDelay('a', 'b', 30);
    assert.deepEqual(faults.decide('a', 'b'), { kind: 'deliver', delayMs: 30 });
    assert.deepEqual(faults.decide('b', 'a'), { kind: 'deliver', delayMs: 0 });
  });

  it('refuses probabilities and delays out of range', () => {
    const faults = new FaultInjector();
    assert.throws(() => faults.setDrop('a', 'b', 1.5));
    assert.throws(() => faults.setDelay('a', 'b', -1));
  });
});
