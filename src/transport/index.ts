/**
 * cleave's bus: node-to-node TCP on the internal port, for Raft messages of every group hosted by a node,
 * snapshot chunks, split log forwarding and small RPCs. It knows nothing of Raft: it carries envelopes
 * `{ from, to, kind, payload }` to the handler registered for `kind`.
 *
 * ## Wire
 * Frames are a 4-byte big-endian length and a msgpack body (msgpackr; `Uint8Array` fields travel as bin).
 * Each node dials one connection to each peer it sends to and only writes on it; what a peer sends back
 * (responses included) comes over the peer's own connection. Everything sent to one peer within one
 * event-loop turn leaves in one socket write. A connection starts with a handshake proving both ends
 * know the cluster secret (HMAC-SHA256 over fresh nonces; see handshake.ts); without a secret only
 * loopback dialers are accepted.
 *
 * ## Trust
 * Nothing a peer sends is trusted, secret or not (a peer can be buggy): a dialer's identity must pass
 * `isNodeId`, a frame must decode to a frame of the bus, and its payload must pass the check registered
 * with its kind's handler. A malformed frame closes its link, a failed payload check drops its frame, and
 * each is counted in `counters.framesRejected` by reason; none ever throws.
 *
 * ## Delivery
 * At most once, in order per (sender, receiver) pair while a connection lasts. Messages may be lost: a
 * full send queue drops its oldest frames, a broken connection drops what it had queued, and during the
 * reconnect backoff sends are refused. Raft tolerates all of these; the counters record each.
 *
 * ## Use from the multi-raft driver
 * ```ts
 * const bus = new Transport({ nodeId, clusterSecret, onUnreachable: (peer) => groupsOn(peer).forEach(g => g.reportUnreachable(raftIdOf(g, peer))) });
 * await bus.listen(host, busPort);
 * bus.setPeers(new Map(routing.nodes.map(n => [n.id, { host: n.host, port: n.busPort }])));  // every routing version
 * // The check runs on every frame of the kind: a payload failing it is dropped and counted, never handled.
 * bus.on('raft', ({ from, payload }) => { for (const m of payload) groups.get(m.shard)?.step(m.message); }, isRaftBatch);
 * // per loop turn: collect every group's Ready.messages, grouped by destination node, then
 * bus.send(nodeId, 'raft', batch);   // one call or many: one write per peer per turn either way
 * ```
 */
export { BACKOFF_POLICY_DEFAULT, backoffDelayMs, type BackoffPolicy } from './backoff.js';
export { isTransportNodeId, type Envelope, type PayloadCheck, type TransportNodeId } from './envelope.js';
export { FaultInjector, type FaultDecision, type PartitionDirection } from './fault-injector.js';
export {
  ATTACHMENT_BYTES_MIN,
  FRAME_BYTES_MAX_DEFAULT,
  FRAME_ENVELOPE_BYTES_MAX,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  decodeFrameBody,
  encodeFrame,
  encodeFrameBytes,
  type EncodedFrame,
} from './frame-codec.js';
export type { PeerAddress } from './peer-link.js';
export { FRAME_REJECT_REASONS, type FrameRejectReason, type PeerCounters, type TransportCounters } from './transport-counters.js';
export { TransportError, type TransportErrorCode } from './transport-error.js';
export type { MessageHandler, PeerBus, RequestHandler } from './peer-bus.js';
export { Transport, type TransportOptions } from './transport.js';
