import type { NodeId } from './node-id.js';

/** A linearizable read request waiting for its read index to be confirmed. */
export interface ReadRequest {
  /** The node that asked (the leader itself for local reads). */
  readonly from: NodeId;
  readonly context: Uint8Array;
}

/** A pending read: the commit index when it arrived, and who has confirmed the leadership since. */
export interface ReadIndexStatus {
  readonly request: ReadRequest;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

/**
 * The leader's pending ReadIndex requests, in arrival order (Raft thesis §6.4). A heartbeat round carrying
 * a request's context that a quorum answers confirms the leader was still leader when the request
 * arrived, and so confirms every earlier request too.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Queues a request at read index `index`; a duplicate context is ignored. */
  addRequest(index: number, request: ReadRequest): void {
    const key = contextKey(request.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { request, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Records that `id` answered the heartbeat carrying `context`; returns who has, if it is pending. */
  recvAck(id: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const status = this.pending.get(contextKey(context));
    if (status === undefined) return undefined;
    status.acks.add(id);
    return status.acks;
  }

  /** Removes and returns the request with `context` and every request queued before it. */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const done = this.queue.slice(0, position + 1);
    this.queue = this.queue.slice(position + 1);
    return done.map((k) => {
      const status = this.pending.get(k)!;
      this.pending.delete(k);
      return status;
    });
  }

  /** The context of the newest pending request, carried by the next heartbeat round. */
  lastPendingContext(): Uint8Array | null {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? null : this.pending.get(last)!.request.context;
  }
}

/** A Map key for bytes: one char per byte, so distinct byte strings give distinct keys. */
function contextKey(context: Uint8Array): string {
  let key = '';
  for (const byte of context) key += String.fromCharCode(byte);
  return key;
}
