import { assert } from '../../common/errors.js';

/**
 * The MsgApps sent to one follower and not yet acknowledged, as a ring buffer of their last indexes and
 * sizes. Flow control: the leader stops sending when `countMax` messages or `bytesMax` bytes are in flight.
 */
export class Inflights {
  private readonly indexes: number[];
  private readonly sizes: number[];
  private start = 0;
  /** Messages in flight. */
  count = 0;
  /** Bytes of entries in flight. */
  bytes = 0;

  constructor(
    readonly countMax: number,
    readonly bytesMax: number,
  ) {
    assert(Number.isSafeInteger(countMax) && countMax > 0, `inflight count limit ${countMax} must be positive`);
    this.indexes = new Array<number>(countMax).fill(0);
    this.sizes = new Array<number>(countMax).fill(0);
  }

  /** Records a sent MsgApp whose last entry is `index`. Indexes must increase. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'add to full inflights');
    if (this.count > 0) {
      const last = this.indexes[(this.start + this.count - 1) % this.countMax]!;
      assert(index > last, `inflight index ${index} not after ${last}`);
    }
    const slot = (this.start + this.count) % this.countMax;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every inflight message whose last index is ≤ `index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.indexes[this.start]! <= index) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.countMax;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message: a heartbeat reply proves the follower is alive though acks were lost. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count === this.countMax || this.bytes >= this.bytesMax;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
