import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelayMs, type BackoffPolicy } from '../../src/transport/index.js';

const policy: BackoffPolicy = { baseMs: 100, delayMsMax: 1000, jitter: 0.5 };

describe('transport: reconnect backoff', () => {
  it('doubles from the base up to the cap', () => {
    const noJitter = { ...policy, jitter: 0 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelayMs(n, noJitter, () => 0.9)),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
  });

  it('scales the jitter fraction by the random draw', () => {
    assert.equal(
      backoffDelayMs(1, policy, () => 0),
      50,
    );
    assert.equal(
      backoffDelayMs(1, policy, () => 0.5),
      75,
    );
    assert.ok(backoffDelayMs(10, policy, () => 0.999999) < 1000);
    assert.equal(
      backoffDelayMs(10, policy, () => 0),
      500,
    );
  });

  it('stays finite for any number of failures', () => {
    assert.equal(
      backoffDelayMs(1_000_000, { ...policy, jitter: 0 }, () => 0),
      1000,
    );
  });

  it('refuses a failure count below one', () => {
    assert.throws(() => backoffDelayMs(0, policy, () => 0), /positive integer/);
  });
});
