/**
 * Hash commands (Redis t_hash.c). Fields are kept as binary strings (one char per byte, 'latin1') in
 * insertion order, which is the order Redis's small (listpack) hashes reply in. A stored hash is never
 * modified in place: a write builds a new field map, so a value handed to storage stays as it was.
 */
import { NULL, OK, ONE, ZERO, array, bulk, error, int } from '../resp/reply.js';
import type { Reply } from '../resp/reply.js';
import type { StoredValue } from '../storage/types.js';
import { INVALID_CURSOR, NAN_OR_INFINITY, NOT_FLOAT, OVERFLOW, SYNTAX_ERROR, WRONGTYPE, arityErrorMessage } from './errors.js';
import { globMatch } from './glob.js';
import { readKey, writeKey } from './keyspace.js';
import { LONG_DOUBLE_ZERO, addLongDouble, formatLongDouble, parseLongDouble } from './long-double.js';
import { INT64_MAX, INT64_MIN, equalsIgnoreCase, int64Arg, int64Reply, parseInt64, parseScanCursor } from './parse.js';
import type { ApplyContext, CommandSpec } from './types.js';

type HashValue = StoredValue & { readonly type: 'hash' };
type Fields = ReadonlyMap<string, Buffer>;

const EMPTY_FIELDS: Fields = new Map();

function fieldName(bytes: Buffer): string {
  return bytes.toString('latin1');
}

function fieldBytes(name: string): Buffer {
  return Buffer.from(name, 'latin1');
}

/** The live hash under `key` for a read: undefined when missing, WRONGTYPE when another type. */
function readHash(ctx: ApplyContext, key: Buffer): HashValue | undefined | Reply {
  const value = readKey(ctx, key);
  if (value === undefined) return undefined;
  return value.type === 'hash' ? value : WRONGTYPE;
}

/** As readHash, for a write: an expired value is deleted first (Redis's hashTypeLookupWriteOrCreate). */
function writeHash(ctx: ApplyContext, key: Buffer): HashValue | undefined | Reply {
  const value = writeKey(ctx, key);
  if (value === undefined) return undefined;
  return value.type === 'hash' ? value : WRONGTYPE;
}

function isHash(value: HashValue | Reply): value is HashValue {
  return 'type' in value;
}

/** Stores the new field map, keeping the hash's TTL; an emptied hash is deleted, as Redis does. */
function storeFields(ctx: ApplyContext, key: Buffer, old: HashValue | undefined, fields: Fields): void {
  if (fields.size === 0) ctx.data.delete(key);
  else ctx.data.put(key, { type: 'hash', fields, expireAtMs: old?.expireAtMs ?? 0 });
}

/** HSET and HMSET: field/value pairs after the key, so an odd count of them is an arity error. */
function setFields(ctx: ApplyContext, argv: readonly Buffer[], command: string): number | Reply {
  if (argv.length % 2 === 1) return error(arityErrorMessage(command));
  const key = argv[1]!;
  const old = writeHash(ctx, key);
  if (old !== undefined && !isHash(old)) return old;
  const fields = new Map(old?.fields ?? EMPTY_FIELDS);
  let created = 0;
  for (let i = 2; i < argv.length; i += 2) {
    const name = fieldName(argv[i]!);
    if (!fields.has(name)) created++;
    fields.set(name, Buffer.from(argv[i + 1]!));
  }
  storeFields(ctx, key, old, fields);
  return created;
}

function hsetCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const created = setFields(ctx, argv, 'hset');
  return typeof created === 'number' ? int(created) : created;
}

function hmsetCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const created = setFields(ctx, argv, 'hmset');
  return typeof created === 'number' ? OK : created;
}

function hsetnxCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const key = argv[1]!;
  const old = writeHash(ctx, key);
  if (old !== undefined && !isHash(old)) return old;
  const name = fieldName(argv[2]!);
  if (old?.fields.has(name)) return ZERO;
  const fields = new Map(old?.fields ?? EMPTY_FIELDS);
  fields.set(name, Buffer.from(argv[3]!));
  storeFields(ctx, key, old, fields);
  return ONE;
}

function hgetCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const hash = readHash(ctx, argv[1]!);
  if (hash === undefined) return NULL;
  if (!isHash(hash)) return hash;
  const value = hash.fields.get(fieldName(argv[2]!));
  return value === undefined ? NULL : bulk(value);
}

function hmgetCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const hash = readHash(ctx, argv[1]!);
  if (hash !== undefined && !isHash(hash)) return hash;
  const items: Reply[] = [];
  for (let i = 2; i < argv.length; i++) {
    const value = hash?.fields.get(fieldName(argv[i]!));
    items.push(value === undefined ? NULL : bulk(value));
  }
  return { kind: 'array', items };
}

function hdelCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const key = argv[1]!;
  const old = writeHash(ctx, key);
  if (old === undefined) return ZERO;
  if (!isHash(old)) return old;
  const fields = new Map(old.fields);
  let deleted = 0;
  for (let i = 2; i < argv.length; i++) if (fields.delete(fieldName(argv[i]!))) deleted++;
  if (deleted > 0) storeFields(ctx, key, old, fields);
  return int(deleted);
}

/** HGETALL, HKEYS, HVALS: the whole hash in field order. */
function listFields(ctx: ApplyContext, key: Buffer, shape: 'pairs' | 'keys' | 'values'): Reply {
  const hash = readHash(ctx, key);
  if (hash !== undefined && !isHash(hash)) return hash;
  const fields = hash?.fields ?? EMPTY_FIELDS;
  if (shape === 'pairs') {
    const entries: (readonly [Reply, Reply])[] = [];
    for (const [name, value] of fields) entries.push([bulk(fieldBytes(name)), bulk(value)]);
    return { kind: 'map', entries };
  }
  const items: Reply[] = [];
  for (const [name, value] of fields) items.push(bulk(shape === 'keys' ? fieldBytes(name) : value));
  return { kind: 'array', items };
}

function hgetallCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return listFields(ctx, argv[1]!, 'pairs');
}

function hkeysCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return listFields(ctx, argv[1]!, 'keys');
}

function hvalsCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return listFields(ctx, argv[1]!, 'values');
}

function hlenCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const hash = readHash(ctx, argv[1]!);
  if (hash === undefined) return ZERO;
  return isHash(hash) ? int(hash.fields.size) : hash;
}

function hexistsCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const hash = readHash(ctx, argv[1]!);
  if (hash === undefined) return ZERO;
  if (!isHash(hash)) return hash;
  return hash.fields.has(fieldName(argv[2]!)) ? ONE : ZERO;
}

function hstrlenCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const hash = readHash(ctx, argv[1]!);
  if (hash === undefined) return ZERO;
  if (!isHash(hash)) return hash;
  return int(hash.fields.get(fieldName(argv[2]!))?.length ?? 0);
}

/** Writes one field's new value, creating the hash if needed, and keeps the hash's TTL. */
function putField(ctx: ApplyContext, key: Buffer, old: HashValue | undefined, name: string, value: Buffer): void {
  const fields = new Map(old?.fields ?? EMPTY_FIELDS);
  fields.set(name, value);
  storeFields(ctx, key, old, fields);
}

function hincrbyCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const increment = int64Arg(argv[3]!);
  if (typeof increment !== 'bigint') return increment;
  const key = argv[1]!;
  const old = writeHash(ctx, key);
  if (old !== undefined && !isHash(old)) return old;
  const name = fieldName(argv[2]!);
  const stored = old?.fields.get(name);
  const current = stored === undefined ? 0n : parseInt64(stored);
  if (current === undefined) return error('ERR hash value is not an integer');
  const next = current + increment;
  if (next > INT64_MAX || next < INT64_MIN) return OVERFLOW;
  putField(ctx, key, old, name, Buffer.from(next.toString()));
  return int64Reply(next);
}

function hincrbyfloatCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const increment = parseLongDouble(argv[3]!);
  if (increment === undefined) return NOT_FLOAT;
  // Unlike INCRBYFLOAT, HINCRBYFLOAT refuses an infinite increment before looking at the hash.
  if (!increment.finite) return error('ERR value is NaN or Infinity');
  const key = argv[1]!;
  const old = writeHash(ctx, key);
  if (old !== undefined && !isHash(old)) return old;
  const name = fieldName(argv[2]!);
  const stored = old?.fields.get(name);
  const current = stored === undefined ? LONG_DOUBLE_ZERO : parseLongDouble(stored);
  if (current === undefined) return error('ERR hash value is not a float');
  const sum = addLongDouble(current, increment);
  if (sum === undefined || !sum.finite) return NAN_OR_INFINITY;
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  putField(ctx, key, old, name, text);
  return bulk(text);
}

const CURSOR_ZERO: Reply = bulk('0');
const EMPTY_SCAN: Reply = array([CURSOR_ZERO, array([])]);

/**
 * HSCAN: a hash is one stored value, so like Redis for small hashes the whole (filtered) hash comes back
 * in one reply with cursor 0, whatever cursor and COUNT were asked. Options are checked only when the key
 * exists, as in Redis.
 */
function hscanCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  if (parseScanCursor(argv[2]!) === undefined) return INVALID_CURSOR;
  const hash = readHash(ctx, argv[1]!);
  if (hash === undefined) return EMPTY_SCAN;
  if (!isHash(hash)) return hash;
  let pattern: Buffer | undefined;
  let withValues = true;
  for (let i = 3; i < argv.length; ) {
    const option = argv[i]!;
    const hasValue = i + 1 < argv.length;
    if (hasValue && equalsIgnoreCase(option, 'count')) {
      const count = int64Arg(argv[i + 1]!);
      if (typeof count !== 'bigint') return count;
      if (count < 1n) return SYNTAX_ERROR;
      i += 2;
    } else if (hasValue && equalsIgnoreCase(option, 'match')) {
      const p = argv[i + 1]!;
      // `*` matches everything: skip matching, as Redis does.
      pattern = p.length === 1 && p[0] === 0x2a ? undefined : p;
      i += 2;
    } else if (equalsIgnoreCase(option, 'novalues')) {
      withValues = false;
      i += 1;
    } else {
      return SYNTAX_ERROR;
    }
  }
  const items: Reply[] = [];
  for (const [name, value] of hash.fields) {
    const bytes = fieldBytes(name);
    if (pattern !== undefined && !globMatch(pattern, bytes)) continue;
    items.push(bulk(bytes));
    if (withValues) items.push(bulk(value));
  }
  return array([CURSOR_ZERO, array(items)]);
}

const LONG_MAX = INT64_MAX;
/**
 * A negative count asks for that many picks with repeats; Redis would try to build any size and let the
 * output buffer limit cut the client off. We refuse beyond this bound instead of exhausting memory.
 */
const RANDOM_REPEATS_MAX = 10_000_000n;

/**
 * HRANDFIELD key [count [WITHVALUES]]. Without a count: one random field or nil. A positive count gives
 * distinct fields (the whole hash when it is not larger); a negative one may repeat fields. Randomness
 * comes from `ctx.random` only.
 */
function hrandfieldCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  if (argv.length === 2) {
    const hash = readHash(ctx, argv[1]!);
    if (hash === undefined) return NULL;
    if (!isHash(hash)) return hash;
    const names = [...hash.fields.keys()];
    return bulk(fieldBytes(names[randomIndex(ctx, names.length)]!));
  }
  const count = int64Arg(argv[2]!);
  if (typeof count !== 'bigint') return count;
  if (count < -LONG_MAX) {
    return error(`ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`);
  }
  if (argv.length > 4 || (argv.length === 4 && !equalsIgnoreCase(argv[3]!, 'withvalues'))) return SYNTAX_ERROR;
  const withValues = argv.length === 4;
  // Redis refuses counts whose doubled size (fields and values) would overflow.
  if (withValues && (count < -LONG_MAX / 2n || count > LONG_MAX / 2n)) return error('ERR value is out of range');
  const hash = readHash(ctx, argv[1]!);
  if (hash === undefined) return array([]);
  if (!isHash(hash)) return hash;
  if (count === 0n) return array([]);
  const entries = [...hash.fields];
  let picked: (readonly [string, Buffer])[];
  if (count < 0n) {
    // Repeats allowed: the reply has exactly |count| entries, so bound it before allocating.
    if (-count > RANDOM_REPEATS_MAX) return error('ERR value is out of range');
    const wanted = Number(-count);
    picked = [];
    for (let i = 0; i < wanted; i++) picked.push(entries[randomIndex(ctx, entries.length)]!);
  } else if (count >= BigInt(entries.length)) {
    picked = entries;
  } else {
    // Partial Fisher-Yates: the first `count` slots end up a uniform sample without repeats.
    const wanted = Number(count);
    for (let i = 0; i < wanted; i++) {
      const j = i + randomIndex(ctx, entries.length - i);
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    picked = entries.slice(0, wanted);
  }
  return randomFieldsReply(ctx, picked, withValues);
}

/** WITHVALUES pairs are nested arrays in RESP3 but a flat list in RESP2, as Redis sends them. */
function randomFieldsReply(ctx: ApplyContext, picked: readonly (readonly [string, Buffer])[], withValues: boolean): Reply {
  const items: Reply[] = [];
  for (const [name, value] of picked) {
    if (!withValues) items.push(bulk(fieldBytes(name)));
    else if (ctx.protocol === 3) items.push(array([bulk(fieldBytes(name)), bulk(value)]));
    else items.push(bulk(fieldBytes(name)), bulk(value));
  }
  return array(items);
}

function randomIndex(ctx: ApplyContext, size: number): number {
  return Math.min(size - 1, Math.floor(ctx.random() * size));
}

/** The hash commands. */
export const HASH_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'hset',
    arity: -4,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the string value of a hash field',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.',
    history: [['4.0.0', 'Accepts multiple `field` and `value` arguments.']],
    scope: 'key',
    apply: hsetCommand,
  },
  {
    name: 'hsetnx',
    arity: 4,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'insert'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the value of a hash field, only if the field does not exist',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(1)',
    scope: 'key',
    apply: hsetnxCommand,
  },
  {
    name: 'hget',
    arity: 3,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the value of a hash field',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(1)',
    scope: 'key',
    apply: hgetCommand,
  },
  {
    name: 'hmget',
    arity: -3,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the values of all the given hash fields',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(N) where N is the number of fields being requested.',
    scope: 'key',
    apply: hmgetCommand,
  },
  {
    name: 'hmset',
    arity: -4,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set multiple hash fields to multiple values',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(N) where N is the number of fields being set.',
    docFlags: ['deprecated'],
    deprecatedSince: '4.0.0',
    replacedBy: '`HSET` with multiple field-value pairs',
    scope: 'key',
    apply: hmsetCommand,
  },
  {
    name: 'hdel',
    arity: -3,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Delete one or more hash fields',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(N) where N is the number of fields to be removed.',
    history: [['2.4.0', 'Accepts multiple `field` arguments.']],
    scope: 'key',
    apply: hdelCommand,
  },
  {
    name: 'hgetall',
    arity: 2,
    flags: ['readonly'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get all the fields and values in a hash',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(N) where N is the size of the hash.',
    scope: 'key',
    apply: hgetallCommand,
  },
  {
    name: 'hlen',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the number of fields in a hash',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(1)',
    scope: 'key',
    apply: hlenCommand,
  },
  {
    name: 'hexists',
    arity: 3,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Determine if a hash field exists',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(1)',
    scope: 'key',
    apply: hexistsCommand,
  },
  {
    name: 'hincrby',
    arity: 4,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Increment the integer value of a hash field by the given number',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(1)',
    scope: 'key',
    apply: hincrbyCommand,
  },
  {
    name: 'hincrbyfloat',
    arity: 4,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Increment the float value of a hash field by the given amount',
    since: '2.6.0',
    group: 'hash',
    complexity: 'O(1)',
    scope: 'key',
    apply: hincrbyfloatCommand,
  },
  {
    name: 'hkeys',
    arity: 2,
    flags: ['readonly'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get all the fields in a hash',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(N) where N is the size of the hash.',
    scope: 'key',
    apply: hkeysCommand,
  },
  {
    name: 'hvals',
    arity: 2,
    flags: ['readonly'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get all the values in a hash',
    since: '2.0.0',
    group: 'hash',
    complexity: 'O(N) where N is the size of the hash.',
    scope: 'key',
    apply: hvalsCommand,
  },
  {
    name: 'hstrlen',
    arity: 3,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the length of the value of a hash field',
    since: '3.2.0',
    group: 'hash',
    complexity: 'O(1)',
    scope: 'key',
    apply: hstrlenCommand,
  },
  {
    name: 'hscan',
    arity: -3,
    flags: ['readonly'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Incrementally iterate hash fields and associated values',
    since: '2.8.0',
    group: 'hash',
    complexity:
      'O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..',
    scope: 'key',
    apply: hscanCommand,
  },
  {
    name: 'hrandfield',
    arity: -2,
    flags: ['readonly'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get one or multiple random fields from a hash',
    since: '6.2.0',
    group: 'hash',
    complexity: 'O(N) where N is the number of fields returned',
    scope: 'key',
    apply: hrandfieldCommand,
  },
];
