/**
 * Monotonic counters for metrics. Plain mutable fields: the transport bumps them on its hot paths, and a
 * metrics exporter reads them whenever it is scraped.
 */

/** Traffic and failures on the links with one peer node. */
export interface PeerCounters {
  /** Frames and bytes (headers included) handed to the socket for this peer. */
  framesSent: number;
  bytesSent: number;
  /** Socket writes (one per batch: everything queued for the peer in one event-loop turn). */
  writes: number;
  /** Frames and bytes received from this peer (authenticated connections only). */
  framesReceived: number;
  bytesReceived: number;
  /** Frames discarded to keep the send queue under `sendQueueBytesMax` (oldest first). */
  dropsQueueFull: number;
  /** Frames not sent because the connection was failing: in backoff, or queued when it broke. */
  dropsUnreachable: number;
  /** Frames dropped by fault injection, sent or received (tests only). */
  dropsFault: number;
  /** Handshakes completed on the outbound connection. */
  connects: number;
  /** Completed handshakes after the first: how often the link had to be re-established. */
  reconnects: number;
  /** Outbound connection attempts or connections that failed. */
  connectFailures: number;
}

/**
 * Why a frame from a peer was refused: its header announced more than the limit (`oversize`), its body
 * is not one msgpack value (`undecodable`), the value is not a frame of the bus (`shape`), a handshake
 * named a malformed node id (`identity`), or the payload failed its kind's check (`payload`).
 */
export type FrameRejectReason = 'oversize' | 'undecodable' | 'shape' | 'identity' | 'payload';

export const FRAME_REJECT_REASONS: readonly FrameRejectReason[] = ['oversize', 'undecodable', 'shape', 'identity', 'payload'];

/** Counters not tied to a known peer. */
export interface TransportCounters {
  /** Inbound connections closed at the handshake (bad proof, wrong node id, non-loopback, timeout). */
  handshakesRefused: number;
  /** Sends to a node not in the peers map. */
  dropsUnknownPeer: number;
  /** Sends whose frame exceeded `frameBytesMax`. */
  dropsTooLarge: number;
  /** Messages that arrived for a kind with no handler. */
  unhandled: number;
  /** Connections closed for a malformed or oversize frame after the handshake. */
  protocolErrors: number;
  /** Frames refused, by reason: those of the handshake refuse the dialer, a bad payload drops its frame, any other closes the link. */
  readonly framesRejected: Record<FrameRejectReason, number>;
}

/** Zeroed per-peer counters. */
export function emptyPeerCounters(): PeerCounters {
  return {
    framesSent: 0,
    bytesSent: 0,
    writes: 0,
    framesReceived: 0,
    bytesReceived: 0,
    dropsQueueFull: 0,
    dropsUnreachable: 0,
    dropsFault: 0,
    connects: 0,
    reconnects: 0,
    connectFailures: 0,
  };
}

/** Zeroed transport counters. */
export function emptyTransportCounters(): TransportCounters {
  return {
    handshakesRefused: 0,
    dropsUnknownPeer: 0,
    dropsTooLarge: 0,
    unhandled: 0,
    protocolErrors: 0,
    framesRejected: { oversize: 0, undecodable: 0, shape: 0, identity: 0, payload: 0 },
  };
}
