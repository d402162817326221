/** When a node forwards a command rather than redirect the client, and what the client gets when a forward fails. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failedForward, forwardAnswer, forwardReason, HANDOVER_WINDOW_MS, type ForwardFacts } from '../../src/node/forward-decision.js';
import { error, OK } from '../../src/resp/reply.js';
import type { TransportErrorCode } from '../../src/transport/transport-error.js';

const LONG_AGO = HANDOVER_WINDOW_MS * 10;
const facts = (over: Partial<ForwardFacts>): ForwardFacts => ({ forwarded: false, pipelined: false, held: false, sinceRoutingChangeMs: LONG_AGO, ...over });

describe('forwardReason', () => {
  const cases: [string, Partial<ForwardFacts>, ReturnType<typeof forwardReason>][] = [
    ['a lone command long after the last routing change is redirected (the client learns the new map)', {}, undefined],
    ['a pipelined command is forwarded', { pipelined: true }, 'pipeline'],
    ['a write held by a split is forwarded', { held: true }, 'split_buffer'],
    ['held wins over pipelined', { held: true, pipelined: true }, 'split_buffer'],
    ['a lone command just after a routing change is forwarded', { sinceRoutingChangeMs: 0 }, 'handover'],
    ['the window ends', { sinceRoutingChangeMs: HANDOVER_WINDOW_MS }, undefined],
    ['just inside the window', { sinceRoutingChangeMs: HANDOVER_WINDOW_MS - 1 }, 'handover'],
    ['a forwarded command is never forwarded again', { forwarded: true, pipelined: true, held: true, sinceRoutingChangeMs: 0 }, undefined],
  ];
  for (const [name, over, expected] of cases) {
    it(name, () => assert.equal(forwardReason(facts(over)), expected));
  }
});

describe('failedForward', () => {
  it('calls a request refused before it left, or before the peer ran it, not sent; a lost one may have run', () => {
    const codes: TransportErrorCode[] = ['timeout', 'broken', 'unreachable', 'unknown-peer', 'overloaded', 'too-large', 'dropped', 'closed', 'remote'];
    assert.deepEqual(
      codes.map((code) => [code, failedForward(code)]),
      [
        ['timeout', 'unknown'],
        ['broken', 'unknown'],
        ['unreachable', 'not-sent'],
        ['unknown-peer', 'not-sent'],
        ['overloaded', 'not-sent'],
        ['too-large', 'not-sent'],
        ['dropped', 'not-sent'],
        ['closed', 'not-sent'],
        ['remote', 'not-sent'],
      ],
    );
  });
});

describe('forwardAnswer', () => {
  const moved = error('MOVED 12 127.0.0.1:7002');
  const unconfirmed = error('ERR not confirmed');
  it("answers the serving node's reply, even a redirect of its own", () => {
    assert.equal(forwardAnswer({ kind: 'reply', reply: OK }, moved, true, unconfirmed), OK);
    const tryAgain = error('TRYAGAIN');
    assert.equal(forwardAnswer({ kind: 'reply', reply: tryAgain }, moved, true, unconfirmed), tryAgain);
  });
  it('answers the redirect when the command did not run there', () => {
    assert.equal(forwardAnswer({ kind: 'not-sent' }, moved, true, unconfirmed), moved);
  });
  it('calls a write that may have run unconfirmed, and redirects a read (running it again is harmless)', () => {
    assert.equal(forwardAnswer({ kind: 'unknown' }, moved, true, unconfirmed), unconfirmed);
    assert.equal(forwardAnswer({ kind: 'unknown' }, moved, false, unconfirmed), moved);
  });
});
