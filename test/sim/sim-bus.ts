/**
 * A simulated process's bus: the real frame routing (transport/frame-router.ts) over the simulated
 * network. Every frame is encoded with the transport's frame codec and decoded on arrival, so what a
 * handler sees is what it would see from a real peer, and the payload checks run as on a real node. A
 * frame the receiver cannot decode, or a payload its check refuses, fails the run: the cluster must never
 * refuse its own traffic.
 */
import type { Environment } from '../../src/common/environment.js';
import { FRAME_MESSAGE, FRAME_REQUEST, type PayloadCheck, type TransportNodeId } from '../../src/transport/envelope.js';
import { decodeFrameBody, encodeFrameBytes, FRAME_HEADER_BYTES } from '../../src/transport/frame-codec.js';
import { asDataFrame, FrameRouter } from '../../src/transport/frame-router.js';
import type { MessageHandler, PeerBus, RequestHandler } from '../../src/transport/peer-bus.js';
import { emptyTransportCounters } from '../../src/transport/transport-counters.js';
import { TransportError } from '../../src/transport/transport-error.js';
import type { SimNetwork } from './sim-network.js';

/** Requests one simulated process may have in flight (a real node allows 16,384). */
const REQUESTS_OUTSTANDING_MAX = 16_384;

export class SimBus implements PeerBus {
  readonly counters = emptyTransportCounters();
  private readonly router: FrameRouter;

  /**
   * `name`'s bus on `network`; `alive` says whether this incarnation still runs, `fail` ends the run,
   * `tap` sees each decoded one-way message before its handler (the simulation's counters), `hold` runs
   * each arrival, later while the process is paused (PauseGate.run), and `requested` sees the kind of
   * each request this process sends as it leaves.
   */
  constructor(
    private readonly name: string,
    private readonly network: SimNetwork<Buffer>,
    env: Environment,
    private readonly alive: () => boolean,
    private readonly fail: (message: string) => void,
    private readonly tap: (from: string, kind: string, payload: unknown) => void = () => {},
    hold: (arrival: () => void) => void = (arrival) => arrival(),
    requested: (to: string, kind: string) => void = () => {},
  ) {
    this.router = new FrameRouter(name, this.counters, REQUESTS_OUTSTANDING_MAX, env, (to, frame) => {
      if (!this.alive()) return null;
      // Raft's one-way messages may arrive twice (it is built for that); requests and responses never do.
      network.deliver(name, to, encodeFrameBytes(frame), frame[0] !== FRAME_MESSAGE);
      if (frame[0] === FRAME_REQUEST) requested(to, frame[1]);
      return null;
    });
    network.attach(name, (from, bytes) => hold(() => this.arrive(from, bytes)));
  }

  setPeers(): void {
    // Every simulated process is reachable by its name.
  }

  on<P = unknown>(kind: string, handler: MessageHandler<P>, check?: PayloadCheck<P>): void {
    this.router.on(kind, handler, check);
  }

  onRequest<P = unknown>(kind: string, handler: RequestHandler<P>, check?: PayloadCheck<P>): void {
    this.router.onRequest(kind, handler, check);
  }

  send(to: TransportNodeId, kind: string, payload: unknown): boolean {
    if (!this.alive()) return false;
    this.network.deliver(this.name, to, encodeFrameBytes([FRAME_MESSAGE, kind, payload]));
    return true;
  }

  request<R = unknown>(to: TransportNodeId, kind: string, payload: unknown, timeoutMs: number, check?: PayloadCheck<R>): Promise<R> {
    return this.router.request(to, kind, payload, timeoutMs, check);
  }

  /** A peer's process died: its requests in flight fail as a broken connection fails them. */
  peerCrashed(peer: string): void {
    this.router.pending.rejectAll(peer, new TransportError('broken', `connection to ${peer} failed: it crashed`));
  }

  close(): Promise<void> {
    this.router.pending.rejectAll(undefined, new TransportError('closed', 'transport closed'));
    return Promise.resolve();
  }

  private arrive(from: string, bytes: Buffer): void {
    if (!this.alive()) return;
    let frame: ReturnType<typeof asDataFrame>;
    try {
      frame = asDataFrame(decodeFrameBody(bytes.subarray(FRAME_HEADER_BYTES)));
    } catch (err) {
      return this.fail(`${this.name}: a frame from ${from} does not decode: ${String(err)}`);
    }
    if (frame === null) return this.fail(`${this.name}: a frame from ${from} is not a data frame`);
    if (frame[0] === FRAME_MESSAGE) this.tap(from, frame[1], frame[2]);
    const rejected = this.counters.framesRejected.payload;
    this.router.receive(from, frame);
    if (this.counters.framesRejected.payload !== rejected)
      this.fail(`${this.name}: a '${frame[0] === FRAME_MESSAGE || frame[0] === FRAME_REQUEST ? frame[1] : 'response'}' frame from ${from} fails the bus's check`);
  }
}
