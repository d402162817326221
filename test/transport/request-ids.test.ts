/**
 * A response answers only the request it was sent for, across a restart of the requester. A responder
 * sends its answer over its own link to the requester's name, which reaches the restarted process; with
 * request ids counted from 1 in every process, an answer to the old process's request took the place of
 * the new one's answer (simulation: a forwarded GET answered +OK, the reply to a SET sent before a crash).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataFrame } from '../../src/transport/envelope.js';
import { FrameRouter } from '../../src/transport/frame-router.js';
import { emptyTransportCounters } from '../../src/transport/transport-counters.js';

const REQUEST_TIMEOUT_MS = 60_000;

/** Timers that never fire: the test settles every request itself. */
const env = { after: () => () => {}, random: () => Math.random() };

describe('bus request ids', () => {
  it("a late answer to a restarted requester's earlier request does not answer its new one", async () => {
    // node b answers each request with its payload; its answers wait in `toA` until the test delivers them.
    const toA: DataFrame[] = [];
    const b = new FrameRouter('b', emptyTransportCounters(), 16, env, (to, frame) => {
      assert.equal(to, 'a');
      toA.push(frame);
      return null;
    });
    b.onRequest('echo', (envelope) => envelope.payload);
    const toB: DataFrame[] = [];
    const sender = (_to: string, frame: DataFrame) => {
      toB.push(frame);
      return null;
    };

    const before = new FrameRouter('a', emptyTransportCounters(), 16, env, sender);
    void before.request('b', 'echo', 'SET answered +OK', REQUEST_TIMEOUT_MS).catch(() => {});
    // Node a crashes; its new process asks again.
    const after = new FrameRouter('a', emptyTransportCounters(), 16, env, sender);
    const answer = after.request('b', 'echo', 'GET answered', REQUEST_TIMEOUT_MS);

    for (const frame of toB.splice(0)) b.receive('a', frame);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(toA.length, 2, 'b answered both requests');
    for (const frame of toA.splice(0)) after.receive('b', frame);
    assert.equal(await answer, 'GET answered');
  });
});
