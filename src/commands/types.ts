/**
 * The command table's types. A key command is a deterministic function of the shard's data, its
 * arguments and the proposal's timestamp (`nowMs`, chosen once by whoever proposes it), so that the same
 * command applied on every replica gives the same state and reply. Server commands (PING, CLUSTER, SCAN,
 * ...) need the node and the connection; the node layer implements those and only their specs live here.
 */
import type { Reply } from '../resp/reply.js';
import type { ShardData } from '../storage/types.js';

export interface ApplyContext {
  readonly data: ShardData;
  /** Unix time in milliseconds at which the command takes effect: expiry is judged against it. */
  readonly nowMs: number;
  /** Uniform in [0, 1): only read-only commands (HRANDFIELD) may use it, since replicas must not diverge. */
  readonly random: () => number;
  /**
   * The client's protocol version (HELLO), 2 when absent. Only read-only commands whose reply shape differs
   * beyond what the writer translates (HRANDFIELD WITHVALUES: pairs in RESP3, flat in RESP2) look at it.
   */
  readonly protocol?: 2 | 3;
}

/**
 * One key specification of COMMAND INFO (Redis 7). Only the shapes our commands use are modelled: keys
 * found from a fixed argument index (`begin_search` type `index`) over a range (`find_keys` type `range`).
 */
export interface KeySpec {
  /** Free-text note Redis attaches to some key specs (SET, GETEX); listed first in the reply. */
  readonly notes?: string;
  /** Key-spec flags as Redis lists them: RO, RW, OW, RM, access, update, insert, delete, ... */
  readonly flags: readonly string[];
  /** Argument index of the first key. */
  readonly index: number;
  /** Last key relative to the first (negative counts from the end), its step, and the limit divisor. */
  readonly lastKey: number;
  readonly keyStep: number;
  readonly limit: number;
}

/** Runs a key command on one shard. `argv[0]` is the command name as sent. Never throws for bad input. */
export type KeyHandler = (ctx: ApplyContext, argv: readonly Buffer[]) => Reply;

/**
 * A key handler that yields after each key it touches: a command whose work grows with its argument
 * count, so that a shard can apply it a slice of keys at a time. Yields only between whole keys.
 */
export type SteppedKeyHandler = (ctx: ApplyContext, argv: readonly Buffer[]) => Generator<void, Reply, void>;

export interface CommandSpec {
  /** Lower-case name, e.g. `get`, or for a subcommand `client|setname`. */
  readonly name: string;
  /** Redis convention: n > 0 exactly n arguments (name included), n < 0 at least -n. */
  readonly arity: number;
  /** Redis COMMAND INFO flags: write, readonly, denyoom, admin, noscript, fast, loading, stale, no_auth, ... */
  readonly flags: readonly string[];
  /** Key positions: first, last (negative counts from the end), step; 0, 0, 0 when there are none. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  /** ACL categories as Redis lists them, e.g. `@string`, `@fast`. */
  readonly aclCategories: readonly string[];
  /** COMMAND DOCS fields. */
  readonly summary: string;
  readonly since: string;
  readonly group: string;
  /** COMMAND DOCS `complexity`, when Redis documents one. */
  readonly complexity?: string;
  /** COMMAND DOCS `doc_flags` (e.g. `deprecated`), `deprecated_since`, `replaced_by` and `history`. */
  readonly docFlags?: readonly string[];
  readonly deprecatedSince?: string;
  readonly replacedBy?: string;
  readonly history?: readonly (readonly [version: string, description: string])[];
  /** COMMAND INFO command tips, e.g. `nondeterministic_output`, `request_policy:all_shards`. */
  readonly tips?: readonly string[];
  /** COMMAND INFO key specifications; absent for commands without keys. */
  readonly keySpecs?: readonly KeySpec[];
  /** `key`: runs on the shard owning its keys, through `apply`. `server`: the node runs it. */
  readonly scope: 'key' | 'server';
  readonly apply?: KeyHandler;
  /** The same command as `apply`, in steps of one key (`allSteps(applyInSteps)` is `apply`). */
  readonly applyInSteps?: SteppedKeyHandler;
  readonly subcommands?: readonly CommandSpec[];
}
