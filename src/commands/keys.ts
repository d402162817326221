/**
 * Generic key commands (Redis db.c and expire.c): DEL, EXISTS, TYPE, RENAME, the EXPIRE family and the
 * TTL readers. Expiry times are absolute milliseconds in storage; relative ones are taken from `nowMs`.
 */
import { ONE, OK, ZERO, error, int, simple } from '../resp/reply.js';
import type { Reply } from '../resp/reply.js';
import { NO_SUCH_KEY, invalidExpireTime } from './errors.js';
import { readKey, writeKey } from './keyspace.js';
import { INT64_MAX, INT64_MIN, equalsIgnoreCase, int64Arg, int64Reply } from './parse.js';
import { allSteps } from './steps.js';
import type { ApplyContext, CommandSpec } from './types.js';

/** DEL and UNLINK: the same thing here, since nothing is freed in the background. */
function* deleteKeys(ctx: ApplyContext, argv: readonly Buffer[]): Generator<void, Reply, void> {
  let deleted = 0;
  for (let i = 1; i < argv.length; i++) {
    const key = argv[i]!;
    // An expired key is removed too, but does not count as deleted.
    if (writeKey(ctx, key) !== undefined && ctx.data.delete(key)) deleted++;
    yield;
  }
  return int(deleted);
}

const deleteKeysAtOnce = allSteps(deleteKeys);

function existsCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  let found = 0;
  // A key named twice counts twice, as in Redis.
  for (let i = 1; i < argv.length; i++) if (readKey(ctx, argv[i]!) !== undefined) found++;
  return int(found);
}

function typeCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return simple(readKey(ctx, argv[1]!)?.type ?? 'none');
}

/** RENAME and RENAMENX: the value moves with its TTL; renaming a key onto itself changes nothing. */
function renameGeneric(ctx: ApplyContext, argv: readonly Buffer[], onlyIfNew: boolean): Reply {
  const source = argv[1]!;
  const target = argv[2]!;
  const value = writeKey(ctx, source);
  if (value === undefined) return NO_SUCH_KEY;
  if (source.equals(target)) return onlyIfNew ? ZERO : OK;
  if (writeKey(ctx, target) !== undefined) {
    if (onlyIfNew) return ZERO;
    ctx.data.delete(target);
  }
  ctx.data.put(target, value);
  ctx.data.delete(source);
  return onlyIfNew ? ONE : OK;
}

function renameCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return renameGeneric(ctx, argv, false);
}

function renamenxCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return renameGeneric(ctx, argv, true);
}

const EXPIRE_NX = 1 << 0;
const EXPIRE_XX = 1 << 1;
const EXPIRE_GT = 1 << 2;
const EXPIRE_LT = 1 << 3;
const EXPIRE_WORDS: readonly (readonly [string, number])[] = [
  ['nx', EXPIRE_NX],
  ['xx', EXPIRE_XX],
  ['gt', EXPIRE_GT],
  ['lt', EXPIRE_LT],
];

/** EXPIRE's NX/XX/GT/LT flags, with Redis's own errors for unknown and incompatible ones. */
function parseExpireFlags(argv: readonly Buffer[]): number | Reply {
  let flags = 0;
  for (let i = 3; i < argv.length; i++) {
    const word = EXPIRE_WORDS.find(([w]) => equalsIgnoreCase(argv[i]!, w));
    if (word === undefined) return error(`ERR Unsupported option ${argv[i]!.toString()}`);
    flags |= word[1];
  }
  if ((flags & EXPIRE_NX) !== 0 && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) !== 0) {
    return error('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if ((flags & EXPIRE_GT) !== 0 && (flags & EXPIRE_LT) !== 0) {
    return error('ERR GT and LT options at the same time are not compatible');
  }
  return flags;
}

/** Whether NX/XX/GT/LT let the new expiry replace the current one; a key without TTL has an infinite one. */
function expireAllowed(flags: number, currentMs: bigint | undefined, whenMs: bigint): boolean {
  if ((flags & EXPIRE_NX) !== 0 && currentMs !== undefined) return false;
  if ((flags & EXPIRE_XX) !== 0 && currentMs === undefined) return false;
  if ((flags & EXPIRE_GT) !== 0 && (currentMs === undefined || whenMs <= currentMs)) return false;
  if ((flags & EXPIRE_LT) !== 0 && currentMs !== undefined && whenMs >= currentMs) return false;
  return true;
}

/**
 * Redis's expireGenericCommand. Negative times are allowed (they delete the key); only overflow of the
 * unit conversion or of adding the base time is an error. A time not after `nowMs` deletes the key and
 * still answers 1.
 */
function expireGeneric(ctx: ApplyContext, argv: readonly Buffer[], relative: boolean, unitMs: 1n | 1000n, command: string): Reply {
  const flags = parseExpireFlags(argv);
  if (typeof flags !== 'number') return flags;
  let whenMs = int64Arg(argv[2]!);
  if (typeof whenMs !== 'bigint') return whenMs;
  // C's LLONG_MIN / 1000 truncates toward zero, as BigInt division does.
  if (whenMs > INT64_MAX / unitMs || whenMs < INT64_MIN / unitMs) return invalidExpireTime(command);
  whenMs *= unitMs;
  const baseMs = relative ? BigInt(ctx.nowMs) : 0n;
  if (whenMs > INT64_MAX - baseMs) return invalidExpireTime(command);
  whenMs += baseMs;
  const key = argv[1]!;
  const value = writeKey(ctx, key);
  if (value === undefined) return ZERO;
  const currentMs = value.expireAtMs === 0 ? undefined : BigInt(value.expireAtMs);
  if (!expireAllowed(flags, currentMs, whenMs)) return ZERO;
  if (whenMs <= BigInt(ctx.nowMs)) ctx.data.delete(key);
  else ctx.data.put(key, { ...value, expireAtMs: Number(whenMs) });
  return ONE;
}

function expireCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return expireGeneric(ctx, argv, true, 1000n, 'expire');
}

function pexpireCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return expireGeneric(ctx, argv, true, 1n, 'pexpire');
}

function expireatCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return expireGeneric(ctx, argv, false, 1000n, 'expireat');
}

function pexpireatCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return expireGeneric(ctx, argv, false, 1n, 'pexpireat');
}

/** TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 for one without expiry. */
function ttlGeneric(ctx: ApplyContext, argv: readonly Buffer[], read: (expireAtMs: number, nowMs: number) => number): Reply {
  const value = readKey(ctx, argv[1]!);
  if (value === undefined) return int(-2);
  if (value.expireAtMs === 0) return int(-1);
  // Expiry times beyond 2^53 ms are doubles in storage: print them exactly and keep them within 64
  // bits, so the largest one Redis accepts (2^63 - 1, stored as 2^63) still reads back as 2^63 - 1.
  const result = BigInt(Math.trunc(read(value.expireAtMs, ctx.nowMs)));
  return int64Reply(result > INT64_MAX ? INT64_MAX : result);
}

function ttlCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  // Redis rounds the remaining time to the nearest second.
  return ttlGeneric(ctx, argv, (atMs, nowMs) => Math.floor((atMs - nowMs + 500) / 1000));
}

function pttlCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return ttlGeneric(ctx, argv, (atMs, nowMs) => atMs - nowMs);
}

function expiretimeCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  // Redis rounds to the nearest second here too.
  return ttlGeneric(ctx, argv, (atMs) => Math.floor((atMs + 500) / 1000));
}

function pexpiretimeCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  return ttlGeneric(ctx, argv, (atMs) => atMs);
}

function persistCommand(ctx: ApplyContext, argv: readonly Buffer[]): Reply {
  const key = argv[1]!;
  const value = writeKey(ctx, key);
  if (value === undefined || value.expireAtMs === 0) return ZERO;
  ctx.data.put(key, { ...value, expireAtMs: 0 });
  return ONE;
}

/** The generic key commands. */
export const KEY_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'del',
    arity: -2,
    flags: ['write'],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RM', 'delete'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
    summary: 'Delete a key',
    since: '1.0.0',
    group: 'generic',
    complexity:
      'O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).',
    scope: 'key',
    apply: deleteKeysAtOnce,
    applyInSteps: deleteKeys,
  },
  {
    name: 'unlink',
    arity: -2,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@fast'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RM', 'delete'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
    summary: 'Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.',
    since: '4.0.0',
    group: 'generic',
    complexity:
      'O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.',
    scope: 'key',
    apply: deleteKeysAtOnce,
    applyInSteps: deleteKeys,
  },
  {
    name: 'exists',
    arity: -2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: -1, keyStep: 1, limit: 0 }],
    summary: 'Determine if a key exists',
    since: '1.0.0',
    group: 'generic',
    complexity: 'O(N) where N is the number of keys to check.',
    history: [['3.0.3', 'Accepts multiple `key` arguments.']],
    scope: 'key',
    apply: existsCommand,
  },
  {
    name: 'type',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@read', '@fast'],
    keySpecs: [{ flags: ['RO'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Determine the type stored at key',
    since: '1.0.0',
    group: 'generic',
    complexity: 'O(1)',
    scope: 'key',
    apply: typeCommand,
  },
  {
    name: 'rename',
    arity: 3,
    flags: ['write'],
    firstKey: 1,
    lastKey: 2,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@slow'],
    keySpecs: [
      { flags: ['RW', 'access', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 },
      { flags: ['OW', 'update'], index: 2, lastKey: 0, keyStep: 1, limit: 0 },
    ],
    summary: 'Rename a key',
    since: '1.0.0',
    group: 'generic',
    complexity: 'O(1)',
    scope: 'key',
    apply: renameCommand,
  },
  {
    name: 'renamenx',
    arity: 3,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 2,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [
      { flags: ['RW', 'access', 'delete'], index: 1, lastKey: 0, keyStep: 1, limit: 0 },
      { flags: ['OW', 'insert'], index: 2, lastKey: 0, keyStep: 1, limit: 0 },
    ],
    summary: 'Rename a key, only if the new key does not exist',
    since: '1.0.0',
    group: 'generic',
    complexity: 'O(1)',
    history: [['3.2.0', 'The command no longer returns an error when source and destination names are the same.']],
    scope: 'key',
    apply: renamenxCommand,
  },
  {
    name: 'expire',
    arity: -3,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: "Set a key's time to live in seconds",
    since: '1.0.0',
    group: 'generic',
    complexity: 'O(1)',
    history: [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
    scope: 'key',
    apply: expireCommand,
  },
  {
    name: 'pexpire',
    arity: -3,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: "Set a key's time to live in milliseconds",
    since: '2.6.0',
    group: 'generic',
    complexity: 'O(1)',
    history: [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
    scope: 'key',
    apply: pexpireCommand,
  },
  {
    name: 'expireat',
    arity: -3,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the expiration for a key as a UNIX timestamp',
    since: '1.2.0',
    group: 'generic',
    complexity: 'O(1)',
    history: [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
    scope: 'key',
    apply: expireatCommand,
  },
  {
    name: 'pexpireat',
    arity: -3,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Set the expiration for a key as a UNIX timestamp specified in milliseconds',
    since: '2.6.0',
    group: 'generic',
    complexity: 'O(1)',
    history: [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
    scope: 'key',
    apply: pexpireatCommand,
  },
  {
    name: 'expiretime',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@read', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the expiration Unix timestamp for a key',
    since: '7.0.0',
    group: 'generic',
    complexity: 'O(1)',
    scope: 'key',
    apply: expiretimeCommand,
  },
  {
    name: 'pexpiretime',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@read', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the expiration Unix timestamp for a key in milliseconds',
    since: '7.0.0',
    group: 'generic',
    complexity: 'O(1)',
    scope: 'key',
    apply: pexpiretimeCommand,
  },
  {
    name: 'ttl',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the time to live for a key in seconds',
    since: '1.0.0',
    group: 'generic',
    complexity: 'O(1)',
    history: [['2.8.0', 'Added the -2 reply.']],
    scope: 'key',
    apply: ttlCommand,
  },
  {
    name: 'pttl',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Get the time to live for a key in milliseconds',
    since: '2.6.0',
    group: 'generic',
    complexity: 'O(1)',
    history: [['2.8.0', 'Added the -2 reply.']],
    scope: 'key',
    apply: pttlCommand,
  },
  {
    name: 'persist',
    arity: 2,
    flags: ['write', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'], index: 1, lastKey: 0, keyStep: 1, limit: 0 }],
    summary: 'Remove the expiration from a key',
    since: '2.2.0',
    group: 'generic',
    complexity: 'O(1)',
    scope: 'key',
    apply: persistCommand,
  },
];
