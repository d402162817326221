/**
 * The bus's protocol above the wire: handlers of one-way messages and of requests by kind, each payload
 * checked before its handler sees it, and requests matched to their responses. The Transport feeds it the
 * frames it decodes from its sockets; the simulation's bus, the frames its virtual network delivers. Both
 * hand it a way to send a frame; it keeps no sockets and no clock of its own.
 */
import type { Environment } from '../common/environment.js';
import { FRAME_ERROR_RESPONSE, FRAME_MESSAGE, FRAME_REQUEST, FRAME_RESPONSE, type DataFrame, type Envelope, type PayloadCheck, type TransportNodeId } from './envelope.js';
import type { MessageHandler, RequestHandler } from './peer-bus.js';
import { PendingRequests } from './pending-requests.js';
import type { TransportCounters } from './transport-counters.js';
import { TransportError, type TransportErrorCode } from './transport-error.js';

/** Sends one frame to a peer: null when it went (or was lost as the wire loses frames), else why not. */
export type FrameSender = (to: TransportNodeId, frame: DataFrame, requestId: number | undefined) => TransportErrorCode | null;

/** A handler with the check its payloads pass first. */
interface Registered<H> {
  readonly handler: H;
  readonly check: PayloadCheck<unknown> | undefined;
}

export class FrameRouter {
  private readonly messageHandlers = new Map<string, Registered<MessageHandler>>();
  private readonly requestHandlers = new Map<string, Registered<RequestHandler>>();
  readonly pending: PendingRequests;

  constructor(
    private readonly selfId: TransportNodeId,
    private readonly counters: TransportCounters,
    requestsOutstandingMax: number,
    timers: Pick<Environment, 'after' | 'random'>,
    private readonly send: FrameSender,
  ) {
    this.pending = new PendingRequests(requestsOutstandingMax, timers);
  }

  on<P = unknown>(kind: string, handler: MessageHandler<P>, check?: PayloadCheck<P>): void {
    if (this.messageHandlers.has(kind)) throw new Error(`assertion failed: a handler for '${kind}' is registered already`);
    this.messageHandlers.set(kind, { handler: handler as MessageHandler, check });
  }

  onRequest<P = unknown>(kind: string, handler: RequestHandler<P>, check?: PayloadCheck<P>): void {
    if (this.requestHandlers.has(kind)) throw new Error(`assertion failed: a request handler for '${kind}' is registered already`);
    this.requestHandlers.set(kind, { handler: handler as RequestHandler, check });
  }

  request<R = unknown>(to: TransportNodeId, kind: string, payload: unknown, timeoutMs: number, check?: PayloadCheck<R>): Promise<R> {
    const opened = this.pending.open(to, timeoutMs, check);
    if (opened instanceof TransportError) return Promise.reject(opened);
    const refusal = this.send(to, [FRAME_REQUEST, kind, payload, opened.id], opened.id);
    if (refusal !== null) this.pending.reject(to, opened.id, new TransportError(refusal, `request to ${to} not sent: ${refusal}`));
    return opened.response as Promise<R>;
  }

  /** Routes a frame that arrived from `peer` to its handler or its waiting request. */
  receive(peer: TransportNodeId, frame: DataFrame): void {
    switch (frame[0]) {
      case FRAME_MESSAGE: {
        const registered = this.messageHandlers.get(frame[1]);
        if (registered === undefined) this.counters.unhandled++;
        else if (registered.check !== undefined && !registered.check(frame[2], peer)) this.counters.framesRejected.payload++;
        else registered.handler({ from: peer, to: this.selfId, kind: frame[1], payload: frame[2] });
        return;
      }
      case FRAME_REQUEST:
        this.serveRequest(peer, frame[1], frame[2], frame[3]);
        return;
      case FRAME_RESPONSE:
        if (this.pending.resolve(peer, frame[1], frame[2]) === 'malformed') this.counters.framesRejected.payload++;
        return;
      case FRAME_ERROR_RESPONSE:
        this.pending.reject(peer, frame[1], new TransportError('remote', `${peer}: ${frame[2]}`));
        return;
    }
  }

  private serveRequest(peer: TransportNodeId, kind: string, payload: unknown, requestId: number): void {
    const registered = this.requestHandlers.get(kind);
    if (registered === undefined) {
      this.counters.unhandled++;
      this.send(peer, [FRAME_ERROR_RESPONSE, requestId, `no handler for requests of kind '${kind}'`], undefined);
      return;
    }
    if (registered.check !== undefined && !registered.check(payload, peer)) {
      this.counters.framesRejected.payload++;
      this.send(peer, [FRAME_ERROR_RESPONSE, requestId, `malformed '${kind}' request`], undefined);
      return;
    }
    const envelope: Envelope = { from: peer, to: this.selfId, kind, payload };
    new Promise<unknown>((resolve) => resolve(registered.handler(envelope))).then(
      (response) => {
        // An answer too large to send still owes the requester an answer, just a shorter one.
        if (this.send(peer, [FRAME_RESPONSE, requestId, response], undefined) === 'too-large') {
          this.send(peer, [FRAME_ERROR_RESPONSE, requestId, 'response exceeds the largest frame'], undefined);
        }
      },
      (error: unknown) => {
        this.send(peer, [FRAME_ERROR_RESPONSE, requestId, error instanceof Error ? error.message : String(error)], undefined);
      },
    );
  }
}

/** Checks the shape of a decoded data frame; null if it is not one (a peer of another version, or a bug). */
export function asDataFrame(value: unknown): DataFrame | null {
  if (!Array.isArray(value)) return null;
  switch (value[0]) {
    case FRAME_MESSAGE:
      return value.length === 3 && typeof value[1] === 'string' ? (value as unknown as DataFrame) : null;
    case FRAME_REQUEST:
      return value.length === 4 && typeof value[1] === 'string' && Number.isSafeInteger(value[3]) ? (value as unknown as DataFrame) : null;
    case FRAME_RESPONSE:
      return value.length === 3 && Number.isSafeInteger(value[1]) ? (value as unknown as DataFrame) : null;
    case FRAME_ERROR_RESPONSE:
      return value.length === 3 && Number.isSafeInteger(value[1]) && typeof value[2] === 'string' ? (value as unknown as DataFrame) : null;
    default:
      return null;
  }
}
