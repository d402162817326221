/**
 * The request path inside a node: look the command up, check arity and authentication, route key
 * commands by slot (answering -MOVED, -CROSSSLOT or -CLUSTERDOWN as Redis Cluster does), apply them on the
 * owning shard, and hold a reply until what it reports is durable.
 */
import { keyHashSlot } from '../common/slots.js';
import { commandKeys, resolveCommand, unknownCommandMessage } from '../commands/table.js';
import type { CommandSpec } from '../commands/types.js';
import { error, type Reply } from '../resp/reply.js';
import type { ShardReplica } from '../shard/shard-replica.js';
import { USER_KEY_BYTES_MAX } from '../storage/key-encoding.js';
import type { ClientConnection } from './client-connection.js';
import { CLUSTER_COMMANDS } from './cluster-commands.js';
import { KEYSPACE_COMMANDS } from './keyspace-commands.js';
import type { NodeContext, ServerHandler } from './node-context.js';
import { SERVER_COMMANDS } from './server-commands.js';

const NOAUTH = error('NOAUTH Authentication required.');
const CROSSSLOT = error("CROSSSLOT Keys in request don't hash to the same slot");
const CLUSTERDOWN = error('CLUSTERDOWN Hash slot not served');
/** LMDB bounds a key's size; longer keys are refused before they reach storage. */
const KEY_TOO_LONG = error(`ERR key is longer than ${USER_KEY_BYTES_MAX} bytes, the largest key cleave stores`);
/** Commands a client may send before AUTH. */
const ALLOWED_BEFORE_AUTH = new Set(['auth', 'hello', 'quit', 'reset']);

const SERVER_HANDLERS = new Map<string, ServerHandler>([...SERVER_COMMANDS, ...KEYSPACE_COMMANDS, ...CLUSTER_COMMANDS]);

/** Observes each command's outcome: the node's metrics hang off this. */
export interface CommandObserver {
  onCommand(spec: CommandSpec, startedAtNs: bigint, result: Reply | Promise<Reply>): void;
}

export interface DispatchTarget extends NodeContext {
  /** The replica of `shardId` on this node, opened on first use; undefined if it is not hosted here. */
  replica(shardId: string): ShardReplica | undefined;
}

export class CommandDispatcher {
  constructor(
    private readonly node: DispatchTarget,
    private readonly observer: CommandObserver | undefined,
  ) {}

  dispatch(conn: ClientConnection, argv: readonly Buffer[]): Reply | Promise<Reply> {
    const resolved = resolveCommand(argv);
    if ('error' in resolved) return resolved.error;
    const spec = resolved.spec;
    if (!conn.authenticated && !ALLOWED_BEFORE_AUTH.has(spec.name)) return NOAUTH;
    conn.lastCommand = spec.name;
    const startedAtNs = this.observer === undefined ? 0n : process.hrtime.bigint();
    const result = spec.scope === 'key' ? this.dispatchKeyCommand(conn, spec, argv) : this.dispatchServerCommand(conn, spec, argv);
    if (spec.name !== 'asking') conn.asking = false;
    this.observer?.onCommand(spec, startedAtNs, result);
    return result;
  }

  private dispatchServerCommand(conn: ClientConnection, spec: CommandSpec, argv: readonly Buffer[]): Reply | Promise<Reply> {
    // A subcommand's spec is named `container|sub`; the container's handler runs it.
    const bar = spec.name.indexOf('|');
    const handler = SERVER_HANDLERS.get(bar === -1 ? spec.name : spec.name.slice(0, bar));
    if (handler === undefined) return error(unknownCommandMessage(argv));
    return handler(this.node, conn, argv);
  }

  private dispatchKeyCommand(conn: ClientConnection, spec: CommandSpec, argv: readonly Buffer[]): Reply | Promise<Reply> {
    const keys = commandKeys(spec, argv);
    for (const key of keys) if (key.length > USER_KEY_BYTES_MAX) return KEY_TOO_LONG;
    const slot = keyHashSlot(keys[0]!);
    for (let i = 1; i < keys.length; i++) if (keyHashSlot(keys[i]!) !== slot) return CROSSSLOT;
    const view = this.node.routing();
    const shard = view.shardOfSlot(slot);
    if (shard === undefined || shard.leader === null) return CLUSTERDOWN;
    const isWrite = spec.flags.includes('write');
    // Followers do not receive data until replication is wired in, so only the leader serves, READONLY or not.
    if (shard.leader !== this.node.selfId) {
      const address = view.address(shard.leader);
      return address === undefined ? CLUSTERDOWN : error(`MOVED ${slot} ${address}`);
    }
    const replica = this.node.replica(shard.id);
    if (replica === undefined) return CLUSTERDOWN;
    const reply = replica.apply(spec, argv, Date.now(), Math.random, conn.protocol);
    if (isWrite) return replica.commitSoon().then(() => reply);
    // A read that saw a write not yet on disk answers only once it is, so no client reads what a crash
    // could still take back.
    for (const key of keys) if (replica.data.isPending(key)) return replica.data.flushed().then(() => reply);
    return reply;
  }
}
