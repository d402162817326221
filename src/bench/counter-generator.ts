import { assert } from '../common/errors.js';

/** YCSB's `CounterGenerator`: hands out start, start+1, ... */
export class CounterGenerator {
  protected counter: number;

  constructor(start: number) {
    this.counter = start;
  }

  /** The next value. */
  nextValue(): number {
    return this.counter++;
  }

  /** The last value handed out. */
  lastValue(): number {
    return this.counter - 1;
  }
}

/** Size of the window of unacknowledged values, as YCSB's (2^20). */
const WINDOW_SIZE = 1 << 20;
const WINDOW_MASK = WINDOW_SIZE - 1;

/**
 * YCSB's `AcknowledgedCounterGenerator`: `lastValue()` is the highest value below which every value
 * has been acknowledged, so readers (the key chooser of workload D) never pick an insert that has not
 * completed yet.
 */
export class AcknowledgedCounterGenerator extends CounterGenerator {
  private readonly window = new Uint8Array(WINDOW_SIZE);
  private limit: number;

  constructor(start: number) {
    super(start);
    this.limit = start - 1;
  }

  override lastValue(): number {
    return this.limit;
  }

  /** Marks `value` as done (the insert completed, successfully or not, as YCSB does in `finally`). */
  acknowledge(value: number): void {
    const slot = value & WINDOW_MASK;
    assert(this.window[slot] === 0, 'too many unacknowledged insertion keys');
    this.window[slot] = 1;
    let index = this.limit + 1;
    while (index < this.counter && this.window[index & WINDOW_MASK] === 1) {
      this.window[index & WINDOW_MASK] = 0;
      index++;
    }
    this.limit = index - 1;
  }
}
