/**
 * String commands (Redis t_string.c): GET/SET and their variants, counters, ranges. Replies and errors
 * follow Redis 7 exactly, including the order in which arguments are checked.
 */
import { NULL, OK, ONE, ZERO, bulk, error, int } from '../resp/reply.js';
import type { Reply } from '../resp/reply.js';
import {
  DECREMENT_OVERFLOW,
  NAN_OR_INFINITY,
  NOT_FLOAT,
  NOT_INTEGER,
  OFFSET_OUT_OF_RANGE,
  OVERFLOW,
  STRING_TOO_LONG,
  SYNTAX_ERROR,
  WRONGTYPE,
  arityErrorMessage,
  invalidExpireTime,
} from './errors.js';
import { readKey, storeValue, stringValue, writeKey } from './keyspace.js';
import { LONG_DOUBLE_ZERO, addLongDouble, formatLongDouble, parseLongDouble } from './long-double.js';
import { INT64_MAX, INT64_MIN, equalsIgnoreCase, int64Arg, int64Reply, parseInt64 } from './parse.js';
import { allSteps } from './steps.js';
import type { ApplyContext, CommandSpec } from './types.js';

/** proto-max-bulk-len's default: APPEND and SETRANGE refuse to grow a string beyond it. */
export const STRING_BYTES_MAX = 512 * 1024 * 1024;

// Option bits of SET and GETEX (Redis's OBJ_SET_* / OBJ_* flags).
const NX = 1 << 0;
const XX = 1 << 1;
const GET = 1 << 2;
const KEEPTTL = 1 << 3;
const PERSIST = 1 << 4;
const EX = 1 << 5;
const PX = 1 << 6;
const EXAT = 1 << 7;
const PXAT = 1 << 8;
const EXPIRE_ANY = EX | PX | EXAT | PXAT;

/** How an expire argument reads: its unit and whether it counts from now. */
interface ExpireUnit {
  readonly unitMs: 1n | 1000n;
  readonly relative: boolean;
}

interface StringOption {
  readonly word: string;
  readonly bit: number;
  /** Options that may not be combined with this one: Redis answers `syntax error` then. */
  readonly conflicts: number;
  readonly commands: 'set' | 'getex' | 'both';
  /** Present for EX/PX/EXAT/PXAT, which take the next argument as their time. */
  readonly expire?: ExpireUnit;
}

/** The option grammar of Redis's parseExtendedStringArgumentsOrReply, as a table. */
const STRING_OPTIONS: readonly StringOption[] = [
  { word: 'nx', bit: NX, conflicts: XX, commands: 'set' },
  { word: 'xx', bit: XX, conflicts: NX, commands: 'set' },
  { word: 'get', bit: GET, conflicts: 0, commands: 'set' },
  { word: 'keepttl', bit: KEEPTTL, conflicts: PERSIST | EXPIRE_ANY, commands: 'set' },
  { word: 'persist', bit: PERSIST, conflicts: KEEPTTL | EXPIRE_ANY, commands: 'getex' },
  { word: 'ex', bit: EX, conflicts: KEEPTTL | PERSIST | (EXPIRE_ANY & ~EX), commands: 'both', expire: { unitMs: 1000n, relative: true } },
  { word: 'px', bit: PX, conflicts: KEEPTTL | PERSIST | (EXPIRE_ANY & ~PX), commands: 'both', expire: { unitMs: 1n, relative: true } },
  { word: 'exat', bit: EXAT, conflicts: KEEPTTL | PERSIST | (EXPIRE_ANY & ~EXAT), commands: 'both', expire: { unitMs: 1000n, relative: false } },
  { word: 'pxat', bit: PXAT, conflicts: KEEPTTL | PERSIST | (EXPIRE_ANY & ~PXAT), commands: 'both', expire: { unitMs: 1n, relative: false } },
];

interface StringOptions {
  readonly flags: number;
  readonly expire?: { readonly arg: Buffer; readonly unit: ExpireUnit };
}

/** Parses SET's or GETEX's options from `argv[from]` on; a repeated expire option keeps the last value. */
function parseStringOptions(argv: readonly Buffer[], from: number, command: 'set' | 'getex'): StringOptions | Reply {
  let flags = 0;
  let expire: StringOptions['expire'];
  for (let i = from; i < argv.length; i++) {
    const arg = argv[i]!;
    const option = STRING_OPTIONS.find((o) => (o.commands === 'both' || o.commands === command) && equalsIgnoreCase(arg, o.word));
    if (option === undefined || (flags & option.conflicts) !== 0) return SYNTAX_ERROR;
    if (option.expire !== undefined) {
      if (i + 1 >= argv.length) return SYNTAX_ERROR;
      expire = { arg: argv[++i]!, unit: option.expire };
    }
    flags |= option.bit;
  }
  return expire === undefined ? { flags } : { flags, expire };
}

/**
 * The absolute expiry, in ms, of an EX/PX/EXAT/PXAT/SETEX argument (Redis's getExpireMillisecondsOrReply):
 * it must be a positive integer, and neither the unit conversion nor adding `nowMs` may overflow 64 bits.
 */
function expireAtArg(ctx: ApplyContext, arg: Buffer, unit: ExpireUnit, command: string): bigint | Reply {
  const value = int64Arg(arg);
  if (typeof value !== 'bigint') return value;
  if (value <= 0n || value > INT64_MAX / unit.unitMs) return invalidExpireTime(command);
  const atMs = value * unit.unitMs + (unit.relative ? BigInt(ctx.nowMs) : 0n);
  return atMs > INT64_MAX ? invalidExpireTime(command) : atMs;
}

/**
 * Redis's setGenericCommand, shared by SET, SETNX, SETEX and PSETEX: checks the expiry, answers GET with the
 * old value, honours NX/XX, and keeps the old TTL only under KEEPTTL.
 */
function setGeneric(ctx: ApplyContext, argv: readonly Buffer[], options: StringOptions, command: string, replies: { readonly ok: Reply; readonly aborted: Reply }): Reply {
  const key = argv[1]!;
  let expireAtMs = 0;
  if (options.expire !== undefined) {
    const atMs = expireAtArg(ctx, options.expire.arg, options.expire.unit, command);
    if (typeof atMs !== 'bigint') return atMs;
    expireAtMs = Number(atMs);
  }
  const old = writeKey(ctx, key);
  const get = (options.flags & GET) !== 0;
  if (get && old !== undefined && old.type !== 'string') return WRONGTYPE;
  const oldReply = old?.type === 'string' ? bulk(old.value) : NULL;
  if (((options.flags & NX) !== 0 && old !== undefined) || ((options.flags & XX) !== 0 && old === undefined)) {
    return get ? oldReply : replies.aborted;
  }
  if ((options.flags & KEEPTTL) !== 0 && old !== undefined) expireAtMs = old.expireAtMs;
  storeValue(ctx, key, stringValue(argv[2]!, expireAtMs));
  return get ? oldReply : replies.ok;
}

const SET_REPLIES = { ok: OK, aborted: NULL } as const;

function getCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const value = readKey(ctx, argv[1]!);
  if (value === undefined) return NULL;
  return value.type === 'string' ? bulk(value.value) : WRONGTYPE;
}

function setCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const options = parseStringOptions(argv, 3, 'set');
  if ('kind' in options) return options;
  return setGeneric(ctx, argv, options, 'set', SET_REPLIES);
}

function setnxCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return setGeneric(ctx, argv, { flags: NX }, 'setnx', { ok: ONE, aborted: ZERO });
}

/** SETEX/PSETEX: `key time value`, so the value is moved to argv[2] where setGeneric expects it. */
function setWithExpire(ctx: ApplyContext, argv: readonly Buffer[], unit: ExpireUnit, command: string): Reply {
  const reordered = [argv[0]!, argv[1]!, argv[3]!];
  return setGeneric(ctx, reordered, { flags: 0, expire: { arg: argv[2]!, unit } }, command, SET_REPLIES);
}

function setexCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return setWithExpire(ctx, argv, { unitMs: 1000n, relative: true }, 'setex');
}

function psetexCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return setWithExpire(ctx, argv, { unitMs: 1n, relative: true }, 'psetex');
}

function getsetCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return setGeneric(ctx, argv, { flags: GET }, 'getset', SET_REPLIES);
}

function getdelCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const key = argv[1]!;
  const value = writeKey(ctx, key);
  if (value === undefined) return NULL;
  if (value.type !== 'string') return WRONGTYPE;
  ctx.data.delete(key);
  return bulk(value.value);
}

function getexCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const options = parseStringOptions(argv, 2, 'getex');
  if ('kind' in options) return options;
  const key = argv[1]!;
  // Redis looks the key up for reading first: a missing key answers nil before the time is checked.
  const value = readKey(ctx, key);
  if (value === undefined) return NULL;
  if (value.type !== 'string') return WRONGTYPE;
  if (options.expire !== undefined) {
    const atMs = expireAtArg(ctx, options.expire.arg, options.expire.unit, 'getex');
    if (typeof atMs !== 'bigint') return atMs;
    storeValue(ctx, key, { ...value, expireAtMs: Number(atMs) });
  } else if ((options.flags & PERSIST) !== 0 && value.expireAtMs !== 0) {
    ctx.data.put(key, { ...value, expireAtMs: 0 });
  }
  return bulk(value.value);
}

function mgetCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const items: Reply[] = [];
  for (let i = 1; i < argv.length; i++) {
    const value = readKey(ctx, argv[i]!);
    // MGET answers nil for a key of another type rather than an error.
    items.push(value?.type === 'string' ? bulk(value.value) : NULL);
  }
  return { kind: 'array', items };
}

/** MSET and MSETNX: pairs after the name, so an even argument count is an arity error. */
function* msetGeneric(ctx: ApplyContext, argv: readonly Buffer[], onlyIfNoneExists: boolean): Generator<void, Reply, void> {
  if (argv.length % 2 === 0) return error(arityErrorMessage(onlyIfNoneExists ? 'msetnx' : 'mset'));
  if (onlyIfNoneExists) {
    for (let i = 1; i < argv.length; i += 2) {
      if (writeKey(ctx, argv[i]!) !== undefined) return ZERO;
      yield;
    }
  }
  for (let i = 1; i < argv.length; i += 2) {
    ctx.data.put(argv[i]!, stringValue(argv[i + 1]!, 0));
    yield;
  }
  return onlyIfNoneExists ? ONE : OK;
}

function msetInSteps(ctx: ApplyContext, argv: readonly Buffer[]): Generator<void, Reply, void> {
  return msetGeneric(ctx, argv, false);
}

function msetnxInSteps(ctx: ApplyContext, argv: readonly Buffer[]): Generator<void, Reply, void> {
  return msetGeneric(ctx, argv, true);
}

/** INCR, DECR, INCRBY, DECRBY: 64-bit signed arithmetic that refuses to wrap, keeping the key's TTL. */
function incrementBy(ctx: ApplyContext, key: Buffer, delta: bigint): Reply {
  const old = writeKey(ctx, key);
  if (old !== undefined && old.type !== 'string') return WRONGTYPE;
  const current = old === undefined ? 0n : parseInt64(old.value);
  if (current === undefined) return NOT_INTEGER;
  const next = current + delta;
  if (next > INT64_MAX || next < INT64_MIN) return OVERFLOW;
  ctx.data.put(key, stringValue(Buffer.from(next.toString()), old?.expireAtMs ?? 0));
  return int64Reply(next);
}

function incrCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return incrementBy(ctx, argv[1]!, 1n);
}

function decrCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return incrementBy(ctx, argv[1]!, -1n);
}

function incrbyCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const delta = int64Arg(argv[2]!);
  return typeof delta === 'bigint' ? incrementBy(ctx, argv[1]!, delta) : delta;
}

function decrbyCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const delta = int64Arg(argv[2]!);
  if (typeof delta !== 'bigint') return delta;
  // -INT64_MIN does not fit in 64 bits.
  if (delta === INT64_MIN) return DECREMENT_OVERFLOW;
  return incrementBy(ctx, argv[1]!, -delta);
}

function incrbyfloatCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const key = argv[1]!;
  const old = writeKey(ctx, key);
  if (old !== undefined && old.type !== 'string') return WRONGTYPE;
  const current = old === undefined ? LONG_DOUBLE_ZERO : parseLongDouble(old.value);
  const increment = parseLongDouble(argv[2]!);
  if (current === undefined || increment === undefined) return NOT_FLOAT;
  const sum = addLongDouble(current, increment);
  if (sum === undefined || !sum.finite) return NAN_OR_INFINITY;
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  ctx.data.put(key, stringValue(text, old?.expireAtMs ?? 0));
  return bulk(text);
}

function appendCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const key = argv[1]!;
  const suffix = argv[2]!;
  const old = writeKey(ctx, key);
  if (old === undefined) {
    ctx.data.put(key, stringValue(suffix, 0));
    return int(suffix.length);
  }
  if (old.type !== 'string') return WRONGTYPE;
  const length = old.value.length + suffix.length;
  if (length > STRING_BYTES_MAX) return STRING_TOO_LONG;
  ctx.data.put(key, { type: 'string', value: Buffer.concat([old.value, suffix], length), expireAtMs: old.expireAtMs });
  return int(length);
}

function strlenCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const value = readKey(ctx, argv[1]!);
  if (value === undefined) return ZERO;
  return value.type === 'string' ? int(value.value.length) : WRONGTYPE;
}

const EMPTY_BULK: Reply = bulk(Buffer.alloc(0));

function getrangeCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  let start = int64Arg(argv[2]!);
  if (typeof start !== 'bigint') return start;
  let end = int64Arg(argv[3]!);
  if (typeof end !== 'bigint') return end;
  const value = readKey(ctx, argv[1]!);
  if (value === undefined) return EMPTY_BULK;
  if (value.type !== 'string') return WRONGTYPE;
  // Redis 7's index rules: both negative and reversed is empty; negatives count from the end, then clamp.
  const length = BigInt(value.value.length);
  if (start < 0n && end < 0n && start > end) return EMPTY_BULK;
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return EMPTY_BULK;
  return bulk(value.value.subarray(Number(start), Number(end) + 1));
}

function setrangeCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const key = argv[1]!;
  const patch = argv[3]!;
  const offsetArg = int64Arg(argv[2]!);
  if (typeof offsetArg !== 'bigint') return offsetArg;
  if (offsetArg < 0n) return OFFSET_OUT_OF_RANGE;
  const old = writeKey(ctx, key);
  if (old !== undefined && old.type !== 'string') return WRONGTYPE;
  const oldLength = old === undefined ? 0 : old.value.length;
  // Writing nothing changes nothing and creates no key.
  if (patch.length === 0) return int(oldLength);
  if (offsetArg + BigInt(patch.length) > BigInt(STRING_BYTES_MAX)) return STRING_TOO_LONG;
  const offset = Number(offsetArg);
  const value = Buffer.alloc(Math.max(oldLength, offset + patch.length));
  if (old !== undefined) old.value.copy(value);
  patch.copy(value, offset);
  ctx.data.put(key, { type: 'string', value, expireAtMs: old?.expireAtMs ?? 0 });
  return int(value.length);
}

/** The string commands, in COMMAND order of Redis 7. */
export const STRING_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'get',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@string', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the value of a key',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: getCommand,
  },
  {
    name: 'set',
    arity: -3,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [{ notes: 'RW and ACCESS due to the optional `GET` argument', flags: ['RW', 'access', 'update', 'variable_flags'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the string value of a key',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    history: [
      ['2.6.12', 'Added the `EX`, `PX`, `NX` and `XX` options.'],
      ['6.0.0', 'Added the `KEEPTTL` option.'],
      ['6.2.0', 'Added the `GET`, `EXAT` and `PXAT` option.'],
      ['7.0.0', 'Allowed the `NX` and `GET` options to be used together.'],
    ],
    scope: 'key',
    apply: setCommand,
  },
  {
    name: 'setnx',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['OW', 'insert'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the value of a key, only if the key does not exist',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: setnxCommand,
  },
  {
    name: 'setex',
    arity: 4,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [{ flags: ['OW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the value and expiration of a key',
    since: '2.0.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: setexCommand,
  },
  {
    name: 'psetex',
    arity: 4,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [{ flags: ['OW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the value and expiration in milliseconds of a key',
    since: '2.6.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: psetexCommand,
  },
  {
    name: 'getset',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the string value of a key and return its old value',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    docFlags: ['deprecated'],
    deprecatedSince: '6.2.0',
    replacedBy: '`SET` with the `!GET` argument',
    scope: 'key',
    apply: getsetCommand,
  },
  {
    name: 'getdel',
    arity: 2,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the value of a key and delete the key',
    since: '6.2.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: getdelCommand,
  },
  {
    name: 'getex',
    arity: -2,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ notes: 'RW and UPDATE because it changes the TTL', flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the value of a key and optionally set its expiration',
    since: '6.2.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: getexCommand,
  },
  {
    name: 'mget',
    arity: -2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    aclCategories: ['@read', '@string', '@fast'],
    tips: ['request_policy:multi_shard'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
    summary: 'Get the values of all the given keys',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(N) where N is the number of keys to retrieve.',
    scope: 'key',
    apply: mgetCommand,
  },
  {
    name: 'mset',
    arity: -3,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: -1,
    step: 2,
    aclCategories: ['@write', '@string', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:all_succeeded'],
    keySpecs: [{ flags: ['OW', 'update'], index: 1, lastKey: -1, keyStep: 2, limit: 0 }],
    summary: 'Set multiple keys to multiple values',
    since: '1.0.1',
    group: 'string',
    complexity: 'O(N) where N is the number of keys to set.',
    scope: 'key',
    apply: allSteps(msetInSteps),
    applyInSteps: msetInSteps,
  },
  {
    name: 'msetnx',
    arity: -3,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: -1,
    step: 2,
    aclCategories: ['@write', '@string', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_min'],
    keySpecs: [{ flags: ['OW', 'insert'], index: 1, lastKey: -1, keyStep: 2, limit: 0 }],
    summary: 'Set multiple keys to multiple values, only if none of the keys exist',
    since: '1.0.1',
    group: 'string',
    complexity: 'O(N) where N is the number of keys to set.',
    // Never in slices: applied again over a part of itself (a crash mid-way), it would find keys and refuse.
    scope: 'key',
    apply: allSteps(msetnxInSteps),
  },
  {
    name: 'incr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Increment the integer value of a key by one',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: incrCommand,
  },
  {
    name: 'decr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Decrement the integer value of a key by one',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: decrCommand,
  },
  {
    name: 'incrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Increment the integer value of a key by the given amount',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: incrbyCommand,
  },
  {
    name: 'decrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Decrement the integer value of a key by the given number',
    since: '1.0.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: decrbyCommand,
  },
  {
    name: 'incrbyfloat',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Increment the float value of a key by the given amount',
    since: '2.6.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: incrbyfloatCommand,
  },
  {
    name: 'append',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'insert'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Append a value to a key',
    since: '2.0.0',
    group: 'string',
    complexity:
      'O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.',
    scope: 'key',
    apply: appendCommand,
  },
  {
    name: 'strlen',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@string', '@fast'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the length of the value stored in a key',
    since: '2.2.0',
    group: 'string',
    complexity: 'O(1)',
    scope: 'key',
    apply: strlenCommand,
  },
  {
    name: 'getrange',
    arity: 4,
    flags: ['readonly'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@string', '@slow'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get a substring of the string stored at a key',
    since: '2.4.0',
    group: 'string',
    complexity:
      'O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.',
    scope: 'key',
    apply: getrangeCommand,
  },
  {
    name: 'setrange',
    arity: 4,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Overwrite part of a string at key starting at the specified offset',
    since: '2.2.0',
    group: 'string',
    complexity:
      'O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.',
    scope: 'key',
    apply: setrangeCommand,
  },
];
