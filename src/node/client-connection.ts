/**
 * Per-connection state of a RESP client, and the in-order delivery of replies: a pipelined client gets
 * its replies in request order even when a write waits for its commit while a later read does not.
 */
import type { Socket } from 'node:net';
import type { Reply } from '../resp/reply.js';
import type { ProtocolVersion } from '../resp/writer.js';

export type { ProtocolVersion };

export class ClientConnection {
  name: string | undefined;
  protocol: ProtocolVersion = 2;
  authenticated: boolean;
  /** After READONLY a replica may serve reads of shards it follows. */
  readonlyMode = false;
  /** Set by ASKING, consumed by the next command. */
  asking = false;
  /**
   * Set by MULTI, cleared by EXEC, DISCARD or RESET. Transactions are not supported yet, so the commands
   * in between are refused: none of them may run outside the transaction the client asked for.
   */
  inRefusedTransaction = false;
  /** The client had sent more bytes behind the command being dispatched: it pipelines. */
  requestsBehind = false;
  libName = '';
  libVersion = '';
  lastCommand = '';
  readonly createdAtMs: number;
  /** Replies not yet written, in request order; a slot holds undefined until its reply is known. */
  private readonly pending: (Reply | undefined)[] = [];
  /** The protocol in force when each pending request ran: a later HELLO must not change its encoding. */
  private readonly pendingProtocol: ProtocolVersion[] = [];
  /** Index in `pending` of the oldest reply not yet written (so shifting is amortised). */
  private pendingHead = 0;
  closing = false;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    requiresAuth: boolean,
    nowMs: number,
    private readonly emit: (reply: Reply, protocol: ProtocolVersion) => void,
  ) {
    this.authenticated = !requiresAuth;
    this.createdAtMs = nowMs;
  }

  /** Number of replies still owed to the client. */
  get owed(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Queues the reply to one request. A promise is written when it settles, after all earlier replies. */
  reply(result: Reply | Promise<Reply>): void {
    if (!(result instanceof Promise)) {
      if (this.owed === 0) this.emit(result, this.protocol);
      else {
        this.pending.push(result);
        this.pendingProtocol.push(this.protocol);
      }
      return;
    }
    const slot = this.pending.length;
    this.pending.push(undefined);
    this.pendingProtocol.push(this.protocol);
    result.then(
      (reply) => this.fill(slot, reply),
      (err: unknown) => this.fill(slot, { kind: 'error', message: `ERR ${err instanceof Error ? err.message : String(err)}` }),
    );
  }

  private fill(slot: number, reply: Reply): void {
    this.pending[slot] = reply;
    while (this.pendingHead < this.pending.length && this.pending[this.pendingHead] !== undefined) {
      this.emit(this.pending[this.pendingHead]!, this.pendingProtocol[this.pendingHead]!);
      this.pendingHead++;
    }
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0;
      this.pendingProtocol.length = 0;
      this.pendingHead = 0;
    }
    this.onDrained?.();
  }

  /** Called after queued replies were written: the server flushes the socket and resumes reading. */
  onDrained: (() => void) | undefined;
}
