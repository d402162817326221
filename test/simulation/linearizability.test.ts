import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizability, checkLostWrites, type RegisterInput, type RegisterOperation, type RegisterOutput } from '../sim/linearizability.js';
import { seededRandom } from '../support/seeded-random.js';

const UNKNOWN = Number.POSITIVE_INFINITY;

function op(clientId: number, callMs: number, returnMs: number, input: RegisterInput, output: RegisterOutput, key = 'k'): RegisterOperation {
  return { clientId, key, callMs, returnMs, input, output: returnMs === UNKNOWN ? 'unknown' : output };
}
const get = (c: number, call: number, ret: number, value: string | null, key?: string) => op(c, call, ret, { kind: 'get' }, value, key);
const set = (c: number, call: number, ret: number, value: string, key?: string) => op(c, call, ret, { kind: 'set', value }, 'ok', key);
const incr = (c: number, call: number, ret: number, result: number | bigint | 'error', key?: string) => op(c, call, ret, { kind: 'incr' }, result, key);
const incrby = (c: number, call: number, ret: number, delta: number, result: number | bigint | 'error', key?: string) => op(c, call, ret, { kind: 'incrby', delta }, result, key);
const del = (c: number, call: number, ret: number, existed: 0 | 1, key?: string) => op(c, call, ret, { kind: 'del' }, existed, key);

function assertLinearizable(history: readonly RegisterOperation[]): void {
  const result = checkLinearizability(history);
  assert.equal(result.ok, true, result.ok === false ? result.explanation : 'search ran out of budget');
}

function assertNotLinearizable(history: readonly RegisterOperation[], key = 'k'): string {
  const result = checkLinearizability(history);
  assert.equal(result.ok, false, 'the history must be rejected');
  assert(result.ok === false);
  assert.equal(result.key, key);
  return result.explanation;
}

// --- accepted -------------------------------------------------------------------------------------------

test('accepts a sequential history of every operation', () => {
  assertLinearizable([
    get(1, 0, 1, null),
    set(1, 2, 3, 'a'),
    get(2, 4, 5, 'a'),
    del(1, 6, 7, 1),
    del(2, 8, 9, 0),
    incr(1, 10, 11, 1),
    incrby(2, 12, 13, 41, 42),
    get(1, 14, 15, '42'),
    set(2, 16, 17, 'x'),
    incr(1, 18, 19, 'error'),
    get(2, 20, 21, 'x'),
  ]);
});

test('accepts concurrent operations in any order their overlaps allow', () => {
  assertLinearizable([
    // Two overlapping writes may take effect in either order: b first, then a.
    set(1, 0, 10, 'a'),
    set(2, 5, 15, 'b'),
    get(3, 16, 20, 'a'),
    // Reads overlapping a write may see the old or the new value, and once one sees the new, later ones do.
    set(1, 30, 40, 'c'),
    get(2, 31, 32, 'a'),
    get(3, 33, 34, 'c'),
    get(2, 35, 36, 'c'),
  ]);
});

test('operations touching at one instant count as concurrent', () => {
  assertLinearizable([set(1, 0, 10, 'a'), get(2, 10, 20, null)]);
});

test('an unknown outcome may have applied at any time after its call, or never', () => {
  // It applied, before a later read.
  assertLinearizable([set(1, 0, 1, 'a'), set(2, 2, UNKNOWN, 'b'), get(3, 10, 11, 'b')]);
  // It never applied.
  assertLinearizable([set(1, 0, 1, 'a'), set(2, 2, UNKNOWN, 'b'), get(3, 10, 11, 'a'), get(3, 20, 21, 'a')]);
  // It applied late: after a read that missed it, long after its call.
  assertLinearizable([set(1, 0, 1, 'a'), set(2, 2, UNKNOWN, 'b'), get(3, 10, 11, 'a'), get(3, 1_000, 1_001, 'b')]);
  // An increment of unknown outcome: 2 and 3 are both possible answers of the second one.
  assertLinearizable([incr(1, 0, 1, 1), incr(2, 2, UNKNOWN, 0), incr(1, 3, 4, 3)]);
  assertLinearizable([incr(1, 0, 1, 1), incr(2, 2, UNKNOWN, 0), incr(1, 3, 4, 2)]);
  // A read of unknown outcome says nothing.
  assertLinearizable([set(1, 0, 1, 'a'), get(2, 2, UNKNOWN, null)]);
});

test('keys are checked separately; the failing key is named', () => {
  const history = [set(1, 0, 1, 'a', 'x'), get(2, 2, 3, 'a', 'x'), set(1, 0, 1, 'a', 'y'), get(2, 2, 3, null, 'y')];
  assertNotLinearizable(history, 'y');
  assertLinearizable(history.filter((o) => o.key === 'x'));
});

// --- rejected -------------------------------------------------------------------------------------------

test('rejects a stale read after a completed write, and shows the three operations involved', () => {
  const explanation = assertNotLinearizable([set(1, 0, 1, 'a'), get(4, 1, 2, 'a'), set(2, 2, 3, 'b'), get(4, 3, 4, 'b'), get(3, 5, 6, 'a'), get(4, 7, 8, 'b')]);
  assert.match(explanation, /3 of its 6 operations already fail/);
  assert.match(explanation, /client 1 set "k" "a" → ok \[0, 1\]/);
  assert.match(explanation, /client 2 set "k" "b" → ok \[2, 3\]/);
  assert.match(explanation, /client 3 get "k" → "a" \[5, 6\] \(the register holds the value "b"\)/);
});

test('rejects a read of a value never written, down to that one read', () => {
  const result = checkLinearizability([set(1, 0, 1, 'a'), get(2, 2, 3, 'a'), set(1, 4, 5, 'b'), get(3, 6, 7, 'ghost'), get(2, 8, 9, 'b')]);
  assert(result.ok === false);
  assert.deepEqual(result.witness, [get(3, 6, 7, 'ghost')]);
  assert.match(result.explanation, /client 3 get "k" → "ghost" \[6, 7\] returned a value no operation on the key can write/);
  // A number an increment could have produced is not that obvious: the search finds it impossible.
  const search = checkLinearizability([incr(1, 0, 1, 1), get(2, 2, 3, '7')]);
  assert(search.ok === false);
  assert.match(
    search.explanation,
    /the longest valid order places 1 of them .* leaving the value "1"; no order continues with any of:\n {2}client 2 get "k" → "7" \[2, 3\] \(the register holds the value "1"\)/,
  );
});

test('rejects a lost write: an acknowledged set whose value vanishes with no write after it', () => {
  assertNotLinearizable([set(1, 0, 1, 'a'), get(2, 2, 3, 'a'), get(2, 4, 5, null)]);
  assertNotLinearizable([set(1, 0, 1, 'a'), set(2, 2, 3, 'b'), get(3, 10, 11, 'a')]);
});

test('rejects an increment applied twice', () => {
  assertNotLinearizable([incr(1, 0, 1, 1), get(2, 2, 3, '2')]);
  assertNotLinearizable([incr(1, 0, 1, 1), incr(2, 2, 3, 3)]);
  // Even when the outcome was unknown, it applies at most once.
  assertNotLinearizable([incr(1, 0, UNKNOWN, 0), incr(2, 2, 3, 3)]);
});

test('rejects two readers that see two writes in opposite orders', () => {
  assertNotLinearizable([set(1, 0, 100, 'a'), set(2, 0, 100, 'b'), get(3, 10, 20, 'a'), get(3, 30, 40, 'b'), get(4, 10, 20, 'b'), get(4, 30, 40, 'a')]);
});

test('rejects a value that comes back after it was overwritten, even through an unknown write', () => {
  assertNotLinearizable([set(1, 0, 1, 'a'), set(2, 2, UNKNOWN, 'b'), get(3, 10, 11, 'b'), get(3, 20, 21, 'a')]);
});

test('del answers whether the key existed; incr refuses a value that is not an integer', () => {
  assertNotLinearizable([set(1, 0, 1, 'a'), del(2, 2, 3, 0)]);
  assertNotLinearizable([del(1, 0, 1, 1)]);
  assertNotLinearizable([set(1, 0, 1, 'a'), del(2, 2, 3, 1), get(3, 4, 5, 'a')]);
  assertNotLinearizable([set(1, 0, 1, 'x'), incr(2, 2, 3, 1)]);
  assertNotLinearizable([set(1, 0, 1, '01'), incr(2, 2, 3, 2)]);
  assertLinearizable([set(1, 0, 1, '01'), incr(2, 2, 3, 'error')]);
  assertLinearizable([set(1, 0, 1, '9223372036854775807'), incr(2, 2, 3, 'error'), incrby(2, 4, 5, -7, 9223372036854775800n)]);
  assertNotLinearizable([incr(1, 0, 1, 'error')]);
});

test('a search beyond its budget answers unknown instead of running on', () => {
  // Many writes of unknown outcome overlap everything after them: the search space is huge.
  const history: RegisterOperation[] = [];
  for (let i = 0; i < 30; i++) history.push(op(i, i, UNKNOWN, { kind: 'incrby', delta: 2 ** i }, 0));
  // Only a sum of negative increments could give -1, and there is none: every subset must be tried.
  history.push(get(99, 100, 101, '-1'));
  const result = checkLinearizability(history, { stepsMax: 10_000 });
  assert.equal(result.ok, 'unknown');
  assert(result.ok === 'unknown');
  assert.match(result.explanation, /exceeded 10000 steps on 31 operations \(30 of unknown outcome\)/);
});

test('a malformed history is the recorder’s bug, and throws', () => {
  assert.throws(() => checkLinearizability([op(1, 0, 1, { kind: 'set', value: 'a' }, 5)]), /set answers 'ok'/);
  assert.throws(() => checkLinearizability([{ ...set(1, 0, 1, 'a'), returnMs: UNKNOWN }]), /output 'unknown'/);
  assert.throws(() => checkLinearizability([set(1, 5, 1, 'a')]), /returns before it is called/);
});

// --- randomized -------------------------------------------------------------------------------------------

interface Generated {
  readonly history: RegisterOperation[];
  /** Indexes of operations whose output a mutation can make impossible. */
  readonly knownGets: number[];
  readonly knownIncrs: number[];
}

/**
 * A history that is linearizable by construction: clients run operations one after another, each takes
 * effect at a random point inside its interval, and its output comes from a sequential model applied in
 * that order. Some operations lose their answer (unknown outcome) and take effect, or not, at random.
 */
function generate(seed: number, opsPerClient: number): Generated {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const keys = ['a', 'b', 'c'];
  interface Planned {
    readonly clientId: number;
    readonly key: string;
    readonly callMs: number;
    readonly returnMs: number;
    readonly atMs: number;
    readonly input: RegisterInput;
    readonly applies: boolean;
    readonly unknown: boolean;
  }
  const planned: Planned[] = [];
  for (let clientId = 1; clientId <= 4; clientId++) {
    let t = random() * 10;
    for (let i = 0; i < opsPerClient; i++) {
      const roll = random();
      const input: RegisterInput =
        roll < 0.35
          ? { kind: 'get' }
          : roll < 0.6
            ? { kind: 'set', value: random() < 0.5 ? String(pick(100)) : `v${pick(20)}` }
            : roll < 0.75
              ? { kind: 'incr' }
              : roll < 0.9
                ? { kind: 'incrby', delta: pick(21) - 10 }
                : { kind: 'del' };
      const callMs = t;
      const atMs = callMs + random() * 20;
      const unknown = input.kind !== 'get' && random() < 0.1;
      const returnMs = unknown ? UNKNOWN : atMs + random() * 20;
      planned.push({ clientId, key: keys[pick(keys.length)]!, callMs, returnMs, atMs, input, applies: !unknown || random() < 0.5, unknown });
      t = (unknown ? atMs : returnMs) + random() * 10;
    }
  }
  const values = new Map<string, string | null>();
  const outputs = new Map<Planned, RegisterOutput>();
  for (const p of [...planned].sort((x, y) => x.atMs - y.atMs)) {
    if (!p.applies) continue;
    const value = values.get(p.key) ?? null;
    switch (p.input.kind) {
      case 'get':
        outputs.set(p, value);
        break;
      case 'set':
        values.set(p.key, p.input.value);
        outputs.set(p, 'ok');
        break;
      case 'del':
        values.set(p.key, null);
        outputs.set(p, value === null ? 0 : 1);
        break;
      case 'incr':
      case 'incrby': {
        const delta = p.input.kind === 'incr' ? 1 : Number(p.input.delta);
        if (value !== null && !/^(0|-?[1-9][0-9]*)$/.test(value)) {
          outputs.set(p, 'error');
          break;
        }
        const result = (value === null ? 0 : Number(value)) + delta;
        values.set(p.key, String(result));
        outputs.set(p, result);
        break;
      }
    }
  }
  const history = planned.map((p) => ({
    clientId: p.clientId,
    key: p.key,
    callMs: p.callMs,
    returnMs: p.returnMs,
    input: p.input,
    output: p.unknown ? ('unknown' as const) : outputs.get(p)!,
  }));
  const knownGets = history.flatMap((o, i) => (o.input.kind === 'get' ? [i] : []));
  const knownIncrs = history.flatMap((o, i) => ((o.input.kind === 'incr' || o.input.kind === 'incrby') && typeof o.output === 'number' ? [i] : []));
  return { history, knownGets, knownIncrs };
}

test('randomized: histories generated from a sequential model are linearizable', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const { history } = generate(seed, 25);
    const result = checkLinearizability(history);
    assert.equal(result.ok, true, `seed ${seed}: ${result.ok === false ? result.explanation : 'out of budget'}`);
  }
});

test('randomized: a read of a value nobody wrote, or an impossible increment, makes them fail', () => {
  for (let seed = 1; seed <= 100; seed++) {
    const { history, knownGets, knownIncrs } = generate(seed, 25);
    const random = seededRandom(seed * 31);
    const g = knownGets[Math.floor(random() * knownGets.length)]!;
    const badRead = history.map((o, i) => (i === g ? { ...o, output: 'never written' } : o));
    const readResult = checkLinearizability(badRead);
    assert.equal(readResult.ok, false, `seed ${seed}: a read of an unwritten value passed`);
    assert(readResult.ok === false);
    assert.equal(readResult.key, history[g]!.key);
    if (knownIncrs.length === 0) continue;
    const n = knownIncrs[Math.floor(random() * knownIncrs.length)]!;
    // No value in these histories comes near 10^12, so this answer is impossible.
    const badIncr = history.map((o, i) => (i === n ? { ...o, output: Number(o.output) + 1e12 } : o));
    assert.equal(checkLinearizability(badIncr).ok, false, `seed ${seed}: an impossible increment passed`);
  }
});

/** The reference: tries every order (and every subset of unknown-outcome operations) of a tiny history. */
function bruteForce(history: readonly RegisterOperation[]): boolean {
  const known = history.filter((o) => o.returnMs !== UNKNOWN);
  const unknown = history.filter((o) => o.returnMs === UNKNOWN);
  const apply = (value: string | null, o: RegisterOperation): { ok: boolean; value: string | null } => {
    const anyOutput = o.returnMs === UNKNOWN;
    switch (o.input.kind) {
      case 'get':
        return { ok: anyOutput || o.output === value, value };
      case 'set':
        return { ok: true, value: o.input.value };
      case 'del':
        return { ok: anyOutput || o.output === (value === null ? 0 : 1), value: null };
      case 'incr':
      case 'incrby': {
        const delta = o.input.kind === 'incr' ? 1 : Number(o.input.delta);
        if (value !== null && !/^(0|-?[1-9][0-9]*)$/.test(value)) return { ok: anyOutput || o.output === 'error', value };
        const result = (value === null ? 0 : Number(value)) + delta;
        return { ok: anyOutput || o.output === result, value: String(result) };
      }
    }
  };
  const orders = (ops: readonly RegisterOperation[], value: string | null): boolean => {
    if (ops.length === 0) return true;
    for (const candidate of ops) {
      // A candidate may go first only if no other remaining operation returned before it was called.
      if (ops.some((other) => other !== candidate && other.returnMs < candidate.callMs)) continue;
      const next = apply(value, candidate);
      if (
        next.ok &&
        orders(
          ops.filter((o) => o !== candidate),
          next.value,
        )
      )
        return true;
    }
    return false;
  };
  for (let mask = 0; mask < 1 << unknown.length; mask++) {
    if (orders([...known, ...unknown.filter((_, i) => mask & (1 << i))], null)) return true;
  }
  return false;
}

test('randomized: agrees with a brute-force search on tiny histories with random answers', () => {
  const random = seededRandom(2024);
  const pick = (n: number): number => Math.floor(random() * n);
  const values = ['1', '2', 'x'];
  let accepted = 0;
  for (let trial = 0; trial < 3_000; trial++) {
    const history: RegisterOperation[] = [];
    for (let i = 0, n = 1 + pick(6); i < n; i++) {
      const callMs = pick(10);
      const returnMs = random() < 0.15 ? UNKNOWN : callMs + pick(6);
      const roll = pick(5);
      const input: RegisterInput =
        roll === 0
          ? { kind: 'get' }
          : roll === 1
            ? { kind: 'set', value: values[pick(3)]! }
            : roll === 2
              ? { kind: 'incr' }
              : roll === 3
                ? { kind: 'incrby', delta: pick(3) }
                : { kind: 'del' };
      const output: RegisterOutput =
        input.kind === 'get' ? [null, ...values][pick(4)]! : input.kind === 'set' ? 'ok' : input.kind === 'del' ? pick(2) : random() < 0.2 ? 'error' : pick(5);
      history.push(op(i, callMs, returnMs, input, output));
    }
    const expected = bruteForce(history);
    const result = checkLinearizability(history);
    assert.equal(result.ok, expected, `trial ${trial}: ${JSON.stringify(history)}`);
    if (expected) accepted++;
  }
  // Both verdicts are well represented, so the agreement means something.
  assert.ok(accepted > 300 && accepted < 2_700, `accepted ${accepted} of 3000`);
});

test('randomized: every shrunk witness is itself rejected, and every removal it made was sound', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const { history, knownGets } = generate(seed, 15);
    const g = knownGets[0]!;
    const mutated = history.map((o, i) => (i === g ? { ...o, output: o.output === null ? 'v0' : null } : o));
    const result = checkLinearizability(mutated);
    if (result.ok !== false) continue;
    assert.equal(checkLinearizability(result.witness).ok, false, `seed ${seed}: the witness must fail alone`);
    assert.ok(result.witness.length <= mutated.filter((o) => o.key === result.key).length);
  }
});

// --- lost writes -------------------------------------------------------------------------------------------

test('checkLostWrites: a lost set, a phantom value, and sets overwritten by concurrent or later writes', () => {
  const history = [
    set(1, 0, 1, 'a', 'lost'),
    set(1, 0, 1, 'a', 'overwritten'),
    set(2, 0.5, 3, 'b', 'overwritten'),
    set(1, 0, 1, 'a', 'maybe'),
    set(2, 5, UNKNOWN, 'b', 'maybe'),
    set(1, 0, 1, 'a', 'phantom'),
    get(3, 2, 3, 'a', 'read-only'),
  ];
  const final = new Map<string, string | null>([
    ['lost', null],
    ['overwritten', 'b'],
    ['maybe', 'b'],
    ['phantom', 'zzz'],
  ]);
  const problems = checkLostWrites(history, final);
  assert.deepEqual(
    problems.map((p) => [p.key, p.kind]),
    [
      ['lost', 'lostWrite'],
      ['phantom', 'lostWrite'],
      ['phantom', 'phantomValue'],
    ],
  );
  assert.match(problems[0]!.explanation, /client 1 set "lost" "a" → ok \[0, 1\] was acknowledged/);
  assert.throws(() => checkLostWrites(history, new Map()), /no final value/);
});

test('checkLostWrites: a counter must end within what its increments, counting unknown ones, allow', () => {
  const history = [incr(1, 0, 1, 1, 'c'), incrby(2, 0, 1, 5, 6, 'c'), incr(3, 2, UNKNOWN, 0, 'c'), incrby(3, 3, UNKNOWN, -2, 0, 'c')];
  const check = (final: string | null) => checkLostWrites(history, new Map([['c', final]])).map((p) => p.explanation);
  assert.deepEqual(check('6'), []);
  assert.deepEqual(check('4'), []);
  assert.deepEqual(check('7'), []);
  assert.match(check('8')[0]!, /ends at 8, outside \[4, 7\].*applied twice/);
  assert.match(check('3')[0]!, /outside \[4, 7\].*lost/);
  assert.match(check(null)[0]!, /2 acknowledged increments but its final value is no value/);
});
