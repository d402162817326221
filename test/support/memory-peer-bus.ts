/**
 * PeerBuses that deliver to each other in memory, on a Scheduler's virtual time: each message arrives
 * DELIVERY_MS after it was sent, as a copy (as if serialized), after its kind's payload check. A peer can
 * be cut off: everything it sends or is sent is dropped until it is reconnected.
 */
import type { PayloadCheck, TransportNodeId } from '../../src/transport/envelope.js';
import type { PeerAddress } from '../../src/transport/peer-link.js';
import type { MessageHandler, PeerBus, RequestHandler } from '../../src/transport/peer-bus.js';
import { TransportError } from '../../src/transport/transport-error.js';
import type { Scheduler } from '../sim/scheduler.js';

/** Virtual ms between a send and its delivery. */
export const DELIVERY_MS = 1;

interface Registered<H> {
  readonly handler: H;
  readonly check: PayloadCheck<unknown> | undefined;
}

/** The buses of a group of peers, and the links between them. */
export class MemoryBusNetwork {
  private readonly buses = new Map<TransportNodeId, MemoryPeerBus>();
  private readonly cutOff = new Set<TransportNodeId>();
  /** Messages dropped because a peer was cut off, closed, or had no handler, or a check failed. */
  dropped = 0;

  constructor(private readonly scheduler: Scheduler) {}

  /** The bus of peer `id`, made on first use. */
  bus(id: TransportNodeId): MemoryPeerBus {
    let bus = this.buses.get(id);
    if (bus === undefined) {
      bus = new MemoryPeerBus(id, this);
      this.buses.set(id, bus);
    }
    return bus;
  }

  /** Drops everything `id` sends or is sent from now on. */
  cut(id: TransportNodeId): void {
    this.cutOff.add(id);
  }

  reconnect(id: TransportNodeId): void {
    this.cutOff.delete(id);
  }

  /** Delivers a copy of `payload` DELIVERY_MS from now, unless a link is cut by then. */
  deliver(from: TransportNodeId, to: TransportNodeId, kind: string, payload: unknown): void {
    const copy = structuredClone(payload);
    this.scheduler.after(DELIVERY_MS, () => {
      const bus = this.buses.get(to);
      if (!this.reachable(from, to) || !bus!.receive(from, kind, copy)) this.dropped++;
    });
  }

  /** Whether neither end is cut off and the receiver's bus is open. */
  reachable(from: TransportNodeId, to: TransportNodeId): boolean {
    return !this.cutOff.has(from) && !this.cutOff.has(to) && this.buses.get(to)?.closed === false;
  }
}

/** One peer's bus on a MemoryBusNetwork. */
export class MemoryPeerBus implements PeerBus {
  private readonly messageHandlers = new Map<string, Registered<MessageHandler>>();
  private readonly requestHandlers = new Map<string, Registered<RequestHandler>>();
  private peers: ReadonlyMap<TransportNodeId, PeerAddress> = new Map();
  closed = false;

  constructor(
    readonly id: TransportNodeId,
    private readonly network: MemoryBusNetwork,
  ) {}

  setPeers(peers: ReadonlyMap<TransportNodeId, PeerAddress>): void {
    this.peers = new Map(peers);
  }

  on<P = unknown>(kind: string, handler: MessageHandler<P>, check?: PayloadCheck<P>): void {
    this.messageHandlers.set(kind, { handler: handler as MessageHandler, check });
  }

  onRequest<P = unknown>(kind: string, handler: RequestHandler<P>, check?: PayloadCheck<P>): void {
    this.requestHandlers.set(kind, { handler: handler as RequestHandler, check });
  }

  send(to: TransportNodeId, kind: string, payload: unknown): boolean {
    if (this.closed || !this.peers.has(to)) return false;
    this.network.deliver(this.id, to, kind, payload);
    return true;
  }

  request<R = unknown>(to: TransportNodeId, kind: string, payload: unknown, _timeoutMs: number, check?: PayloadCheck<R>): Promise<R> {
    if (this.closed) return Promise.reject(new TransportError('closed', 'the bus is closed'));
    if (!this.peers.has(to)) return Promise.reject(new TransportError('unknown-peer', `${to} is not a peer`));
    if (!this.network.reachable(this.id, to)) return Promise.reject(new TransportError('unreachable', `${to} is cut off`));
    const registered = this.network.bus(to).requestHandlers.get(kind);
    if (registered === undefined || (registered.check !== undefined && !registered.check(payload, this.id))) {
      return Promise.reject(new TransportError('remote', `${to} refused a ${kind} request`));
    }
    return Promise.resolve(registered.handler({ from: this.id, to, kind, payload: structuredClone(payload) })).then((answer) => {
      if (check !== undefined && !check(answer, to)) throw new TransportError('remote', `${to} answered a ${kind} request with a bad payload`);
      return answer as R;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** A message from `from` arrived; false when it is dropped. */
  receive(from: TransportNodeId, kind: string, payload: unknown): boolean {
    const registered = this.messageHandlers.get(kind);
    if (registered === undefined || (registered.check !== undefined && !registered.check(payload, from))) return false;
    registered.handler({ from, to: this.id, kind, payload });
    return true;
  }
}
