import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pollUntil, PollTimeoutError } from '../../src/common/poll.js';

/** A clock that moves only when the poll sleeps. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    slept,
  };
}

describe('pollUntil', () => {
  it('returns on the first true, sleeping the interval between checks', async () => {
    const environment = fakeClock();
    let checks = 0;
    await pollUntil(() => ++checks === 3, { what: 'the third check', timeoutMs: 1000, intervalMs: 50, environment });
    assert.equal(checks, 3);
    assert.deepEqual(environment.slept, [50, 50]);
  });

  it('times out naming what it waited for, the last error and the detail', async () => {
    const environment = fakeClock();
    let checks = 0;
    const error = await pollUntil(
      async () => {
        checks++;
        throw new Error('connection refused');
      },
      { what: 'node1 serving', timeoutMs: 1000, environment, detail: () => 'node1 log line' },
    ).catch((e: unknown) => e);
    assert.ok(error instanceof PollTimeoutError);
    assert.equal(error.what, 'node1 serving');
    assert.equal(error.message, 'timed out after 1 s waiting for node1 serving (last error: connection refused)\n--- log ---\nnode1 log line');
    assert.equal(checks, 11, 'at 0, 100, ..., 1000 ms');
  });

  it('checks once with a timeout of 0', async () => {
    let checks = 0;
    const neverReady = (): boolean => {
      checks++;
      return false;
    };
    await assert.rejects(pollUntil(neverReady, { what: 'nothing', timeoutMs: 0, environment: fakeClock() }), /timed out after 0 s waiting for nothing$/);
    assert.equal(checks, 1);
  });

  it('gives up at once when waiting cannot help', async () => {
    const environment = fakeClock();
    let checks = 0;
    const neverReady = (): boolean => {
      checks++;
      return false;
    };
    await assert.rejects(
      pollUntil(neverReady, { what: 'the pilot', timeoutMs: 60_000, environment, hopeless: () => (checks === 2 ? 'pilot exited (code 1)' : undefined) }),
      /^PollTimeoutError: gave up waiting for the pilot: pilot exited \(code 1\)$/,
    );
    assert.equal(checks, 2);
    assert.equal(environment.now(), 200, 'asked before the third check');
  });
});
