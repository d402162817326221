/**
 * The outbound connection to one peer node: connected lazily on the first frame, authenticated by the
 * handshake, fed in batches (everything queued in one event-loop turn goes out in one socket write), and
 * re-established after a failure once an exponential backoff has passed.
 */
import { connect, type Socket } from 'node:net';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import type { TransportNodeId } from './envelope.js';
import { FrameDecoder, FrameError, decodeFrameBody, encodeFrameBytes, type EncodedFrame } from './frame-codec.js';
import { HANDSHAKE_FRAME_BYTES_MAX, asHandshakeFrame, createNonce, handshakeProof, proofMatches } from './handshake.js';
import type { PeerCounters } from './transport-counters.js';

/** Where a peer's bus listens. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** One encoded frame waiting in the send queue. */
export interface QueuedFrame extends EncodedFrame {
  /** Set for request frames, so dropping one can fail its request at once. */
  readonly requestId: number | undefined;
}

/** What a link needs from its transport. */
export interface PeerLinkEnv {
  readonly nodeId: TransportNodeId;
  readonly clusterSecret: string | undefined;
  readonly handshakeTimeoutMs: number;
  readonly sendQueueBytesMax: number;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  /** The connection failed (connect, handshake or later); called once per failure. */
  readonly onFailure: (peer: TransportNodeId, reason: string) => void;
  /** A queued request frame was discarded without being written. */
  readonly onRequestDropped: (peer: TransportNodeId, requestId: number) => void;
}

/**
 * `idle`: no socket (never used, or backoff over); `connecting`: dialling or handshaking, frames queue;
 * `open`: frames flow; `backoff`: the last attempt failed, frames are refused until the delay passes;
 * `closed`: for good.
 */
export type PeerLinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

// Above this many bytes a batch goes out as a vectored write of the frames as they are, rather than
// being copied into one buffer first: copying small frames is cheaper than many write requests, copying
// megabytes is not.
const CONCAT_BATCH_BYTES_MAX = 256 * 1024;

// Idle time before TCP keepalive probes start.
const KEEPALIVE_INITIAL_DELAY_MS = 5000;

export class PeerLink {
  state: PeerLinkState = 'idle';
  private socket: Socket | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  // The queue is an array with a moving head, so dropping the oldest frame is O(1).
  private queue: (QueuedFrame | undefined)[] = [];
  private queueHead = 0;
  private queueBytes = 0;
  /** Consecutive failed attempts since the last completed handshake. */
  private failures = 0;

  constructor(
    readonly peer: TransportNodeId,
    readonly address: PeerAddress,
    private readonly counters: PeerCounters,
    private readonly env: PeerLinkEnv,
  ) {}

  /**
   * Queues a frame, connecting if idle. Returns 'queued', or why it was refused: the link is in backoff
   * ('unreachable') or the frame alone exceeds the queue bound ('queue-full'). To make room, the oldest
   * queued frames are dropped first: Raft retries, and a newer message supersedes an older one.
   */
  enqueue(frame: QueuedFrame): 'queued' | 'unreachable' | 'queue-full' | 'closed' {
    if (this.state === 'closed') return 'closed';
    if (this.state === 'backoff') {
      this.counters.dropsUnreachable++;
      return 'unreachable';
    }
    const bytes = frame.header.length + frame.bodyBytes;
    const inSocketBytes = this.socket?.writableLength ?? 0;
    if (bytes + inSocketBytes > this.env.sendQueueBytesMax) {
      this.counters.dropsQueueFull++;
      return 'queue-full';
    }
    while (this.queueBytes + inSocketBytes + bytes > this.env.sendQueueBytesMax) this.dropOldest();
    this.queue.push(frame);
    this.queueBytes += bytes;
    if (this.state === 'idle') this.dial();
    else if (this.state === 'open') this.scheduleFlush();
    return 'queued';
  }

  /** Closes the link for good; queued frames are discarded. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimers();
    this.socket?.destroy();
    this.socket = null;
    this.discardQueue();
  }

  private dial(): void {
    this.state = 'connecting';
    const socket = connect({ host: this.address.host, port: this.address.port });
    this.socket = socket;
    // Raft heartbeats and votes are tiny and latency-bound; batching is done here, not by Nagle.
    socket.setNoDelay(true);
    // Notices a peer that vanished (power loss, dropped route) while the link is idle.
    socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    this.handshakeTimer = setTimeout(() => this.fail(socket, `no handshake within ${this.env.handshakeTimeoutMs} ms`), this.env.handshakeTimeoutMs);
    const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
    const nonce = createNonce();
    let listenerId: TransportNodeId | null = null;
    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = decoder.push(chunk);
      } catch (error) {
        if (error instanceof FrameError) return this.fail(socket, `bad handshake frame: ${error.message}`);
        throw error;
      }
      for (const body of bodies) {
        if (this.socket !== socket) return;
        let value: unknown;
        try {
          value = decodeFrameBody(body);
        } catch {
          return this.fail(socket, 'undecodable handshake frame');
        }
        const refusal = asHandshakeFrame(value, 'refuse');
        if (refusal !== null) return this.fail(socket, `refused: ${refusal.reason}`);
        if (listenerId === null) {
          const challenge = asHandshakeFrame(value, 'challenge');
          if (challenge === null) return this.fail(socket, 'expected a challenge');
          if (challenge.nodeId !== this.peer) return this.fail(socket, `reached ${challenge.nodeId} instead of ${this.peer}`);
          listenerId = challenge.nodeId;
          const proof = handshakeProof(this.env.clusterSecret, 'dial', challenge.nonce, this.env.nodeId, listenerId);
          socket.write(encodeFrameBytes({ t: 'auth', from: this.env.nodeId, to: listenerId, nonce, proof }));
        } else if (this.state === 'connecting') {
          const accept = asHandshakeFrame(value, 'accept');
          if (accept === null) return this.fail(socket, 'expected accept');
          const expected = handshakeProof(this.env.clusterSecret, 'accept', nonce, this.env.nodeId, listenerId);
          if (!proofMatches(expected, accept.proof)) return this.fail(socket, 'listener proof does not match (other cluster secret?)');
          this.onOpen();
        } else {
          // The listener never writes after accepting: the reverse direction has its own connection.
          return this.fail(socket, 'unexpected frame from listener');
        }
      }
    });
    socket.on('drain', () => this.flush());
    socket.on('error', (error) => this.fail(socket, error.message));
    socket.on('close', () => this.fail(socket, 'connection closed'));
  }

  private onOpen(): void {
    this.clearTimers();
    this.state = 'open';
    if (this.counters.connects > 0) this.counters.reconnects++;
    this.counters.connects++;
    this.failures = 0;
    this.scheduleFlush();
  }

  /** Handles the end of `socket` (once; later events of an old socket are ignored). */
  private fail(socket: Socket, reason: string): void {
    if (this.socket !== socket || this.state === 'closed') return;
    this.socket = null;
    socket.destroy();
    this.clearTimers();
    this.discardQueue();
    this.counters.connectFailures++;
    this.failures++;
    this.state = 'backoff';
    this.backoffTimer = setTimeout(
      () => {
        this.backoffTimer = null;
        // Lazy: the next frame dials again, so a peer nobody talks to costs nothing.
        if (this.state === 'backoff') this.state = 'idle';
      },
      backoffDelayMs(this.failures, this.env.backoff, this.env.random),
    );
    this.env.onFailure(this.peer, reason);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate runs after the I/O callbacks of this loop turn, so every frame queued during the turn
    // (from any number of callbacks) joins one write.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (this.state !== 'open' || socket === null || this.queueHead === this.queue.length) return;
    // Under backpressure frames stay in our queue, where the bound can still drop the oldest.
    if (socket.writableNeedDrain) return;
    const frames = (this.queueHead === 0 ? this.queue : this.queue.slice(this.queueHead)) as QueuedFrame[];
    const bytes = this.queueBytes;
    this.queue = [];
    this.queueHead = 0;
    this.queueBytes = 0;
    if (bytes <= CONCAT_BATCH_BYTES_MAX) {
      const parts: Buffer[] = [];
      for (const frame of frames) parts.push(frame.header, ...frame.body);
      socket.write(Buffer.concat(parts, bytes));
    } else {
      // cork/uncork turns the writes into one writev.
      socket.cork();
      for (const frame of frames) {
        socket.write(frame.header);
        for (const part of frame.body) socket.write(part);
      }
      socket.uncork();
    }
    this.counters.writes++;
    this.counters.framesSent += frames.length;
    this.counters.bytesSent += bytes;
  }

  private dropOldest(): void {
    const frame = this.queue[this.queueHead]!;
    // Release the dropped frame's memory now; compact once the dead prefix is half the array.
    this.queue[this.queueHead] = undefined;
    this.queueHead++;
    if (this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.queueBytes -= frame.header.length + frame.bodyBytes;
    this.counters.dropsQueueFull++;
    if (frame.requestId !== undefined) this.env.onRequestDropped(this.peer, frame.requestId);
  }

  private discardQueue(): void {
    const frames = this.queue.slice(this.queueHead) as QueuedFrame[];
    this.queue = [];
    this.queueHead = 0;
    this.queueBytes = 0;
    this.counters.dropsUnreachable += frames.length;
    for (const frame of frames) if (frame.requestId !== undefined) this.env.onRequestDropped(this.peer, frame.requestId);
  }

  private clearTimers(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.handshakeTimer = null;
    this.backoffTimer = null;
  }
}
