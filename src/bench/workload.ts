import { UsageError, assert } from '../common/errors.js';
import { AcknowledgedCounterGenerator, CounterGenerator } from './counter-generator.js';
import { DiscreteGenerator } from './discrete-generator.js';
import { fnvHash64, hash64ToString } from './fnv-hash.js';
import type { RandomSource } from './random-source.js';
import { ScrambledZipfianGenerator } from './scrambled-zipfian-generator.js';
import { SkewedLatestGenerator } from './skewed-latest-generator.js';
import { UniformGenerator } from './uniform-generator.js';

/** YCSB's operation labels, used as-is in reports so they line up with YCSB's output. */
export type OpType = 'READ' | 'UPDATE' | 'INSERT' | 'SCAN' | 'READ-MODIFY-WRITE';

/** Every op type in report order. */
export const OP_TYPES: readonly OpType[] = ['READ', 'UPDATE', 'INSERT', 'SCAN', 'READ-MODIFY-WRITE'];

/** YCSB's `requestdistribution` values that this tool supports. */
export type RequestDistribution = 'zipfian' | 'uniform' | 'latest';

/** The operation mix of a workload: YCSB's `workloads/workload[a-f]` property files. */
export interface WorkloadSpec {
  readonly name: string;
  readonly readProportion: number;
  readonly updateProportion: number;
  readonly insertProportion: number;
  readonly scanProportion: number;
  readonly readModifyWriteProportion: number;
  readonly requestDistribution: RequestDistribution;
  readonly minScanLength: number;
  readonly maxScanLength: number;
}

const BASE: Omit<WorkloadSpec, 'name'> = {
  readProportion: 0,
  updateProportion: 0,
  insertProportion: 0,
  scanProportion: 0,
  readModifyWriteProportion: 0,
  requestDistribution: 'zipfian',
  minScanLength: 1,
  maxScanLength: 1000,
};

/** YCSB's core workloads A-F with the proportions of their property files. */
export const CORE_WORKLOADS: Readonly<Record<string, WorkloadSpec>> = {
  a: { ...BASE, name: 'a', readProportion: 0.5, updateProportion: 0.5 },
  b: { ...BASE, name: 'b', readProportion: 0.95, updateProportion: 0.05 },
  c: { ...BASE, name: 'c', readProportion: 1 },
  d: { ...BASE, name: 'd', readProportion: 0.95, insertProportion: 0.05, requestDistribution: 'latest' },
  e: { ...BASE, name: 'e', scanProportion: 0.95, insertProportion: 0.05, maxScanLength: 100 },
  f: { ...BASE, name: 'f', readProportion: 0.5, readModifyWriteProportion: 0.5 },
};

/** The spec of workload `name` (a-f, case-insensitive), with an optional distribution override. */
export function workloadSpec(name: string, distribution?: RequestDistribution): WorkloadSpec {
  const spec = CORE_WORKLOADS[name.toLowerCase()];
  if (spec === undefined) throw new UsageError(`unknown workload '${name}': expected one of a, b, c, d, e, f`);
  return distribution === undefined ? spec : { ...spec, requestDistribution: distribution };
}

/** One operation for the runner to carry out; `values` are flat field/value pairs as HSET takes them. */
export type Operation =
  | { readonly type: 'READ'; readonly key: string }
  | { readonly type: 'UPDATE'; readonly key: string; readonly values: readonly string[] }
  | { readonly type: 'INSERT'; readonly key: string; readonly keynum: number; readonly values: readonly string[] }
  | { readonly type: 'SCAN'; readonly startKey: string; readonly length: number }
  | { readonly type: 'READ-MODIFY-WRITE'; readonly key: string; readonly values: readonly string[] };

/** Everything that shapes the data and the operation stream. */
export interface CoreWorkloadOptions {
  readonly spec: WorkloadSpec;
  readonly recordCount: number;
  readonly operationCount: number;
  readonly fieldCount: number;
  readonly fieldLengthBytes: number;
  /**
   * Several client processes split the work: each loads its share of [0, recordCount) and numbers its
   * run-phase inserts recordCount + k·workerCount + workerIndex so they never collide.
   */
  readonly workerIndex?: number;
  readonly workerCount?: number;
}

/** Values are slices of one random printable pool: YCSB's RandomByteIterator content, without its per-byte cost. */
const VALUE_POOL_CHARS = 1 << 16;
/** Key names of the first keynums are cached: every operation needs one, and each costs a 64-bit hash. */
const KEY_CACHE_MAX = 1 << 20;

/**
 * YCSB's `CoreWorkload` without I/O: key names, field layout, operation choice and key choice, all
 * from one seeded random source. Not shared between client loops of different processes.
 */
export class CoreWorkload {
  readonly spec: WorkloadSpec;
  readonly fieldNames: readonly string[];
  private readonly options: CoreWorkloadOptions;
  private readonly workerIndex: number;
  private readonly workerCount: number;
  private readonly loadKeySequence: CounterGenerator;
  private readonly loadStart: number;
  private readonly loadEnd: number;
  private readonly insertKeySequence: AcknowledgedCounterGenerator;
  private readonly operationChooser: DiscreteGenerator<OpType>;
  private readonly keyChooser: { nextValue(): number };
  private readonly fieldChooser: UniformGenerator;
  private readonly scanLength: UniformGenerator;
  private readonly valuePool: string;
  private readonly keyCache: (string | undefined)[] = [];

  constructor(
    options: CoreWorkloadOptions,
    private readonly random: RandomSource,
  ) {
    const { spec, recordCount, operationCount, fieldCount, fieldLengthBytes } = options;
    assert(recordCount > 0 && fieldCount > 0 && fieldLengthBytes > 0, 'positive record count and field layout');
    this.options = options;
    this.spec = spec;
    this.workerIndex = options.workerIndex ?? 0;
    this.workerCount = options.workerCount ?? 1;
    this.fieldNames = Array.from({ length: fieldCount }, (_, i) => `field${i}`);
    this.loadStart = Math.floor((recordCount * this.workerIndex) / this.workerCount);
    this.loadEnd = Math.floor((recordCount * (this.workerIndex + 1)) / this.workerCount);
    this.loadKeySequence = new CounterGenerator(this.loadStart);
    this.insertKeySequence = new AcknowledgedCounterGenerator(recordCount);
    this.operationChooser = new DiscreteGenerator<OpType>(random);
    const weights: [number, OpType][] = [
      [spec.readProportion, 'READ'],
      [spec.updateProportion, 'UPDATE'],
      [spec.insertProportion, 'INSERT'],
      [spec.scanProportion, 'SCAN'],
      [spec.readModifyWriteProportion, 'READ-MODIFY-WRITE'],
    ];
    for (const [weight, type] of weights) if (weight > 0) this.operationChooser.addValue(weight, type);
    switch (spec.requestDistribution) {
      case 'uniform':
        this.keyChooser = new UniformGenerator(0, recordCount - 1, random);
        break;
      case 'zipfian': {
        // As YCSB: size the space for the expected inserts (×2 fudge factor) so the hot set stays put
        // while inserts grow the table; picks beyond the acknowledged inserts are redrawn.
        const expectedNewKeys = Math.floor(operationCount * spec.insertProportion * 2);
        this.keyChooser = new ScrambledZipfianGenerator(0, recordCount + expectedNewKeys, random);
        break;
      }
      case 'latest':
        this.keyChooser = new SkewedLatestGenerator(this.insertKeySequence, random);
        break;
    }
    this.fieldChooser = new UniformGenerator(0, fieldCount - 1, random);
    this.scanLength = new UniformGenerator(spec.minScanLength, spec.maxScanLength, random);
    let pool = '';
    // Printable ASCII ' '..'_' like YCSB's RandomByteIterator; one field length of slack for slicing.
    for (let i = 0; i < VALUE_POOL_CHARS + fieldLengthBytes; i++) pool += String.fromCharCode(32 + Math.floor(random.nextDouble() * 64));
    this.valuePool = pool;
  }

  /** How many records this worker inserts in the load phase. */
  get loadCount(): number {
    return this.loadEnd - this.loadStart;
  }

  /** The next load-phase insert, or undefined once this worker's share is loaded. */
  nextLoadOperation(): Operation | undefined {
    if (this.loadKeySequence.lastValue() + 1 >= this.loadEnd) return undefined;
    const keynum = this.loadKeySequence.nextValue();
    return { type: 'INSERT', key: this.keyName(keynum), keynum, values: this.allValues() };
  }

  /** The next run-phase operation (YCSB's `doTransaction` choice). */
  nextTransaction(): Operation {
    const type = this.operationChooser.nextValue();
    switch (type) {
      case 'READ':
        return { type, key: this.keyName(this.nextKeynum()) };
      case 'UPDATE':
        return { type, key: this.keyName(this.nextKeynum()), values: this.singleValue() };
      case 'INSERT': {
        const keynum = this.insertKeySequence.nextValue();
        return { type, key: this.keyName(keynum), keynum, values: this.allValues() };
      }
      case 'SCAN':
        return { type, startKey: this.keyName(this.nextKeynum()), length: this.scanLength.nextValue() };
      case 'READ-MODIFY-WRITE':
        return { type, key: this.keyName(this.nextKeynum()), values: this.singleValue() };
    }
  }

  /** Tells the workload a run-phase insert finished, so reads may now choose its key. */
  acknowledgeInsert(keynum: number): void {
    this.insertKeySequence.acknowledge(keynum);
  }

  /**
   * YCSB's `buildKeyName` for this worker's local keynum: `user` + FNV hash of the global keynum
   * (insertorder=hashed, zeropadding=1, YCSB's defaults).
   */
  keyName(keynum: number): string {
    const cached = keynum < KEY_CACHE_MAX ? this.keyCache[keynum] : undefined;
    if (cached !== undefined) return cached;
    const name = buildKeyName(this.globalKeynum(keynum));
    if (keynum < KEY_CACHE_MAX) this.keyCache[keynum] = name;
    return name;
  }

  private globalKeynum(keynum: number): number {
    const { recordCount } = this.options;
    if (keynum < recordCount) return keynum;
    return recordCount + (keynum - recordCount) * this.workerCount + this.workerIndex;
  }

  private nextKeynum(): number {
    // YCSB redraws keys past the newest acknowledged insert (the zipfian space is sized for future inserts).
    let keynum: number;
    do keynum = this.keyChooser.nextValue();
    while (keynum > this.insertKeySequence.lastValue());
    return keynum;
  }

  private fieldValue(): string {
    const offset = Math.floor(this.random.nextDouble() * VALUE_POOL_CHARS);
    return this.valuePool.slice(offset, offset + this.options.fieldLengthBytes);
  }

  private allValues(): string[] {
    const values: string[] = [];
    for (const name of this.fieldNames) values.push(name, this.fieldValue());
    return values;
  }

  private singleValue(): string[] {
    return [this.fieldNames[this.fieldChooser.nextValue()]!, this.fieldValue()];
  }
}

/** YCSB's `CoreWorkload.buildKeyName(keynum, 1, false)`: `user` followed by the FNV hash in decimal. */
export function buildKeyName(keynum: number): string {
  return `user${hash64ToString(fnvHash64(keynum))}`;
}
