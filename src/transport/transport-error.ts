/** Why a request failed or a send was refused: an operating condition the caller handles, not a bug. */
export type TransportErrorCode =
  /** No response within the request's timeout. */
  | 'timeout'
  /** The peer's connection is failing (backoff): the request was not sent. */
  | 'unreachable'
  /** The connection failed while the request was outstanding: the peer may have received it. */
  | 'broken'
  /** The peer is not in the peers map. */
  | 'unknown-peer'
  /** Too many outstanding requests, or the send queue refused the frame. */
  | 'overloaded'
  /** The frame exceeds `frameBytesMax`. */
  | 'too-large'
  /** A fault rule dropped the request (tests only). */
  | 'dropped'
  /** The transport was closed. */
  | 'closed'
  /** The responder had no handler for the kind, or its handler failed. */
  | 'remote';

/** A failed request; `code` says why. */
export class TransportError extends Error {
  override readonly name = 'TransportError';

  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
}
