/**
 * The request path inside a node: look the command up, check arity and authentication, route key
 * commands by slot (answering -MOVED, -CROSSSLOT or -CLUSTERDOWN as Redis Cluster does, or forwarding the
 * command to the node a -MOVED would name: forward-decision.ts), apply them on the
 * owning shard's Raft group (writes are proposed, reads wait for a ReadIndex barrier) and answer once
 * what the reply reports is committed.
 */
import type { RoutingShard } from '../common/routing.js';
import { keyHashSlot } from '../common/slots.js';
import { commandKeys, resolveCommand, unknownCommandMessage } from '../commands/table.js';
import type { CommandSpec } from '../commands/types.js';
import { error, type Reply } from '../resp/reply.js';
import { NOT_OWNED, type ShardReplica } from '../shard/shard-replica.js';
import { USER_KEY_BYTES_MAX } from '../storage/key-encoding.js';
import { NONE } from '../raft/index.js';
import type { ClientConnection, ProtocolVersion } from './client-connection.js';
import { forwardAnswer, forwardReason, type ForwardOutcome, type ForwardReason } from './forward-decision.js';
import { forwardableBytes } from './forward-wire-check.js';
import { RaftRequestError } from '../multiraft/multi-raft.js';
import { nodeIdOf } from '../multiraft/peer-message.js';
import type { RoutingView } from './routing-view.js';
import type { HoldResult } from '../split/split-buffer.js';
import { CLUSTER_COMMANDS } from './cluster-commands.js';
import { KEYSPACE_COMMANDS } from './keyspace-commands.js';
import type { NodeContext, ServerHandler } from './node-context.js';
import { SERVER_COMMANDS } from './server-commands.js';

const NOAUTH = error('NOAUTH Authentication required.');
const CROSSSLOT = error("CROSSSLOT Keys in request don't hash to the same slot");
const CLUSTERDOWN = error('CLUSTERDOWN Hash slot not served');
/** Cluster clients retry TRYAGAIN by themselves: the shard is choosing a leader or shedding load. */
const ELECTING = error('TRYAGAIN the shard has no leader right now; retry shortly');
/** A leader refused the command while it hands its leadership over, and the new leader is not known yet. */
const HANDING_OVER = error('TRYAGAIN the shard is handing its leadership to another replica; retry shortly');
/** The outcome is unknown (no quorum answered in time): the client must not assume either way. */
const UNCONFIRMED = error('ERR the write was not confirmed by a quorum in time; it may or may not have been applied');
/** LMDB bounds a key's size; longer keys are refused before they reach storage. */
const KEY_TOO_LONG = error(`ERR key is longer than ${USER_KEY_BYTES_MAX} bytes, the largest key cleave stores`);
/** Inside a MULTI block, which is refused as a whole (transactions are not supported yet). */
const REFUSED_IN_TRANSACTION = error('ERR command refused: it follows MULTI, and the transaction will be discarded (transactions are not supported by cleave yet)');
/** Commands that end or answer a refused MULTI block; every other command in it is refused. */
const TRANSACTION_CONTROL = new Set(['multi', 'exec', 'discard', 'quit', 'reset']);
/** A peer forwarded a command that is not a key command: only those are run for another node. */
const NOT_FORWARDABLE = error('ERR only key commands are forwarded between nodes');
/** Commands a client may send before AUTH. */
const ALLOWED_BEFORE_AUTH = new Set(['auth', 'hello', 'quit', 'reset']);

const SERVER_HANDLERS = new Map<string, ServerHandler>([...SERVER_COMMANDS, ...KEYSPACE_COMMANDS, ...CLUSTER_COMMANDS]);

/** Observes each command's outcome: the node's metrics hang off this. */
export interface CommandObserver {
  onCommand(spec: CommandSpec, startedAtNs: bigint, result: Reply | Promise<Reply>): void;
  /** A command was forwarded to the node serving its slot instead of being redirected. */
  onForward(reason: ForwardReason): void;
}

export interface DispatchTarget extends NodeContext {
  /** The replica of `shardId` on this node; undefined if it is not hosted here. */
  replica(shardId: string): ShardReplica | undefined;
  /** Proposes a key command to the shard's Raft group; resolves with its reply once applied. */
  write(shardId: string, argv: readonly Buffer[], nowMs: number): Promise<Reply>;
  /** Resolves when a linearizable read of the shard may be served here. */
  readBarrier(shardId: string): Promise<void>;
  /** A split's target whose replica here already owns `slot` (handed over, the routing table not yet updated). */
  splitTargetOwning(slot: number): string | undefined;
  /** Offers a write to a split's buffer: 'pass' to propose it, or the reply it gets once the handover ends. */
  holdWrite(shardId: string, slot: number): HoldResult;
  /** The answer for `slot` once `shardId` has given it away: MOVED to its new owner, or TRYAGAIN. */
  movedAway(shardId: string, slot: number): Reply;
  /** Runs a key command on `node` as a client's (over the bus, or here when `node` is this one). */
  forward(node: string, argv: readonly Buffer[], protocol: ProtocolVersion): Promise<ForwardOutcome>;
  /** When this node last saw the routing change: a new table, or a leader change of a shard it hosts. */
  routingChangedAtMs(): number;
  /** Resolves at the next leader change of `shardId` after which this node knows its leader, or after a bound. */
  leaderSettled(shardId: string): Promise<void>;
  /** This node's replica of `shardId` has heard nothing from a leader for several heartbeats: the one the table names may be gone. */
  leaderSilent(shardId: string): boolean;
}

/** What the key path needs of the request beyond its arguments. */
interface KeyRequest {
  readonly readonlyMode: boolean;
  readonly protocol: ProtocolVersion;
  /** The client had other requests in flight or bytes behind this one when it was read. */
  readonly pipelined: boolean;
  /** Sent by another node: never forwarded again. */
  readonly forwarded: boolean;
  /** Routed again after waiting for the shard's leadership to settle: not a second time. */
  readonly leaderAwaited?: boolean;
}

/** A key command on its way through this node: what each redirect path needs to answer or route it again. */
interface KeyCommand {
  readonly request: KeyRequest;
  readonly spec: CommandSpec;
  readonly argv: readonly Buffer[];
  readonly isWrite: boolean;
  readonly slot: number;
  /** The shard that serves the slot as this node sees it (a split's target once its log took the slot). */
  readonly shardId: string;
}

/** Where the dispatcher reads the time and draws random numbers: the system's, or a simulation's. */
export interface DispatchClock {
  now(): number;
  random(): number;
}

const SYSTEM_CLOCK: DispatchClock = { now: () => Date.now(), random: () => Math.random() };

export class CommandDispatcher {
  constructor(
    private readonly node: DispatchTarget,
    private readonly observer: CommandObserver | undefined,
    private readonly clock: DispatchClock = SYSTEM_CLOCK,
  ) {}

  dispatch(conn: ClientConnection, argv: readonly Buffer[]): Reply | Promise<Reply> {
    const resolved = resolveCommand(argv);
    if ('error' in resolved) return resolved.error;
    const spec = resolved.spec;
    if (!conn.authenticated && !ALLOWED_BEFORE_AUTH.has(spec.name)) return NOAUTH;
    if (conn.inRefusedTransaction && !TRANSACTION_CONTROL.has(spec.name)) return REFUSED_IN_TRANSACTION;
    conn.lastCommand = spec.name;
    const startedAtNs = this.observer === undefined ? 0n : process.hrtime.bigint();
    const result =
      spec.scope === 'key'
        ? this.dispatchKeyCommand({ readonlyMode: conn.readonlyMode, protocol: conn.protocol, pipelined: conn.owed > 0 || conn.requestsBehind, forwarded: false }, spec, argv)
        : this.dispatchServerCommand(conn, spec, argv);
    if (spec.name !== 'asking') conn.asking = false;
    this.observer?.onCommand(spec, startedAtNs, result);
    return result;
  }

  /**
   * Runs a key command another node forwarded, as a client's on this node (the sender authenticated the
   * client); a redirect is answered, never forwarded again.
   */
  dispatchForwarded(argv: readonly Buffer[], protocol: ProtocolVersion): Reply | Promise<Reply> {
    const resolved = resolveCommand(argv);
    if ('error' in resolved) return resolved.error;
    const spec = resolved.spec;
    if (spec.scope !== 'key') return NOT_FORWARDABLE;
    const startedAtNs = this.observer === undefined ? 0n : process.hrtime.bigint();
    const result = this.dispatchKeyCommand({ readonlyMode: false, protocol, pipelined: false, forwarded: true }, spec, argv);
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

  private dispatchKeyCommand(request: KeyRequest, spec: CommandSpec, argv: readonly Buffer[]): Reply | Promise<Reply> {
    const keys = commandKeys(spec, argv);
    const isWrite = spec.flags.includes('write');
    // No key that long is ever stored: a read finds it absent, as Redis would; a write is refused.
    if (isWrite) for (const key of keys) if (key.length > USER_KEY_BYTES_MAX) return KEY_TOO_LONG;
    const slot = keyHashSlot(keys[0]!);
    for (let i = 1; i < keys.length; i++) if (keyHashSlot(keys[i]!) !== slot) return CROSSSLOT;
    const view = this.node.routing();
    const routed = view.shardOfSlot(slot);
    if (routed === undefined) return CLUSTERDOWN;
    // A split's target takes its slots over before the routing table says so: its own log decides.
    const shardId = (view.splitTargets.length > 0 ? this.node.splitTargetOwning(slot) : undefined) ?? routed.id;
    const replica = this.node.replica(shardId);
    const command: KeyCommand = { request, spec, argv, isWrite, slot, shardId };
    // After READONLY a follower answers reads itself, possibly a little behind, as a Redis replica does;
    // but only a replica the table lists (one moved off this node hears no writes, yet runs on until it
    // learns of its removal), and not for a slot its own log gave away, whose keys it no longer holds.
    if (!isWrite && request.readonlyMode && replica !== undefined && this.listedHere(view, shardId, routed)) return this.readOwned(replica, command);
    if (shardId === routed.id && routed.leader !== this.node.selfId) {
      // No leader, or one this node's replica no longer hears (killed, cut off): a redirect would send the
      // client to a node that may not answer; wait for the election instead.
      if (request.leaderAwaited !== true && replica !== undefined && (routed.leader === null || this.node.leaderSilent(shardId))) return this.afterLeadershipChange(command);
      return this.redirected(command, this.redirect(view, slot, routed.leader));
    }
    if (replica === undefined) return CLUSTERDOWN;
    if (isWrite) {
      const held = this.node.holdWrite(shardId, slot);
      if (held.kind === 'held') return held.reply.then((reply) => this.redirected(command, reply, true));
      // NOT_OWNED: the shard's log gave the slot away (a split switched); the routing table follows.
      return this.node.write(shardId, argv, this.clock.now()).then(
        (reply) => (reply === NOT_OWNED ? this.redirected(command, this.node.movedAway(shardId, slot)) : reply),
        (err: unknown) => this.failed(command, view, err),
      );
    }
    return this.node.readBarrier(shardId).then(
      () => this.readOwned(replica, command),
      (err: unknown) => this.failed(command, view, err),
    );
  }

  /** Whether the table lists this node among the replicas of `shardId` (the routed shard or a split's target). */
  private listedHere(view: RoutingView, shardId: string, routed: RoutingShard): boolean {
    const shard = shardId === routed.id ? routed : view.splitTargets.find((t) => t.id === shardId);
    return this.node.selfId !== undefined && shard?.replicas.includes(this.node.selfId) === true;
  }

  /** A read served by `replica` if its log still owns the slot; otherwise where the slot went. */
  private readOwned(replica: ShardReplica, command: KeyCommand): Reply | Promise<Reply> {
    if (!replica.ownsSlot(command.slot)) return this.redirected(command, this.node.movedAway(command.shardId, command.slot));
    return replica.read(command.spec, command.argv, this.clock.now(), this.clock.random, command.request.protocol);
  }

  /** The answer when Raft could not complete the command: a wait for the leadership when that helps, else a redirect. */
  private failed(command: KeyCommand, view: RoutingView, err: unknown): Reply | Promise<Reply> {
    if (command.request.leaderAwaited !== true && this.awaitsLeader(err)) return this.afterLeadershipChange(command);
    return this.redirected(command, this.failure(err, view, command.slot));
  }

  /**
   * No leader to send the command to, as this node's replica sees it (an election, a transfer away from
   * here), and it never entered the log: route it again once the leadership settles, rather than have the
   * client retry a TRYAGAIN, which fails a pipeline.
   */
  private afterLeadershipChange(command: KeyCommand): Promise<Reply> {
    return this.node.leaderSettled(command.shardId).then(() => this.routeAgain(command));
  }

  private routeAgain(command: KeyCommand): Reply | Promise<Reply> {
    return this.dispatchKeyCommand({ ...command.request, leaderAwaited: true }, command.spec, command.argv);
  }

  /**
   * `reply` when it is no `-MOVED` or forward-decision.ts says to answer it; else the reply of the node
   * it names, which runs the command as a client's. When the forward could not be made, `reply` again,
   * unless the command may still wait for a leader (see `unreachable`).
   */
  private redirected(command: KeyCommand, reply: Reply, held = false): Reply | Promise<Reply> {
    if (reply.kind !== 'error' || !reply.message.startsWith('MOVED ')) return reply;
    const { request, argv } = command;
    const reason = forwardReason({ forwarded: request.forwarded, pipelined: request.pipelined, held, sinceRoutingChangeMs: this.clock.now() - this.node.routingChangedAtMs() });
    if (reason === undefined || forwardableBytes(argv) === undefined) return reply;
    const node = this.node.routing().nodeAt(reply.message.slice(reply.message.lastIndexOf(' ') + 1));
    if (node === undefined) return reply;
    this.observer?.onForward(reason);
    return this.node
      .forward(node, argv, request.protocol)
      .then((outcome) =>
        outcome.kind === 'not-sent' && request.leaderAwaited !== true ? this.unreachable(command, node) : forwardAnswer(outcome, reply, command.isWrite, UNCONFIRMED),
      );
  }

  /**
   * The node a forward was for could not be reached (killed, its link down) and the command never left
   * here: a redirect would send the client to a node that is gone. Route it again once this node's view
   * names another leader (at once if it already does).
   */
  private unreachable(command: KeyCommand, node: string): Reply | Promise<Reply> {
    return this.node.routing().shardOfSlot(command.slot)?.leader !== node ? this.routeAgain(command) : this.afterLeadershipChange(command);
  }

  /** Where a client goes for a slot whose leader is elsewhere, or when to come back while none is known. */
  private redirect(view: RoutingView, slot: number, leader: string | null): Reply {
    if (leader === null) return ELECTING;
    const address = view.address(leader);
    return address === undefined ? CLUSTERDOWN : error(`MOVED ${slot} ${address}`);
  }

  /** `err` is a refusal by this node's replica, which leads but is transferring its leadership. */
  private handingOver(err: unknown): boolean {
    return err instanceof RaftRequestError && err.reason === 'notLeader' && err.leaderId !== NONE && nodeIdOf(err.leaderId) === this.node.selfId;
  }

  /**
   * `err` says the command did not take effect and the shard's leadership is changing: refused during a
   * transfer away from here, refused or its read failed with no leader known, or its entry overwritten
   * by a new leader's ('dropped').
   */
  private awaitsLeader(err: unknown): boolean {
    if (!(err instanceof RaftRequestError)) return false;
    return this.handingOver(err) || err.reason === 'dropped' || (err.reason === 'notLeader' && err.leaderId === NONE);
  }

  /** The reply for a write or read that Raft could not complete. */
  private failure(err: unknown, view: RoutingView, slot: number): Reply {
    if (!(err instanceof RaftRequestError)) throw err;
    switch (err.reason) {
      case 'notLeader':
      case 'removed':
        if (this.handingOver(err)) return HANDING_OVER;
        return this.redirect(view, slot, err.leaderId === NONE ? null : nodeIdOf(err.leaderId));
      case 'dropped':
      case 'busy':
        return ELECTING;
      case 'timeout':
        return UNCONFIRMED;
    }
  }
}
