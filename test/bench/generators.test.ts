import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcknowledgedCounterGenerator, CounterGenerator } from '../../src/bench/counter-generator.js';
import { fnvHash64, hash64Mod, hash64ToString } from '../../src/bench/fnv-hash.js';
import { seededRandom } from '../../src/bench/random-source.js';
import { SCRAMBLED_ZETAN, ScrambledZipfianGenerator } from '../../src/bench/scrambled-zipfian-generator.js';
import { SkewedLatestGenerator } from '../../src/bench/skewed-latest-generator.js';
import { UniformGenerator } from '../../src/bench/uniform-generator.js';
import { CoreWorkload, buildKeyName, workloadSpec, type Operation } from '../../src/bench/workload.js';
import { ZipfianGenerator, zetaStatic } from '../../src/bench/zipfian-generator.js';

/** YCSB's Utils.fnvhash64 transcribed with BigInt: the reference the fast version must match. */
function referenceFnv(value: bigint): bigint {
  let hash = BigInt.asIntN(64, 0xcbf29ce484222325n);
  let v = value;
  for (let i = 0; i < 8; i++) {
    const octet = v & 0xffn;
    v >>= 8n;
    hash = BigInt.asIntN(64, (hash ^ octet) * 1099511628211n);
  }
  return hash < 0n && hash !== -(2n ** 63n) ? -hash : hash;
}

function counts(draws: number, next: () => number): Map<number, number> {
  const result = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const v = next();
    result.set(v, (result.get(v) ?? 0) + 1);
  }
  return result;
}

describe('fnv hash (YCSB Utils.fnvhash64)', () => {
  it('matches a BigInt transcription of YCSB for small, large and near-2^53 values', () => {
    const values = [0, 1, 2, 255, 256, 1000, 99_999, 123_456_789, 2 ** 32 + 7, 2 ** 53 - 1, 9_999_999_999_999_998];
    for (const value of values) {
      const expected = referenceFnv(BigInt(value));
      const hash = fnvHash64(value);
      assert.equal(hash64ToString(hash), expected.toString(), `hash of ${value}`);
      for (const divisor of [7, 1000, 100_003, 2 ** 31 - 1]) assert.equal(hash64Mod(hash, divisor), Number(expected % BigInt(divisor)));
    }
  });

  it('builds YCSB key names', () => {
    assert.equal(buildKeyName(0), `user${referenceFnv(0n)}`);
    assert.match(buildKeyName(42), /^user\d+$/);
  });
});

describe('ZipfianGenerator', () => {
  it("draws the top items as often as zipf's law with YCSB's constant 0.99 says (fixed seed)", () => {
    const items = 1000;
    const draws = 200_000;
    const gen = new ZipfianGenerator(0, items - 1, seededRandom(7));
    const seen = counts(draws, () => gen.nextValue());
    const zetan = zetaStatic(0, items, 0.99, 0);
    // Items 0 and 1 are exact in Gray's algorithm; the next ones are its approximation of the law,
    // which overshoots item 2 by about 17% (YCSB's generator does the same).
    const tolerances = [0.03, 0.05, 0.25, 0.15, 0.12, 0.1, 0.1, 0.1, 0.1, 0.1];
    for (const [item, tolerance] of tolerances.entries()) {
      const expected = 1 / (item + 1) ** 0.99 / zetan;
      const actual = (seen.get(item) ?? 0) / draws;
      assert.ok(Math.abs(actual - expected) / expected < tolerance, `item ${item}: ${actual} vs ${expected}`);
    }
    assert.ok([...seen.keys()].every((k) => k >= 0 && k < items));
  });
});

describe('ScrambledZipfianGenerator', () => {
  it('keeps the skew but spreads the hot items across the key space', () => {
    const items = 10_000;
    const gen = new ScrambledZipfianGenerator(0, items - 1, seededRandom(11));
    const seen = counts(200_000, () => gen.nextValue());
    const hottest = [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
    // Skewed: the hottest item has the zipfian head's share over YCSB's 10^16 items, 1/zeta(10^16).
    const topShare = hottest[0]![1] / 200_000;
    assert.ok(Math.abs(topShare - 1 / SCRAMBLED_ZETAN) / (1 / SCRAMBLED_ZETAN) < 0.05, `top share ${topShare}`);
    // and the 20 hottest of 10,000 items take far more than their uniform 0.2% share.
    const hotShare = hottest.reduce((a, [, n]) => a + n, 0) / 200_000;
    assert.ok(hotShare > 0.08, `hot share ${hotShare}`);
    // Scrambled: the hottest items are not clustered at the start of the range.
    const positions = hottest.map(([item]) => item);
    assert.ok(Math.max(...positions) - Math.min(...positions) > items / 2, `hot items at ${positions}`);
    assert.ok(positions.filter((p) => p < items / 10).length < 10, 'not clustered in the first tenth');
    assert.ok([...seen.keys()].every((k) => k >= 0 && k < items));
  });
});

describe('SkewedLatestGenerator', () => {
  it('favours the newest acknowledged insert, and follows new inserts', () => {
    const basis = new AcknowledgedCounterGenerator(1000);
    const gen = new SkewedLatestGenerator(basis, seededRandom(3));
    for (let i = 0; i < 100; i++) basis.acknowledge(basis.nextValue());
    assert.equal(basis.lastValue(), 1099);
    const seen = counts(50_000, () => gen.nextValue());
    const hottest = [...seen.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    assert.equal(hottest, 1099);
    const recent = [...seen.entries()].filter(([v]) => v > 1099 - 100).reduce((a, [, n]) => a + n, 0);
    assert.ok(recent / 50_000 > 0.6, `share of the 100 newest: ${recent / 50_000}`);
    assert.ok([...seen.keys()].every((k) => k <= 1099));
  });
});

describe('UniformGenerator', () => {
  it('covers the range evenly', () => {
    const gen = new UniformGenerator(10, 19, seededRandom(5));
    const seen = counts(100_000, () => gen.nextValue());
    assert.deepEqual(
      [...seen.keys()].sort((a, b) => a - b),
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
    );
    for (const n of seen.values()) assert.ok(Math.abs(n - 10_000) < 500, `bucket ${n}`);
  });
});

describe('counters', () => {
  it('acknowledged counter only advances over a contiguous acknowledged prefix', () => {
    const counter = new AcknowledgedCounterGenerator(5);
    const [a, b, c] = [counter.nextValue(), counter.nextValue(), counter.nextValue()];
    assert.equal(counter.lastValue(), 4);
    counter.acknowledge(b);
    assert.equal(counter.lastValue(), 4);
    counter.acknowledge(a);
    assert.equal(counter.lastValue(), 6);
    counter.acknowledge(c);
    assert.equal(counter.lastValue(), 7);
    const plain = new CounterGenerator(0);
    plain.nextValue();
    assert.equal(plain.lastValue(), 0);
  });
});

describe('CoreWorkload', () => {
  const make = (name: string, seed = 1): CoreWorkload =>
    new CoreWorkload({ spec: workloadSpec(name), recordCount: 1000, operationCount: 10_000, fieldCount: 10, fieldLengthBytes: 100 }, seededRandom(seed));

  it('loads every record once as a hash of 10 fields of 100 bytes under YCSB key names', () => {
    const workload = make('a');
    const keys = new Set<string>();
    for (let op = workload.nextLoadOperation(); op !== undefined; op = workload.nextLoadOperation()) {
      assert.equal(op.type, 'INSERT');
      if (op.type !== 'INSERT') continue;
      keys.add(op.key);
      assert.equal(op.values.length, 20);
      assert.deepEqual(
        op.values.filter((_, i) => i % 2 === 0),
        Array.from({ length: 10 }, (_, i) => `field${i}`),
      );
      assert.ok(op.values.filter((_, i) => i % 2 === 1).every((v) => v.length === 100));
    }
    assert.equal(keys.size, 1000);
    assert.ok(keys.has(buildKeyName(0)) && keys.has(buildKeyName(999)));
  });

  it('mixes operations in the proportions of workloads A-F', () => {
    const expected: Record<string, Record<string, number>> = {
      a: { READ: 0.5, UPDATE: 0.5 },
      b: { READ: 0.95, UPDATE: 0.05 },
      c: { READ: 1 },
      d: { READ: 0.95, INSERT: 0.05 },
      e: { SCAN: 0.95, INSERT: 0.05 },
      f: { READ: 0.5, 'READ-MODIFY-WRITE': 0.5 },
    };
    for (const [name, shares] of Object.entries(expected)) {
      const workload = make(name);
      const seen = new Map<string, number>();
      for (let i = 0; i < 10_000; i++) {
        const op = workload.nextTransaction();
        if (op.type === 'INSERT') workload.acknowledgeInsert(op.keynum);
        seen.set(op.type, (seen.get(op.type) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), Object.keys(shares).sort(), `workload ${name}`);
      for (const [type, share] of Object.entries(shares)) assert.ok(Math.abs(seen.get(type)! / 10_000 - share) < 0.02, `${name} ${type}`);
    }
  });

  it('never picks an insert that is not acknowledged yet (workload D)', () => {
    const workload = make('d', 9);
    const pending: Extract<Operation, { type: 'INSERT' }>[] = [];
    const unacknowledged = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const op = workload.nextTransaction();
      if (op.type === 'INSERT') {
        pending.push(op);
        unacknowledged.add(op.key);
      } else if (op.type === 'READ') {
        assert.ok(!unacknowledged.has(op.key), 'read of an unacknowledged insert');
      }
      if (pending.length > 3) {
        const done = pending.shift()!;
        workload.acknowledgeInsert(done.keynum);
        unacknowledged.delete(done.key);
      }
    }
  });

  it('gives workers disjoint load shares and insert keys', () => {
    const options = { spec: workloadSpec('d'), recordCount: 101, operationCount: 1000, fieldCount: 1, fieldLengthBytes: 8, workerCount: 2 };
    const keys = [0, 1].map((workerIndex) => {
      const w = new CoreWorkload({ ...options, workerIndex }, seededRandom(workerIndex));
      const loaded: string[] = [];
      for (let op = w.nextLoadOperation(); op !== undefined; op = w.nextLoadOperation()) loaded.push(op.type === 'INSERT' ? op.key : '');
      const inserted: string[] = [];
      while (inserted.length < 20) {
        const op = w.nextTransaction();
        if (op.type === 'INSERT') {
          inserted.push(op.key);
          w.acknowledgeInsert(op.keynum);
        }
      }
      return { loaded, inserted };
    });
    assert.equal(keys[0]!.loaded.length + keys[1]!.loaded.length, 101);
    assert.equal(new Set([...keys[0]!.loaded, ...keys[1]!.loaded]).size, 101);
    assert.equal(new Set([...keys[0]!.inserted, ...keys[1]!.inserted]).size, 40);
  });
});
