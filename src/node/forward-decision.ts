/**
 * When a node runs a key command on the node that now serves its slot instead of answering `-MOVED`
 * (docs/ARCHITECTURE.md, request path). A redirect costs a pipelining client an error: ioredis retries a
 * pipeline only when every failed command got the same error and every other command was a read, and
 * `MOVED` names the slot, so one batch of writes over several slots fails as a whole. Forwarding also
 * hides the change from the client, which learns a new slot map only from a redirect: so a lone command
 * outside the handover window still gets `MOVED`. Pure: the caller passes the facts and the time.
 */
import type { Reply } from '../resp/reply.js';
import type { TransportErrorCode } from '../transport/transport-error.js';

/** Why a command was forwarded: the label of the node's forward counter. */
export type ForwardReason = 'pipeline' | 'handover' | 'split_buffer';

export const FORWARD_REASONS: readonly ForwardReason[] = ['pipeline', 'handover', 'split_buffer'];

/** After a routing change this node saw, every redirect it would give is forwarded for this long. */
export const HANDOVER_WINDOW_MS = 2_000;

/** What the decision looks at, taken when the command was read (the redirect may come later). */
export interface ForwardFacts {
  /** The command came over the bus from another node: it is never forwarded again (one hop). */
  readonly forwarded: boolean;
  /** The client had other requests in flight, or more bytes buffered behind this one. */
  readonly pipelined: boolean;
  /** The command was a write held in a split's buffer during the switch. */
  readonly held: boolean;
  /** Time since this node last saw the routing change (a new table, a leader change of a hosted shard). */
  readonly sinceRoutingChangeMs: number;
}

/** Why `facts` call for forwarding the command; undefined: answer the redirect. */
export function forwardReason(facts: ForwardFacts): ForwardReason | undefined {
  if (facts.forwarded) return undefined;
  if (facts.held) return 'split_buffer';
  if (facts.pipelined) return 'pipeline';
  if (facts.sinceRoutingChangeMs < HANDOVER_WINDOW_MS) return 'handover';
  return undefined;
}

/** How a forward ended. */
export type ForwardOutcome =
  /** The serving node's reply (which may itself be a redirect: it does not forward again). */
  | { readonly kind: 'reply'; readonly reply: Reply }
  /** The command never left this node or never ran there: the redirect is still the right answer. */
  | { readonly kind: 'not-sent' }
  /** It may have run (sent, then no answer in time or the link broke, or an answer that failed its check). */
  | { readonly kind: 'unknown' };

/**
 * What a failed bus request says about the command: refused before it was sent ('unreachable': the link
 * is down, 'unknown-peer', 'overloaded', 'too-large', 'closed', a test's 'dropped'), or refused by the
 * peer before its handler ran ('remote': no handler, or the request failed the peer's check) — else
 * ('timeout', 'broken') it may have run.
 */
export function failedForward(code: TransportErrorCode): 'not-sent' | 'unknown' {
  switch (code) {
    case 'unreachable':
    case 'unknown-peer':
    case 'overloaded':
    case 'too-large':
    case 'closed':
    case 'dropped':
    case 'remote':
      return 'not-sent';
    case 'timeout':
    case 'broken':
      return 'unknown';
  }
}

/**
 * The answer to the client: the serving node's reply; the redirect when the command did not run there,
 * or when it was a read (running it twice changes nothing); `unconfirmed` for a write that may have run.
 */
export function forwardAnswer(outcome: ForwardOutcome, redirect: Reply, isWrite: boolean, unconfirmed: Reply): Reply {
  switch (outcome.kind) {
    case 'reply':
      return outcome.reply;
    case 'not-sent':
      return redirect;
    case 'unknown':
      return isWrite ? unconfirmed : redirect;
  }
}
