/**
 * The listener's side of one accepted connection: the handshake (challenge, verify, accept or refuse),
 * then a read-only stream of frames from the authenticated peer. Answers to requests go back over this
 * node's own outbound link to the peer, so all traffic from A to B shares one connection, one queue and
 * one set of fault rules.
 */
import type { Socket } from 'node:net';
import type { TransportNodeId } from './envelope.js';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameError, decodeFrameBody, encodeFrameBytes } from './frame-codec.js';
import { HANDSHAKE_FRAME_BYTES_MAX, asHandshakeFrame, createNonce, handshakeProof, isLoopbackAddress, proofMatches, type RefusalReason } from './handshake.js';
import type { FrameRejectReason } from './transport-counters.js';

/** What an inbound link needs from its transport. */
export interface InboundLinkEnv {
  readonly nodeId: TransportNodeId;
  readonly clusterSecret: string | undefined;
  readonly handshakeTimeoutMs: number;
  readonly frameBytesMax: number;
  /** Which identities a dialer may claim (its own node id is never one). */
  readonly isNodeId: (id: TransportNodeId) => boolean;
  /** The dialer proved who it is; frames from it follow. */
  readonly onAuthenticated: (link: InboundLink) => void;
  /** The handshake failed, for a frame refused for `rejected` if one was; the socket is being closed. */
  readonly onRefused: (reason: RefusalReason | 'timeout', rejected: FrameRejectReason | null) => void;
  /** One frame body from the authenticated peer, with its size on the wire; a returned reason closes the link. */
  readonly onFrame: (peer: TransportNodeId, body: Buffer, wireBytes: number) => FrameRejectReason | null;
  /** A malformed or oversize frame after the handshake; the socket is being closed. */
  readonly onProtocolError: (peer: TransportNodeId, reason: FrameRejectReason) => void;
  readonly onClose: (link: InboundLink) => void;
}

export class InboundLink {
  /** The authenticated dialer; null during the handshake. */
  peer: TransportNodeId | null = null;
  private readonly decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
  private readonly nonce = createNonce();
  private handshakeTimer: NodeJS.Timeout | null;
  private refused = false;

  constructor(
    private readonly socket: Socket,
    private readonly env: InboundLinkEnv,
  ) {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.clearHandshakeTimer();
      env.onClose(this);
    });
    this.handshakeTimer = setTimeout(() => this.refuse('timeout', null), env.handshakeTimeoutMs);
    // Without a secret nothing proves who dials, so only processes on this machine may.
    if (env.clusterSecret === undefined && !isLoopbackAddress(socket.remoteAddress)) {
      this.refuse('not-loopback', null);
      return;
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.write(encodeFrameBytes({ t: 'challenge', nonce: this.nonce, nodeId: env.nodeId }));
  }

  /** Closes the connection. */
  close(): void {
    this.clearHandshakeTimer();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.refused) return;
    let bodies: Buffer[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      if (this.peer === null) return this.refuse('malformed', error.reason);
      return this.closeFor(this.peer, error.reason);
    }
    for (const body of bodies) {
      if (this.socket.destroyed || this.refused) return;
      if (this.peer !== null) {
        const rejected = this.env.onFrame(this.peer, body, body.length + FRAME_HEADER_BYTES);
        if (rejected === null) continue;
        return this.closeFor(this.peer, rejected);
      }
      let value: unknown;
      try {
        value = decodeFrameBody(body);
      } catch {
        return this.refuse('malformed', 'undecodable');
      }
      const auth = asHandshakeFrame(value, 'auth');
      if (auth === null) return this.refuse('malformed', 'shape');
      if (auth.to !== this.env.nodeId) return this.refuse('wrong-node', null);
      // Checked before anything trusts the name: handlers derive Raft ids and counters' keys from it.
      if (auth.from === this.env.nodeId || !this.env.isNodeId(auth.from)) return this.refuse('bad-identity', 'identity');
      const expected = handshakeProof(this.env.clusterSecret, 'dial', this.nonce, auth.from, this.env.nodeId);
      if (!proofMatches(expected, auth.proof)) return this.refuse('bad-proof', null);
      this.clearHandshakeTimer();
      this.peer = auth.from;
      this.decoder.frameBytesMax = this.env.frameBytesMax;
      this.socket.write(encodeFrameBytes({ t: 'accept', proof: handshakeProof(this.env.clusterSecret, 'accept', auth.nonce, auth.from, this.env.nodeId) }));
      this.env.onAuthenticated(this);
    }
  }

  private closeFor(peer: TransportNodeId, reason: FrameRejectReason): void {
    this.env.onProtocolError(peer, reason);
    this.close();
  }

  private refuse(reason: RefusalReason | 'timeout', rejected: FrameRejectReason | null): void {
    if (this.socket.destroyed || this.refused) return;
    this.refused = true;
    this.clearHandshakeTimer();
    this.env.onRefused(reason, rejected);
    // Tell an honest but misconfigured dialer why, so its log names the cause; then hang up.
    if (reason === 'timeout') return void this.socket.destroy();
    this.socket.end(encodeFrameBytes({ t: 'refuse', reason }));
    this.socket.destroySoon();
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }
}
