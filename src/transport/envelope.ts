/**
 * What the transport carries: envelopes addressed node to node, with a `kind` that picks the handler and
 * a payload the transport does not look into (Raft messages, snapshot chunks, RPC bodies).
 */

/** A node's id as the routing table names it (`node1`, ...): the bus addresses nodes, not Raft peers. */
export type TransportNodeId = string;

/** The node ids a transport accepts from a dialer unless told a stricter form: short, printable, no spaces. */
const TRANSPORT_NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isTransportNodeId(id: string): boolean {
  return TRANSPORT_NODE_ID_PATTERN.test(id);
}

/**
 * Whether a payload of one kind is well formed, judged as it arrives so a handler never sees anything
 * else. `from` is the authenticated sender. Runs on every frame of its kind: keep it cheap, never throw.
 */
export type PayloadCheck<P> = (payload: unknown, from: TransportNodeId) => payload is P;

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
