/**
 * The node-to-node bus: one outbound TCP connection per peer node, carrying envelopes in length-prefixed
 * msgpack frames, batched per peer per event-loop turn. This is the only place of the bus with sockets
 * and timers; framing, backoff, handshake proofs and fault decisions are pure pieces beside it.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { BACKOFF_POLICY_DEFAULT, type BackoffPolicy } from './backoff.js';
import { FRAME_MESSAGE, isTransportNodeId, type DataFrame, type PayloadCheck, type TransportNodeId } from './envelope.js';
import { FaultInjector } from './fault-injector.js';
import { FRAME_BYTES_MAX_DEFAULT, FRAME_HEADER_BYTES, decodeFrameBody, encodeFrame } from './frame-codec.js';
import { InboundLink } from './inbound-link.js';
import { PeerLink, type PeerAddress, type QueuedFrame } from './peer-link.js';
import { asDataFrame, FrameRouter } from './frame-router.js';
import type { MessageHandler, PeerBus, RequestHandler } from './peer-bus.js';
import { emptyPeerCounters, emptyTransportCounters, type FrameRejectReason, type PeerCounters, type TransportCounters } from './transport-counters.js';
import { TransportError, type TransportErrorCode } from './transport-error.js';

export type { MessageHandler, RequestHandler } from './peer-bus.js';

/** How to build a Transport. Only `nodeId` is required. */
export interface TransportOptions {
  /** This node's id as the routing table names it. */
  readonly nodeId: TransportNodeId;
  /**
   * The shared cluster secret that handshakes prove knowledge of. Without it, the listener accepts only
   * loopback connections.
   */
  readonly clusterSecret?: string | undefined;
  /** Bound on one frame body, checked by senders and from the header by receivers. Default FRAME_BYTES_MAX_DEFAULT. */
  readonly frameBytesMax?: number;
  /** Bound on bytes waiting for one peer (our queue plus the socket's buffer). Default 128 MiB. */
  readonly sendQueueBytesMax?: number;
  /** Bound on requests outstanding at once. Default 1024. */
  readonly requestsOutstandingMax?: number;
  /** Time a connection has to complete the handshake, on either side. Default 5000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Bound on accepted connections (authenticated or not). Default 1024. */
  readonly inboundConnectionsMax?: number;
  /**
   * Which node ids a dialer may claim at the handshake; anything else is refused before it can reach a
   * handler. Default: 1 to 64 letters, digits, `.`, `_` or `-`.
   */
  readonly isNodeId?: (id: TransportNodeId) => boolean;
  /** Reconnect schedule. */
  readonly backoff?: BackoffPolicy;
  /** Uniform in [0, 1); used for backoff jitter. Seeded in tests. */
  readonly random?: () => number;
  /** Fault rules (tests); share one instance between the transports of a test cluster. */
  readonly faults?: FaultInjector;
  /**
   * The connection to `peer` failed (dial, handshake, or an open connection broke). The multi-raft
   * driver calls `RawNode.reportUnreachable` for every group with a replica on that node.
   */
  readonly onUnreachable?: (peer: TransportNodeId, reason: string) => void;
}

export class Transport implements PeerBus {
  /** This node's id. */
  readonly nodeId: TransportNodeId;
  /** Fault rules; inactive unless a test sets some. */
  readonly faults: FaultInjector;
  /** Counters not tied to a peer. */
  readonly counters: TransportCounters = emptyTransportCounters();

  private readonly clusterSecret: string | undefined;
  private readonly frameBytesMax: number;
  private readonly sendQueueBytesMax: number;
  private readonly handshakeTimeoutMs: number;
  private readonly inboundConnectionsMax: number;
  private readonly isNodeId: (id: TransportNodeId) => boolean;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly onUnreachable: ((peer: TransportNodeId, reason: string) => void) | undefined;
  private readonly peers = new Map<TransportNodeId, PeerAddress>();
  private readonly links = new Map<TransportNodeId, PeerLink>();
  private readonly inbound = new Set<InboundLink>();
  private readonly inboundByPeer = new Map<TransportNodeId, InboundLink>();
  private readonly peerCountersById = new Map<TransportNodeId, PeerCounters>();
  private readonly router: FrameRouter;
  private readonly delayTimers = new Set<NodeJS.Timeout>();
  private server: Server | null = null;
  private closed = false;

  constructor(options: TransportOptions) {
    this.nodeId = options.nodeId;
    this.clusterSecret = options.clusterSecret;
    this.frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    // Room for two maximal frames, so one in the socket's buffer does not force the next to be refused.
    this.sendQueueBytesMax = options.sendQueueBytesMax ?? 2 * (this.frameBytesMax + FRAME_HEADER_BYTES);
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    this.inboundConnectionsMax = options.inboundConnectionsMax ?? 1024;
    this.isNodeId = options.isNodeId ?? isTransportNodeId;
    this.backoff = options.backoff ?? BACKOFF_POLICY_DEFAULT;
    this.random = options.random ?? Math.random;
    this.onUnreachable = options.onUnreachable;
    this.faults = options.faults ?? new FaultInjector();
    // A pending request alone must not keep the process alive.
    const timers = {
      after: (ms: number, fn: () => void) => {
        const timer = setTimeout(fn, ms);
        timer.unref();
        return () => clearTimeout(timer);
      },
      random: () => Math.random(),
    };
    this.router = new FrameRouter(this.nodeId, this.counters, options.requestsOutstandingMax ?? 1024, timers, (to, frame, requestId) => this.sendFrame(to, frame, requestId));
    const limits = {
      frameBytesMax: this.frameBytesMax,
      sendQueueBytesMax: this.sendQueueBytesMax,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      inboundConnectionsMax: this.inboundConnectionsMax,
    };
    for (const [name, value] of Object.entries(limits)) {
      if (!(Number.isSafeInteger(value) && value > 0)) throw new Error(`assertion failed: ${name} ${value} must be a positive integer`);
    }
  }

  /** Starts accepting peers on `host:port` (port 0: any free port); resolves with the bound address. */
  listen(host: string, port: number): Promise<PeerAddress> {
    if (this.server !== null || this.closed) throw new Error('assertion failed: listen once, before close');
    const server = createServer((socket) => this.accept(socket));
    server.maxConnections = this.inboundConnectionsMax;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const address = server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /**
   * Replaces the peers map (node id → bus address), e.g. on every new routing table version. Links to
   * removed peers are closed, links whose address changed are closed and redialled on the next send;
   * unchanged links are kept as they are. This node's own entry, if present, is ignored.
   */
  setPeers(peers: ReadonlyMap<TransportNodeId, PeerAddress>): void {
    for (const [id, link] of this.links) {
      const address = peers.get(id);
      if (address === undefined || address.host !== link.address.host || address.port !== link.address.port) {
        link.close();
        this.links.delete(id);
      }
    }
    this.peers.clear();
    for (const [id, address] of peers) if (id !== this.nodeId) this.peers.set(id, { host: address.host, port: address.port });
  }

  /**
   * Registers the handler of one-way messages of `kind` (one handler per kind). With `check`, a message
   * whose payload fails it is dropped and counted (`framesRejected.payload`) before the handler sees it.
   */
  on<P = unknown>(kind: string, handler: MessageHandler<P>, check?: PayloadCheck<P>): void {
    this.router.on(kind, handler, check);
  }

  /**
   * Registers the handler of requests of `kind` (one handler per kind). With `check`, a request whose
   * payload fails it is answered with an error and counted, and the handler never sees it.
   */
  onRequest<P = unknown>(kind: string, handler: RequestHandler<P>, check?: PayloadCheck<P>): void {
    this.router.onRequest(kind, handler, check);
  }

  /**
   * Sends a one-way message. Fire and forget: it goes out with everything else sent to `to` in this
   * event-loop turn, and may be lost (peer down, queue full, connection broken); the counters say why.
   * Returns false when it was dropped here and now. The payload is encoded at once, so the caller may
   * reuse it after the call.
   */
  send(to: TransportNodeId, kind: string, payload: unknown): boolean {
    return this.sendFrame(to, [FRAME_MESSAGE, kind, payload], undefined) === null;
  }

  /**
   * Sends a request and resolves with the handler's response. Rejects with a TransportError: 'timeout'
   * after `timeoutMs` (including when the request or its response was lost), or at once with
   * 'unreachable', 'unknown-peer', 'overloaded', 'too-large', 'closed'; 'broken' when the connection failed
   * while it was outstanding; 'remote' when the responder had no
   * handler or its handler failed, or the response failed `check` (counted as a rejected payload). The
   * responder needs this node in its peers map to answer.
   */
  request<R = unknown>(to: TransportNodeId, kind: string, payload: unknown, timeoutMs: number, check?: PayloadCheck<R>): Promise<R> {
    if (this.closed) return Promise.reject(new TransportError('closed', 'transport closed'));
    return this.router.request(to, kind, payload, timeoutMs, check);
  }

  /** Counters of traffic with `peer` (zeros if none yet). */
  peerCounters(peer: TransportNodeId): PeerCounters {
    return this.countersOf(peer);
  }

  /** Counters of every peer traffic has been exchanged with. */
  allPeerCounters(): ReadonlyMap<TransportNodeId, PeerCounters> {
    return this.peerCountersById;
  }

  /** Requests waiting for a response. */
  get requestsOutstanding(): number {
    return this.router.pending.size;
  }

  /** Stops listening, closes every connection, fails outstanding requests with 'closed'. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.delayTimers) clearTimeout(timer);
    this.delayTimers.clear();
    this.router.pending.rejectAll(undefined, new TransportError('closed', 'transport closed'));
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const link of this.inbound) link.close();
    this.inbound.clear();
    this.inboundByPeer.clear();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Encodes and routes one frame; null if it was queued (or delayed or lost by a fault rule), else why
   * not. Refusals are codes, not Errors: dropping messages to a dead peer is routine and must stay cheap.
   */
  private sendFrame(to: TransportNodeId, frame: DataFrame, requestId: number | undefined): TransportErrorCode | null {
    if (this.closed) return 'closed';
    if (to === this.nodeId) throw new Error(`assertion failed: ${to} sends to itself over the bus`);
    if (!this.peers.has(to)) {
      this.counters.dropsUnknownPeer++;
      return 'unknown-peer';
    }
    const encoded = encodeFrame(frame);
    if (encoded.bodyBytes > this.frameBytesMax) {
      this.counters.dropsTooLarge++;
      return 'too-large';
    }
    const queued: QueuedFrame = { ...encoded, requestId };
    if (this.faults.active) {
      const decision = this.faults.decide(this.nodeId, to);
      if (decision.kind === 'drop') {
        this.countersOf(to).dropsFault++;
        // A lost request is noticed the way a real loss is: by its timeout.
        return null;
      }
      if (decision.delayMs > 0) {
        const timer = setTimeout(() => {
          this.delayTimers.delete(timer);
          const refusal = this.enqueue(to, queued);
          if (refusal !== null && requestId !== undefined) this.router.pending.reject(to, requestId, new TransportError(refusal, `request to ${to} not sent: ${refusal}`));
        }, decision.delayMs);
        this.delayTimers.add(timer);
        return null;
      }
    }
    return this.enqueue(to, queued);
  }

  private enqueue(to: TransportNodeId, frame: QueuedFrame): TransportErrorCode | null {
    const link = this.linkTo(to);
    if (link === null) {
      this.counters.dropsUnknownPeer++;
      return 'unknown-peer';
    }
    const outcome = link.enqueue(frame);
    switch (outcome) {
      case 'queued':
        return null;
      case 'queue-full':
        return 'overloaded';
      default:
        return outcome;
    }
  }

  private linkTo(peer: TransportNodeId): PeerLink | null {
    const existing = this.links.get(peer);
    if (existing !== undefined) return existing;
    const address = this.peers.get(peer);
    if (address === undefined) return null;
    const link = new PeerLink(peer, address, this.countersOf(peer), {
      nodeId: this.nodeId,
      clusterSecret: this.clusterSecret,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      sendQueueBytesMax: this.sendQueueBytesMax,
      backoff: this.backoff,
      random: this.random,
      onFailure: (failed, reason) => this.onLinkFailure(failed, reason),
      onRequestDropped: (dropped, requestId) =>
        this.router.pending.reject(dropped, requestId, new TransportError('unreachable', `request to ${dropped} dropped before it was sent`)),
    });
    this.links.set(peer, link);
    return link;
  }

  private onLinkFailure(peer: TransportNodeId, reason: string): void {
    // The peer may have received a request before the connection broke; its answer would come over its
    // own link, but a caller is better served by failing now and retrying than by waiting for a timeout.
    this.router.pending.rejectAll(peer, new TransportError('broken', `connection to ${peer} failed: ${reason}`));
    this.onUnreachable?.(peer, reason);
  }

  private accept(socket: Socket): void {
    if (this.closed) return void socket.destroy();
    const link = new InboundLink(socket, {
      nodeId: this.nodeId,
      clusterSecret: this.clusterSecret,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      frameBytesMax: this.frameBytesMax,
      isNodeId: this.isNodeId,
      onAuthenticated: (authenticated) => {
        const peer = authenticated.peer!;
        // A redial replaces a connection the dialer has given up on (it may not have noticed the break).
        this.inboundByPeer.get(peer)?.close();
        this.inboundByPeer.set(peer, authenticated);
      },
      onRefused: (_reason, rejected) => {
        this.counters.handshakesRefused++;
        if (rejected !== null) this.counters.framesRejected[rejected]++;
      },
      onFrame: (peer, body, wireBytes) => this.onFrame(peer, body, wireBytes),
      onProtocolError: (_peer, reason) => {
        this.counters.protocolErrors++;
        this.counters.framesRejected[reason]++;
      },
      onClose: (closed) => {
        this.inbound.delete(closed);
        if (closed.peer !== null && this.inboundByPeer.get(closed.peer) === closed) this.inboundByPeer.delete(closed.peer);
      },
    });
    this.inbound.add(link);
  }

  /**
   * Dispatches one frame from an authenticated peer; returns why if the frame is malformed (the link is
   * then closed). A well-formed frame whose payload fails its kind's check is dropped here.
   */
  private onFrame(peer: TransportNodeId, body: Buffer, wireBytes: number): FrameRejectReason | null {
    const counters = this.countersOf(peer);
    counters.framesReceived++;
    counters.bytesReceived += wireBytes;
    if (this.faults.active && this.faults.isBlocked(peer, this.nodeId)) {
      counters.dropsFault++;
      return null;
    }
    let value: unknown;
    try {
      value = decodeFrameBody(body);
    } catch {
      return 'undecodable';
    }
    const frame = asDataFrame(value);
    if (frame === null) return 'shape';
    this.router.receive(peer, frame);
    return null;
  }

  private countersOf(peer: TransportNodeId): PeerCounters {
    let counters = this.peerCountersById.get(peer);
    if (counters === undefined) {
      counters = emptyPeerCounters();
      this.peerCountersById.set(peer, counters);
    }
    return counters;
  }
}
