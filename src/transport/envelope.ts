/**
 * What the transport carries: envelopes addressed node to node, with a `kind` that picks the handler and
 * a payload the transport does not look into (Raft messages, snapshot chunks, RPC bodies).
 */

/** A node's id as the routing table names it (`node1`, ...): the bus addresses nodes, not Raft peers. */
export type TransportNodeId = string;

/** One delivered message. `from` is the peer authenticated at the handshake, never a claim of the frame. */
export interface Envelope<P = unknown> {
  readonly from: TransportNodeId;
  readonly to: TransportNodeId;
  /** Names the handler: `'raft'`, `'snapshot-chunk'`, ... */
  readonly kind: string;
  readonly payload: P;
}

/**
 * Frames after the handshake, as msgpack arrays (shorter than maps and cheap to tell apart). The sender
 * and receiver are the connection's two ends, so frames do not repeat them.
 */
export type DataFrame =
  | readonly [type: typeof FRAME_MESSAGE, kind: string, payload: unknown]
  | readonly [type: typeof FRAME_REQUEST, kind: string, payload: unknown, requestId: number]
  | readonly [type: typeof FRAME_RESPONSE, requestId: number, payload: unknown]
  | readonly [type: typeof FRAME_ERROR_RESPONSE, requestId: number, message: string];

/** A one-way message. */
export const FRAME_MESSAGE = 0;
/** A request expecting a response frame with the same id. */
export const FRAME_REQUEST = 1;
/** A handler's answer to a request. */
export const FRAME_RESPONSE = 2;
/** A request that failed on the responder (no handler, or the handler threw). */
export const FRAME_ERROR_RESPONSE = 3;
