/**
 * Checkers of what clients saw: a linearizability checker for per-key registers, and a cheaper
 * lost-write checker.
 *
 * Model: each key is an independent register holding a string or nothing, on which clients run `get`,
 * `set`, `incr`/`incrby` (a missing key counts as 0; a value that is not a 64-bit integer, or a result
 * that overflows, gives an error and changes nothing) and `del` (answers whether the key existed).
 * Linearizability is compositional (Herlihy & Wing): a history is linearizable iff the history of every
 * key is, so each key is checked alone, which keeps the search small.
 *
 * The search is Wing & Gong's, with Lowe's memoization, as Porcupine's `checkSingle` does it: the calls
 * and returns of one key form a doubly linked list in time order; a depth-first search repeatedly picks
 * an operation whose call comes before the first return still in the list, applies it to the model, and
 * unlinks it; a return reached at the head means the operations placed so far cannot be extended, so it
 * backtracks. The pairs (set of operations placed, register state) already explored are remembered, so
 * no such pair is searched twice. Calls at the same time as a return sort first: operations that touch
 * at an instant count as concurrent, so the checker never blames a history for a tie in virtual time.
 *
 * An operation whose outcome the client never learned (timeout, lost connection, an error that may or may
 * not have applied) has output 'unknown' and return time +Infinity: it may take effect at any point after
 * its call, or never (placing it after everything else is the same as never). Such operations stay
 * candidates until the end and make the search expensive, so two kinds are left out before it starts,
 * because they cannot change the verdict: a `get` of unknown outcome, and, on a key with only gets and
 * sets, a `set` of unknown outcome whose value no read returned. An operation that
 * definitely failed with no effect and no information (MOVED, CLUSTERDOWN, ...) must be left out of the
 * history by the recorder.
 *
 * The search can still take exponential time on histories with much concurrency, so it has a step budget
 * per key and answers 'unknown' when that runs out. On a failure it shrinks the key's history to a smaller
 * one that still fails — removing reads, and writes nobody read (only on keys without incr or del, where
 * that is sound) — so the explanation shows few operations.
 *
 * `checkLostWrites` (below) is not needed when the linearizability check finishes on a history that
 * includes a final read of every key: lost and duplicated writes are then non-linearizable. It is the
 * fallback that always finishes in linear time, for keys whose search ran out of budget, and it names the
 * lost write directly.
 */
import { assert } from '../../src/common/errors.js';
import { seededRandom } from '../support/seeded-random.js';

/** What an operation asks. `incr` is `incrby` 1. */
export type RegisterInput =
  | { readonly kind: 'get' }
  | { readonly kind: 'set'; readonly value: string }
  | { readonly kind: 'incr' }
  | { readonly kind: 'incrby'; readonly delta: number | bigint }
  | { readonly kind: 'del' };

/**
 * What an operation answered: `get` → the value or null; `set` → 'ok'; `incr`/`incrby` → the new value,
 * or 'error' (not an integer, or overflow: no effect); `del` → 0 or 1 (whether the key existed);
 * 'unknown' (with returnMs +Infinity) when the client never learned the outcome.
 */
export type RegisterOutput = string | null | number | bigint;

/** One client operation on one key. */
export interface RegisterOperation {
  readonly clientId: number | string;
  readonly key: string;
  /** When the client sent it (virtual ms, or any number that grows with time). */
  readonly callMs: number;
  /** When the client got the answer; +Infinity exactly when `output` is 'unknown'. */
  readonly returnMs: number;
  readonly input: RegisterInput;
  readonly output: RegisterOutput;
}

/** The verdict. `key` names the first key (in sorted order) that failed, or whose search ran out of budget. */
export type LinearizabilityResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly key: string;
      readonly explanation: string;
      /** A subset of the key's operations that is already not linearizable. */
      readonly witness: readonly RegisterOperation[];
    }
  | { readonly ok: 'unknown'; readonly key: string; readonly explanation: string };

export interface LinearizabilityOptions {
  /** Search steps allowed per key (and per shrinking attempt). Default 1,000,000. */
  readonly stepsMax?: number;
  /** Whether to shrink a failing key's history for the explanation. Default true. */
  readonly shrink?: boolean;
}

const STEPS_MAX_DEFAULT = 1_000_000;
/** Most re-checks one shrink runs: each is a search of a smaller history. */
const SHRINK_ATTEMPTS_MAX = 300;
/** Most operations an explanation lists. */
const EXPLAIN_OPERATIONS_MAX = 12;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_PATTERN = /^(0|-?[1-9][0-9]{0,18})$/;
const ZOBRIST_WORDS = 4;
/** Fixed, so that a verdict never depends on the run. */
const ZOBRIST_SEED = 0x5eed;

/** Checks that the history is linearizable with respect to per-key registers; see the module comment. */
export function checkLinearizability(history: readonly RegisterOperation[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  const stepsMax = options.stepsMax ?? STEPS_MAX_DEFAULT;
  assert(Number.isSafeInteger(stepsMax) && stepsMax > 0, `stepsMax ${stepsMax} must be a positive integer`);
  for (const op of history) validate(op);
  const byKey = partitionByKey(history);
  let outOfBudget: { key: string; explanation: string } | undefined;
  for (const key of [...byKey.keys()].sort()) {
    const ops = byKey.get(key)!;
    const phantom = phantomRead(ops);
    if (phantom !== undefined) {
      const explanation = `key ${JSON.stringify(key)}: not linearizable; ${describeOperation(phantom.source)} returned a value no operation on the key can write`;
      return { ok: false, key, explanation, witness: [phantom.source] };
    }
    const result = search(ops, stepsMax);
    if (result.kind === 'ok') continue;
    if (result.kind === 'budget') {
      outOfBudget ??= { key, explanation: budgetExplanation(key, ops, stepsMax) };
      continue;
    }
    const witness = options.shrink === false ? ops : shrink(ops, stepsMax);
    return { ok: false, key, explanation: failureExplanation(key, ops, witness, stepsMax), witness: witness.map((op) => op.source) };
  }
  return outOfBudget === undefined ? { ok: true } : { ok: 'unknown', ...outOfBudget };
}

/** An operation prepared for the search. */
interface Op {
  /** Position in the key's history: names the operation in the set of placed ones. */
  readonly id: number;
  readonly source: RegisterOperation;
  readonly unknown: boolean;
}

/** A call or return in the search's linked list; the head is a sentinel with no op. */
interface ListNode {
  readonly op: Op | undefined;
  /** For a call, its return. */
  readonly match: ListNode | undefined;
  prev: ListNode | undefined;
  next: ListNode | undefined;
}

/** The register: a string, or null when the key is absent. */
type State = string | null;

/** Where the search got furthest: the longest prefix it placed, and the state after it. */
interface Deepest {
  readonly placed: readonly Op[];
  readonly state: State;
  /** The operations that could have come next (called before the first remaining return). */
  readonly candidates: readonly Op[];
}

/** The verdict of one search, with the steps it took. */
type SearchResult =
  | { readonly kind: 'ok'; readonly steps: number }
  | { readonly kind: 'fail'; readonly steps: number; readonly deepest: Deepest }
  | { readonly kind: 'budget'; readonly steps: number };

const REJECT = Symbol('reject');

/**
 * A read whose value no set writes and no increment could produce: the history fails whatever the
 * order, and saying so up front spares a search that would have to try every order to learn it.
 */
function phantomRead(ops: readonly Op[]): Op | undefined {
  const written = new Set<string>();
  let increments = false;
  for (const op of ops) {
    if (op.source.input.kind === 'set') written.add(op.source.input.value);
    if (op.source.input.kind === 'incr' || op.source.input.kind === 'incrby') increments = true;
  }
  return ops.find((op) => {
    const value = op.source.output;
    if (op.source.input.kind !== 'get' || typeof value !== 'string' || written.has(value)) return false;
    return !increments || parseInteger(value) === undefined;
  });
}

/** Porcupine's checkSingle over one key's operations. */
function search(ops: readonly Op[], stepsMax: number): SearchResult {
  const head = buildList(ops);
  const placed = new PlacedSet(ops.length);
  const seen = new Set<string>();
  const stack: { node: ListNode; state: State }[] = [];
  let state: State = null;
  let deepest: Deepest = { placed: [], state: null, candidates: candidatesAfter(head) };
  let node = head.next;
  let steps = 0;
  for (; head.next !== undefined; steps++) {
    if (steps >= stepsMax) return { kind: 'budget', steps };
    if (node === undefined) return { kind: 'fail', steps, deepest };
    if (node.match !== undefined) {
      const op = node.op!;
      const next = step(state, op);
      if (next !== REJECT) {
        placed.toggle(op.id);
        const memo = placed.key(next);
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ node, state });
          state = next;
          lift(node);
          if (stack.length > deepest.placed.length) {
            deepest = { placed: stack.map((entry) => entry.node.op!), state, candidates: candidatesAfter(head) };
          }
          node = head.next;
          continue;
        }
        placed.toggle(op.id);
      }
      node = node.next;
    } else {
      // A return at the front: its operation had to be placed by now, and none of the choices worked.
      const top = stack.pop();
      if (top === undefined) return { kind: 'fail', steps, deepest };
      placed.toggle(top.node.op!.id);
      state = top.state;
      unlift(top.node);
      node = top.node.next;
    }
  }
  return { kind: 'ok', steps };
}

/** The sorted list of calls and returns: by time, calls before returns at one time, then by id. */
function buildList(ops: readonly Op[]): ListNode {
  const events: { time: number; isCall: boolean; op: Op }[] = [];
  for (const op of ops) {
    events.push({ time: op.source.callMs, isCall: true, op }, { time: op.source.returnMs, isCall: false, op });
  }
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.op.id - b.op.id;
  });
  const returns = new Map<number, ListNode>();
  for (const event of events) {
    if (!event.isCall) returns.set(event.op.id, { op: event.op, match: undefined, prev: undefined, next: undefined });
  }
  const head: ListNode = { op: undefined, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const event of events) {
    const node: ListNode = event.isCall ? { op: event.op, match: returns.get(event.op.id)!, prev: undefined, next: undefined } : returns.get(event.op.id)!;
    node.prev = last;
    last.next = node;
    last = node;
  }
  return head;
}

/** Unlinks a call and its return. */
function lift(call: ListNode): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== undefined) ret.next.prev = ret.prev;
}

/** Relinks what `lift` unlinked, in reverse order. */
function unlift(call: ListNode): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== undefined) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

/** The operations that could be placed next: those called before the first return in the list. */
function candidatesAfter(head: ListNode): Op[] {
  const candidates: Op[] = [];
  for (let node = head.next; node !== undefined && node.match !== undefined; node = node.next) candidates.push(node.op!);
  return candidates;
}

/**
 * The set of operations placed so far, kept as a 128-bit Zobrist hash (the XOR of a fixed random value per
 * operation) so that a memo key costs the same whatever the history's length; a bitset of thousands of
 * operations per key would make each step, and each remembered pair, kilobytes. Two different sets
 * collide with odds near 2^-128 per pair; a collision could only prune a branch, faking a failure, never
 * hide one.
 */
class PlacedSet {
  private readonly zobrist: Uint32Array;
  private readonly hash = new Uint32Array(ZOBRIST_WORDS);

  constructor(size: number) {
    const random = seededRandom(ZOBRIST_SEED);
    this.zobrist = new Uint32Array(size * ZOBRIST_WORDS);
    for (let i = 0; i < this.zobrist.length; i++) this.zobrist[i] = Math.floor(random() * 2 ** 32);
  }

  toggle(id: number): void {
    for (let w = 0; w < ZOBRIST_WORDS; w++) this.hash[w]! ^= this.zobrist[id * ZOBRIST_WORDS + w]!;
  }

  /** The memo key of (this set, `state`). */
  key(state: State): string {
    const set = `${this.hash[0]}.${this.hash[1]}.${this.hash[2]}.${this.hash[3]}`;
    return state === null ? set : `${set}=${state}`;
  }
}

/** The register's next state if `op` may give its output from `state`, else REJECT. */
function step(state: State, op: Op): State | typeof REJECT {
  const { input, output } = op.source;
  switch (input.kind) {
    case 'get':
      return op.unknown || output === state ? state : REJECT;
    case 'set':
      return input.value;
    case 'del':
      return op.unknown || output === (state === null ? 0 : 1) ? null : REJECT;
    case 'incr':
    case 'incrby': {
      const delta = input.kind === 'incr' ? 1n : BigInt(input.delta);
      const current = state === null ? 0n : parseInteger(state);
      const result = current === undefined ? undefined : current + delta;
      if (result === undefined || result < INT64_MIN || result > INT64_MAX) {
        return op.unknown || output === 'error' ? state : REJECT;
      }
      if (op.unknown) return result.toString();
      return (typeof output === 'number' || typeof output === 'bigint') && BigInt(output) === result ? result.toString() : REJECT;
    }
  }
}

/** The value as Redis reads an integer (no sign on zero, no leading zeros or spaces, 64-bit), else undefined. */
function parseInteger(value: string): bigint | undefined {
  if (!INTEGER_PATTERN.test(value)) return undefined;
  const parsed = BigInt(value);
  return parsed < INT64_MIN || parsed > INT64_MAX ? undefined : parsed;
}

/** Throws on a malformed operation: the recorder is wrong, not the system under test. */
function validate(op: RegisterOperation): void {
  const at = `operation ${describeOperation(op)}`;
  assert(Number.isFinite(op.callMs), `${at}: call time must be finite`);
  assert(op.returnMs >= op.callMs, `${at}: returns before it is called`);
  const unknown = op.returnMs === Number.POSITIVE_INFINITY;
  if (unknown) {
    assert(op.output === 'unknown', `${at}: a return time of +Infinity means an unknown outcome, output 'unknown'`);
    return;
  }
  switch (op.input.kind) {
    case 'get':
      assert(op.output === null || typeof op.output === 'string', `${at}: get answers a string or null`);
      return;
    case 'set':
      assert(op.output === 'ok', `${at}: set answers 'ok' (or 'unknown' with return time +Infinity)`);
      return;
    case 'del':
      assert(op.output === 0 || op.output === 1, `${at}: del answers 0 or 1`);
      return;
    case 'incr':
    case 'incrby':
      assert(
        op.output === 'error' || typeof op.output === 'bigint' || (typeof op.output === 'number' && Number.isSafeInteger(op.output)),
        `${at}: incr answers an integer or 'error'`,
      );
      if (op.input.kind === 'incrby') {
        const delta = op.input.delta;
        assert(typeof delta === 'bigint' || Number.isSafeInteger(delta), `${at}: incrby needs an integer delta`);
      }
      return;
  }
}

/** Each key's operations, ready for the search, without the unknown-outcome ones that cannot matter. */
function partitionByKey(history: readonly RegisterOperation[]): Map<string, Op[]> {
  const byKey = new Map<string, RegisterOperation[]>();
  for (const op of history) {
    if (op.input.kind === 'get' && op.returnMs === Number.POSITIVE_INFINITY) continue;
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  const prepared = new Map<string, Op[]>();
  for (const [key, ops] of byKey) prepared.set(key, prepare(withoutUnobservedWrites(ops)));
  return prepared;
}

/**
 * On a key with only gets and sets, a set of unknown outcome whose value no read returned changes
 * nothing anyone saw: the history is linearizable with it iff without it (it may never have applied;
 * and where it applied, the reads after it until the next set would have returned its value). Each one
 * left in doubles the space a failing search must exhaust.
 */
function withoutUnobservedWrites(ops: readonly RegisterOperation[]): readonly RegisterOperation[] {
  if (!ops.every((op) => op.input.kind === 'get' || op.input.kind === 'set')) return ops;
  const read = new Set<string | null>();
  for (const op of ops) if (op.input.kind === 'get') read.add(op.output as string | null);
  return ops.filter((op) => op.input.kind !== 'set' || op.returnMs !== Number.POSITIVE_INFINITY || read.has(op.input.value));
}

function prepare(sources: readonly RegisterOperation[]): Op[] {
  return sources.map((source, id) => ({ id, source, unknown: source.returnMs === Number.POSITIVE_INFINITY }));
}

// --- shrinking and explaining -------------------------------------------------------------------------

/**
 * A smaller history of the key that is still not linearizable, found greedily. Removing an operation
 * is kept only when the rest still fails, and only removals that cannot turn a linearizable history
 * into a failing one are tried, so the result is a true witness: a read (placing every other operation
 * as before still works without it), or a set whose value no remaining read returned on a key with no
 * incr or del (nothing else observes the register).
 */
function shrink(ops: readonly Op[], stepsMax: number): Op[] {
  let current = [...ops];
  const readOnlyObservers = ops.every((op) => op.source.input.kind === 'get' || op.source.input.kind === 'set');
  let attempts = 0;
  // All attempts together get one search's budget; an attempt cut short keeps its operation.
  let stepsLeft = stepsMax;
  const tryRemoving = (isCandidate: (op: Op, rest: readonly Op[]) => boolean): void => {
    for (const op of [...current]) {
      if (attempts >= SHRINK_ATTEMPTS_MAX || stepsLeft <= 0) return;
      const rest = current.filter((other) => other !== op);
      if (!isCandidate(op, rest)) continue;
      attempts++;
      const result = search(prepare(rest.map((o) => o.source)), stepsLeft);
      stepsLeft -= result.steps;
      if (result.kind === 'fail') current = rest;
    }
  };
  const isKnownRead = (op: Op): boolean => op.source.input.kind === 'get' && !op.unknown;
  const isUnreadSet = (op: Op, rest: readonly Op[]): boolean => {
    const input = op.source.input;
    return readOnlyObservers && input.kind === 'set' && !rest.some((other) => other.source.input.kind === 'get' && other.source.output === input.value);
  };
  tryRemoving(isKnownRead);
  tryRemoving(isUnreadSet);
  tryRemoving(isKnownRead);
  return prepare(current.map((op) => op.source));
}

function failureExplanation(key: string, all: readonly Op[], witness: readonly Op[], stepsMax: number): string {
  const lines = [`key ${JSON.stringify(key)}: not linearizable; ${witness.length} of its ${all.length} operations already fail:`];
  const listed = witness.slice(0, EXPLAIN_OPERATIONS_MAX);
  for (const op of listed) lines.push(`  ${describeOperation(op.source)}`);
  if (witness.length > listed.length) lines.push(`  ... and ${witness.length - listed.length} more`);
  const result = search(witness, stepsMax);
  if (result.kind === 'fail') {
    const { placed, state, candidates } = result.deepest;
    lines.push(
      placed.length === 0
        ? 'no order can even start; the operations that could come first:'
        : `the longest valid order places ${placed.length} of them (last ${describeOperation(placed[placed.length - 1]!.source)}), leaving ${describeState(state)}; no order continues with any of:`,
    );
    for (const op of candidates.slice(0, EXPLAIN_OPERATIONS_MAX)) lines.push(`  ${describeOperation(op.source)}${wouldGive(state, op)}`);
  }
  return lines.join('\n');
}

/** What the model would answer for `op` from `state`, when that is not what the client saw. */
function wouldGive(state: State, op: Op): string {
  const { input } = op.source;
  switch (input.kind) {
    case 'get':
      return ` (the register holds ${describeState(state)})`;
    case 'del':
      return ` (the key ${state === null ? 'is absent' : 'exists'})`;
    case 'incr':
    case 'incrby': {
      const current = state === null ? 0n : parseInteger(state);
      return current === undefined ? ' (the value is not an integer)' : ` (it would give ${current + (input.kind === 'incr' ? 1n : BigInt(input.delta))})`;
    }
    case 'set':
      return '';
  }
}

function budgetExplanation(key: string, ops: readonly Op[], stepsMax: number): string {
  const unknown = ops.filter((op) => op.unknown).length;
  return `key ${JSON.stringify(key)}: the search exceeded ${stepsMax} steps on ${ops.length} operations (${unknown} of unknown outcome)`;
}

function describeState(state: State): string {
  return state === null ? 'no value' : `the value ${JSON.stringify(state)}`;
}

/** One line per operation: `client 3 set "a" → ok [10, 12]`. */
export function describeOperation(op: RegisterOperation): string {
  const input = op.input;
  const args = input.kind === 'set' ? ` ${JSON.stringify(input.value)}` : input.kind === 'incrby' ? ` ${input.delta}` : '';
  const output = op.output === null ? 'nil' : typeof op.output === 'string' && input.kind === 'get' ? JSON.stringify(op.output) : String(op.output);
  const returned = op.returnMs === Number.POSITIVE_INFINITY ? '∞' : String(op.returnMs);
  return `client ${op.clientId} ${input.kind} ${JSON.stringify(op.key)}${args} → ${output} [${op.callMs}, ${returned}]`;
}

// --- lost writes ----------------------------------------------------------------------------------------

/** A write the final state contradicts. */
export interface WriteProblem {
  readonly key: string;
  readonly kind: 'lostWrite' | 'phantomValue' | 'counterOutOfRange';
  readonly explanation: string;
}

/**
 * Checks the final value of every key (read after the run, with no client writing) against the
 * acknowledged writes, in linear time:
 * - an acknowledged `set` whose value is not the final one must have a write to the same key that could
 *   come after it (one that had not returned before the set was called), else the write was lost;
 * - a final value on a key without incr must have been written by some set (known or unknown outcome);
 * - on a key written only by incr/incrby, the final value minus the acknowledged increments must be a
 *   sum the unknown ones could make (between the sum of their negative and of their positive deltas):
 *   below means a lost increment, above a duplicated one.
 * Every key the history writes must have a final value (null when absent).
 */
export function checkLostWrites(history: readonly RegisterOperation[], finalValues: ReadonlyMap<string, string | null>): WriteProblem[] {
  for (const op of history) validate(op);
  const writesByKey = new Map<string, RegisterOperation[]>();
  for (const op of history) {
    if (op.input.kind === 'get' || op.output === 'error') continue;
    let writes = writesByKey.get(op.key);
    if (writes === undefined) writesByKey.set(op.key, (writes = []));
    writes.push(op);
  }
  const problems: WriteProblem[] = [];
  for (const key of [...writesByKey.keys()].sort()) {
    const writes = writesByKey.get(key)!;
    assert(finalValues.has(key), `no final value for key ${JSON.stringify(key)}, which the history writes`);
    const final = finalValues.get(key)!;
    const counterOnly = writes.every((op) => op.input.kind === 'incr' || op.input.kind === 'incrby');
    if (counterOnly) {
      const problem = checkCounter(key, writes, final);
      if (problem !== undefined) problems.push(problem);
      continue;
    }
    for (const write of writes) {
      if (write.input.kind !== 'set' || write.output !== 'ok' || final === write.input.value) continue;
      const overwritten = writes.some((other) => other !== write && other.returnMs >= write.callMs);
      if (!overwritten) {
        problems.push({
          key,
          kind: 'lostWrite',
          explanation: `${describeOperation(write)} was acknowledged and nothing wrote ${JSON.stringify(key)} after it, but the final value is ${describeState(final)}`,
        });
      }
    }
    const hasIncr = writes.some((op) => op.input.kind === 'incr' || op.input.kind === 'incrby');
    if (final !== null && !hasIncr && !writes.some((op) => op.input.kind === 'set' && op.input.value === final)) {
      problems.push({ key, kind: 'phantomValue', explanation: `the final value ${JSON.stringify(final)} of ${JSON.stringify(key)} was never written` });
    }
  }
  return problems;
}

function checkCounter(key: string, writes: readonly RegisterOperation[], final: string | null): WriteProblem | undefined {
  let acknowledged = 0n;
  let unknownLow = 0n;
  let unknownHigh = 0n;
  let acknowledgedCount = 0;
  for (const op of writes) {
    const delta = op.input.kind === 'incrby' ? BigInt(op.input.delta) : 1n;
    if (op.output !== 'unknown') {
      acknowledged += delta;
      acknowledgedCount++;
    } else if (delta < 0n) unknownLow += delta;
    else unknownHigh += delta;
  }
  const value = final === null ? (acknowledgedCount > 0 ? undefined : 0n) : parseInteger(final);
  const range = `[${acknowledged + unknownLow}, ${acknowledged + unknownHigh}]`;
  if (value === undefined) {
    return {
      key,
      kind: 'counterOutOfRange',
      explanation: `counter ${JSON.stringify(key)} took ${acknowledgedCount} acknowledged increments but its final value is ${describeState(final)}`,
    };
  }
  if (value < acknowledged + unknownLow || value > acknowledged + unknownHigh) {
    const what = value < acknowledged + unknownLow ? 'an increment was lost' : 'an increment applied twice';
    return { key, kind: 'counterOutOfRange', explanation: `counter ${JSON.stringify(key)} ends at ${value}, outside ${range} from its increments: ${what}` };
  }
  return undefined;
}
