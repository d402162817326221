/** The split's ETA: the rate so far, projected over what is left. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etaSeconds } from '../../src/node/split-source.js';

test('projects the rate so far over what is left, and knows nothing before any progress', () => {
  assert.equal(etaSeconds(250, 1000, 1000), 3, '250 of 1000 in 1 s: 3 s to go');
  assert.equal(etaSeconds(1000, 1000, 4000), 0);
  assert.equal(etaSeconds(0, 1000, 1000), null);
  assert.equal(etaSeconds(10, 1000, 0), null);
  assert.equal(etaSeconds(1200, 1000, 1000), 0, 'past the total: nothing left');
});
