/**
 * Writes held while a split hands its moving range over (seed 000's Buffering): the source's leader stops
 * proposing writes to [fromSlot, endSlot) and holds them here, bounded in number (`maxSize`) and in
 * waiting time (`timeoutMs`). When the handover ends every held write gets the same kind of answer:
 * `MOVED` to the new owner after the switch, `TRYAGAIN` after a rollback — never applied here, so the
 * client's retry applies it exactly once, wherever the range now lives. It also records the handovers a
 * driver here saw end, which the node's redirects wait for. No clock inside: callers pass the time.
 */
import type { Reply } from '../resp/reply.js';

interface Held {
  readonly slot: number;
  readonly sinceMs: number;
  readonly answer: (reply: Reply) => void;
}

interface Buffered {
  readonly fromSlot: number;
  readonly endSlot: number;
  readonly maxSize: number;
  readonly timeoutMs: number;
  readonly sinceMs: number;
  held: Held[];
  /** More writes arrived than `maxSize`: the split must roll back. */
  overflowed: boolean;
}

/** What happened to a write offered to the buffer. */
export type HoldResult =
  /** The slot is not being handed over: propose the write. */
  { readonly kind: 'pass' } | { readonly kind: 'held'; readonly reply: Promise<Reply> };

export class SplitBuffer {
  private readonly buffers = new Map<string, Buffered>();
  /**
   * Per source shard, the split whose handoff a driver here saw the target take: from then on the moved
   * slots are redirected to the target. Nothing in the source's log says so, so a new leader learns it
   * from its own probe of the target; a fact once true, kept until the shard's next split replaces it.
   */
  private readonly handoffs = new Map<string, string>();

  /** `onAnswered` hears how long each held write waited (the write pause a split costs it). */
  constructor(private readonly onAnswered: (waitedMs: number) => void = () => {}) {}

  /** Starts holding writes to [fromSlot, endSlot) of `shardId`. */
  start(shardId: string, fromSlot: number, endSlot: number, maxSize: number, timeoutMs: number, nowMs: number): void {
    if (this.buffers.has(shardId)) return;
    this.buffers.set(shardId, { fromSlot, endSlot, maxSize, timeoutMs, sinceMs: nowMs, held: [], overflowed: false });
  }

  isBuffering(shardId: string): boolean {
    return this.buffers.has(shardId);
  }

  /**
   * A write to `slot` of `shardId`: held when the slot is being handed over, with `overflowReply` as its
   * answer at once when the buffer is full (the split then rolls back).
   */
  hold(shardId: string, slot: number, nowMs: number, overflowReply: Reply): HoldResult {
    const buffer = this.buffers.get(shardId);
    if (buffer === undefined || slot < buffer.fromSlot || slot >= buffer.endSlot) return { kind: 'pass' };
    if (buffer.held.length >= buffer.maxSize) {
      buffer.overflowed = true;
      return { kind: 'held', reply: Promise.resolve(overflowReply) };
    }
    return { kind: 'held', reply: new Promise((answer) => buffer.held.push({ slot, sinceMs: nowMs, answer })) };
  }

  count(shardId: string): number {
    return this.buffers.get(shardId)?.held.length ?? 0;
  }

  /** Writes held for every shard. */
  countAll(): number {
    let held = 0;
    for (const buffer of this.buffers.values()) held += buffer.held.length;
    return held;
  }

  overflowed(shardId: string): boolean {
    return this.buffers.get(shardId)?.overflowed ?? false;
  }

  /** How long the buffer has been holding writes; 0 when it is not. */
  bufferingForMs(shardId: string, nowMs: number): number {
    const buffer = this.buffers.get(shardId);
    return buffer === undefined ? 0 : nowMs - buffer.sinceMs;
  }

  /** Answers `reply` to writes held longer than the timeout; returns how many. */
  expire(nowMs: number, reply: Reply): number {
    let expired = 0;
    for (const buffer of this.buffers.values()) {
      const keep: Held[] = [];
      for (const held of buffer.held) {
        if (nowMs - held.sinceMs >= buffer.timeoutMs) {
          this.answer(held, nowMs, reply);
          expired++;
        } else {
          keep.push(held);
        }
      }
      buffer.held = keep;
    }
    return expired;
  }

  /** Stops holding writes of `shardId` and answers every held one; returns the longest wait in ms. */
  release(shardId: string, nowMs: number, reply: (slot: number) => Reply): number {
    const buffer = this.buffers.get(shardId);
    if (buffer === undefined) return 0;
    this.buffers.delete(shardId);
    let longest = 0;
    for (const held of buffer.held) {
      longest = Math.max(longest, nowMs - held.sinceMs);
      this.answer(held, nowMs, reply(held.slot));
    }
    return longest;
  }

  /** The target of `taskId` took the handoff of `shardId`'s moving range. */
  confirmHandoff(shardId: string, taskId: string): void {
    this.handoffs.set(shardId, taskId);
  }

  /** A driver here saw the target of `taskId` take the handoff of `shardId`'s moving range. */
  handedOver(shardId: string, taskId: string): boolean {
    return this.handoffs.get(shardId) === taskId;
  }

  /** Answers every held write of every shard (the node is closing). */
  releaseAll(nowMs: number, reply: Reply): void {
    for (const shardId of [...this.buffers.keys()]) this.release(shardId, nowMs, () => reply);
  }

  private answer(held: Held, nowMs: number, reply: Reply): void {
    this.onAnswered(nowMs - held.sinceMs);
    held.answer(reply);
  }
}
