/**
 * What a process core needs of the bus between processes: named one-way messages and requests to peers by
 * id, each payload checked on arrival. `Transport` is the real one (TCP, frames, handshakes); the
 * simulation's runs over its lossy virtual network. Cores take a PeerBus, never a Transport, so both run
 * the same code.
 */
import type { Envelope, PayloadCheck, TransportNodeId } from './envelope.js';
import type { PeerAddress } from './peer-link.js';

/** Receives one-way messages of a kind. Runs synchronously in the socket's data callback: keep it short. */
export type MessageHandler<P = unknown> = (envelope: Envelope<P>) => void;

/** Answers requests of a kind; a returned value (or promise) is the response, a throw fails the request. */
export type RequestHandler<P = unknown> = (envelope: Envelope<P>) => unknown;

export interface PeerBus {
  /** The peers' addresses, replacing the previous map. */
  setPeers(peers: ReadonlyMap<TransportNodeId, PeerAddress>): void;
  /** The handler of one-way messages of `kind`; a payload failing `check` is dropped before it. */
  on<P = unknown>(kind: string, handler: MessageHandler<P>, check?: PayloadCheck<P>): void;
  /** The handler of requests of `kind`; a payload failing `check` is answered with an error. */
  onRequest<P = unknown>(kind: string, handler: RequestHandler<P>, check?: PayloadCheck<P>): void;
  /** Fire and forget; false when dropped at once. */
  send(to: TransportNodeId, kind: string, payload: unknown): boolean;
  /** Resolves with the peer's answer; rejects with a TransportError (timeout, unreachable, ...). */
  request<R = unknown>(to: TransportNodeId, kind: string, payload: unknown, timeoutMs: number, check?: PayloadCheck<R>): Promise<R>;
  close(): Promise<void>;
}
