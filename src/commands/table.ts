/**
 * The command table: every command cleave knows, looked up per request by name, plus what the dispatcher
 * and COMMAND need from it — key positions, arity and unknown-command errors with Redis's exact texts,
 * and the COMMAND INFO / COMMAND DOCS replies in Redis 7's format.
 */
import { array, bulk, error, int, map, simple } from '../resp/reply.js';
import type { Reply } from '../resp/reply.js';
import { arityErrorMessage, unknownCommandMessage, unknownSubcommandMessage } from './errors.js';
import { HASH_COMMANDS } from './hashes.js';
import { KEY_COMMANDS } from './keys.js';
import { equalsIgnoreCase } from './parse.js';
import { SERVER_COMMANDS } from './server-specs.js';
import { STRING_COMMANDS } from './strings.js';
import type { CommandSpec, KeySpec } from './types.js';

export { arityErrorMessage, unknownCommandMessage, unknownSubcommandMessage } from './errors.js';
export { expireIfDue, isExpired } from './keyspace.js';
export { globMatch } from './glob.js';
export { parseScanCursor } from './parse.js';

/**
 * Names to specs, case-insensitive, without allocating for Buffer names (the per-request path): names
 * are bucketed by an FNV-1a hash of their ASCII-lower-cased bytes, then compared byte by byte.
 */
class NameTable {
  private readonly buckets = new Map<number, { readonly name: string; readonly spec: CommandSpec }[]>();
  private readonly byLowerName = new Map<string, CommandSpec>();
  private longest = 0;

  add(name: string, spec: CommandSpec): void {
    const hash = hashName(name);
    const bucket = this.buckets.get(hash) ?? [];
    bucket.push({ name, spec });
    this.buckets.set(hash, bucket);
    this.byLowerName.set(name, spec);
    this.longest = Math.max(this.longest, name.length);
  }

  find(name: Buffer | string): CommandSpec | undefined {
    if (typeof name === 'string') return this.byLowerName.get(name.toLowerCase());
    if (name.length > this.longest) return undefined;
    const bucket = this.buckets.get(hashName(name));
    if (bucket === undefined) return undefined;
    for (const entry of bucket) if (equalsIgnoreCase(name, entry.name)) return entry.spec;
    return undefined;
  }
}

/** FNV-1a over ASCII-lower-cased bytes (of a Buffer, or of an ASCII string's char codes). */
function hashName(name: Buffer | string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    let c = typeof name === 'string' ? name.charCodeAt(i) : name[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    hash = Math.imul(hash ^ c, 0x01000193);
  }
  return hash >>> 0;
}

const COMMANDS: readonly CommandSpec[] = [...STRING_COMMANDS, ...KEY_COMMANDS, ...HASH_COMMANDS, ...SERVER_COMMANDS];
const TOP_LEVEL = new NameTable();
const SUBCOMMANDS = new Map<CommandSpec, NameTable>();
for (const spec of COMMANDS) {
  if (TOP_LEVEL.find(spec.name) !== undefined) throw new Error(`command ${spec.name} is defined twice`);
  TOP_LEVEL.add(spec.name, spec);
  if (spec.subcommands === undefined) continue;
  const table = new NameTable();
  for (const sub of spec.subcommands) table.add(sub.name.slice(spec.name.length + 1), sub);
  SUBCOMMANDS.set(spec, table);
}

/** The top-level command called `name` (any letter case), or undefined. */
export function findCommand(name: Buffer | string): CommandSpec | undefined {
  return TOP_LEVEL.find(name);
}

/** The subcommand `sub` (e.g. `setname`, any case) of the container `spec`, or undefined. */
export function findSubcommand(spec: CommandSpec, sub: Buffer | string): CommandSpec | undefined {
  return SUBCOMMANDS.get(spec)?.find(sub);
}

/** Every top-level command, in table order (COMMAND, COMMAND COUNT, COMMAND DOCS without names). */
export function allCommands(): readonly CommandSpec[] {
  return COMMANDS;
}

/** Whether `argc` arguments (the name included) satisfy the spec's arity. */
export function arityMatches(spec: CommandSpec, argc: number): boolean {
  return spec.arity >= 0 ? argc === spec.arity : argc >= -spec.arity;
}

/**
 * Resolves a request to the spec that runs it, exactly as Redis's processCommand checks: the command,
 * then the container's subcommand (a container called alone is left to the arity check), then the arity.
 */
export function resolveCommand(argv: readonly Buffer[]): { readonly spec: CommandSpec } | { readonly error: Reply } {
  const name = argv[0];
  const base = name === undefined ? undefined : findCommand(name);
  if (base === undefined) return { error: error(unknownCommandMessage(argv)) };
  let spec = base;
  if (base.subcommands !== undefined && argv.length >= 2) {
    const sub = findSubcommand(base, argv[1]!);
    if (sub === undefined) return { error: error(unknownSubcommandMessage(argv)) };
    spec = sub;
  }
  if (!arityMatches(spec, argv.length)) return { error: error(arityErrorMessage(spec.name)) };
  return { spec };
}

/**
 * The keys of a request by the spec's first/last/step (a negative last counts from the end), as Redis's
 * legacy range key spec: MSET's are argv[1], argv[3], ...; RENAME's argv[1] and argv[2].
 */
export function commandKeys(spec: CommandSpec, argv: readonly Buffer[]): Buffer[] {
  if (spec.firstKey <= 0 || spec.step <= 0) return [];
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey;
  const keys: Buffer[] = [];
  for (let i = spec.firstKey; i <= last && i < argv.length; i += spec.step) keys.push(argv[i]!);
  return keys;
}

const INFO_CACHE = new WeakMap<CommandSpec, Reply>();
const DOCS_CACHE = new WeakMap<CommandSpec, Reply>();

const set = (items: readonly Reply[]): Reply => ({ kind: 'set', items });
const EMPTY_SET: Reply = set([]);

/**
 * COMMAND INFO's 10-element entry of Redis 7: name, arity, flags, first key, last key, step, ACL
 * categories, tips, key specs, subcommands. Flags and categories are status strings in sets, tips bulk
 * strings in a set, key specs a set of maps; subcommands an array of entries (an empty set when none).
 */
export function commandInfoReply(spec: CommandSpec): Reply {
  const cached = INFO_CACHE.get(spec);
  if (cached !== undefined) return cached;
  const reply = array([
    bulk(spec.name),
    int(spec.arity),
    set(spec.flags.map(simple)),
    int(spec.firstKey),
    int(spec.lastKey),
    int(spec.step),
    set(spec.aclCategories.map(simple)),
    set((spec.tips ?? []).map((tip) => bulk(tip))),
    set((spec.keySpecs ?? []).map(keySpecReply)),
    spec.subcommands === undefined ? EMPTY_SET : array(spec.subcommands.map(commandInfoReply)),
  ]);
  INFO_CACHE.set(spec, reply);
  return reply;
}

function keySpecReply(keySpec: KeySpec): Reply {
  const notes: (readonly [Reply, Reply])[] = keySpec.notes === undefined ? [] : [[bulk('notes'), bulk(keySpec.notes)]];
  return map([
    ...notes,
    [bulk('flags'), set(keySpec.flags.map(simple))],
    [
      bulk('begin_search'),
      map([
        [bulk('type'), bulk('index')],
        [bulk('spec'), map([[bulk('index'), int(keySpec.index)]])],
      ]),
    ],
    [
      bulk('find_keys'),
      map([
        [bulk('type'), bulk('range')],
        [
          bulk('spec'),
          map([
            [bulk('lastkey'), int(keySpec.lastKey)],
            [bulk('keystep'), int(keySpec.keyStep)],
            [bulk('limit'), int(keySpec.limit)],
          ]),
        ],
      ]),
    ],
  ]);
}

/**
 * COMMAND DOCS's map for one command, fields in Redis 7's order: summary, since, group, complexity,
 * doc_flags, deprecated_since, replaced_by, history, subcommands (a map of full name to docs). Argument
 * descriptions are not modelled.
 */
export function commandDocsReply(spec: CommandSpec): Reply {
  const cached = DOCS_CACHE.get(spec);
  if (cached !== undefined) return cached;
  const entries: (readonly [Reply, Reply])[] = [
    [bulk('summary'), bulk(spec.summary)],
    [bulk('since'), bulk(spec.since)],
    [bulk('group'), bulk(spec.group)],
  ];
  if (spec.complexity !== undefined) entries.push([bulk('complexity'), bulk(spec.complexity)]);
  if (spec.docFlags !== undefined) entries.push([bulk('doc_flags'), set(spec.docFlags.map(simple))]);
  if (spec.deprecatedSince !== undefined) entries.push([bulk('deprecated_since'), bulk(spec.deprecatedSince)]);
  if (spec.replacedBy !== undefined) entries.push([bulk('replaced_by'), bulk(spec.replacedBy)]);
  if (spec.history !== undefined) {
    entries.push([bulk('history'), set(spec.history.map(([version, what]) => array([bulk(version), bulk(what)])))]);
  }
  if (spec.subcommands !== undefined) {
    entries.push([bulk('subcommands'), map(spec.subcommands.map((sub) => [bulk(sub.name), commandDocsReply(sub)] as const))]);
  }
  const reply = map(entries);
  DOCS_CACHE.set(spec, reply);
  return reply;
}
