/**
 * A simulated Redis Cluster client: SET, GET, INCR and DEL on a few keys per shard, sent to the node it
 * believes leads the key's slot and served by that node's dispatcher, with the retries a cluster client
 * makes:
 * - a node that is down refuses the connection: nothing was sent, another replica is tried;
 * - `-MOVED slot node`: the command did not run; it goes to the node named (a new leader, or the shard
 *   a split moved the slot to), which the client remembers for the slot; a split's MOVED to a node that
 *   sends the client straight back fails the run;
 * - `-TRYAGAIN` (no leader, a proposal overwritten or refused, a split handing the slot over or rolled
 *   back) and `-CLUSTERDOWN`: it did not run either; sent again after a short backoff, to the slot's
 *   leader in the routing table (a client refreshing its slot map);
 * - `-ERR ... not confirmed` (a timeout), or a crash of the node while the command was in flight, leaves
 *   the outcome unknown: the client records it so and moves on (a retry could apply a write twice).
 * Every command that may have run is recorded for the linearizability checker, from its first send to
 * the answer, in virtual ms; one that never ran (every attempt refused, then the client gave up) is
 * left out, as the checker requires.
 */
import { keyHashSlot } from '../../src/common/slots.js';
import { resolveCommand } from '../../src/commands/table.js';
import type { Reply } from '../../src/resp/reply.js';
import { describeReply } from './cluster-checker.js';
import type { RegisterInput, RegisterOperation, RegisterOutput } from './linearizability.js';
import type { Scheduler } from './scheduler.js';
import type { SimNode } from './sim-node.js';

/** The keys clients use in one shard's slots at the start: registers get SET/GET/DEL, counters INCR/GET. */
export interface ShardKeys {
  readonly shardId: string;
  readonly registers: readonly string[];
  readonly counters: readonly string[];
}

/** What a client needs from the simulation. */
export interface ClientEnv {
  readonly scheduler: Scheduler;
  readonly keys: readonly ShardKeys[];
  /** The node named so, if it is up. */
  liveNode(name: string): SimNode | undefined;
  /** Every node name, to try when the shard's replicas do not answer. */
  nodeNames(): readonly string[];
  /** The leader and replicas of the shard serving `slot` in the pilot's routing table (what CLUSTER SLOTS would say). */
  routeOfSlot(slot: number): { readonly leader: string | null; readonly replicas: readonly string[] };
  /** The clients' keys in the slots a split under way moves (a hot range is what gets split), if any. */
  movingKeys(): ShardKeys | undefined;
  record(op: RegisterOperation): void;
  fail(message: string): void;
  trace(line: string): void;
}

/** Limits and pacing of a client. */
export interface ClientOptions {
  /** One-way delay between client and node, uniform in [0, linkDelayMsMax]. */
  readonly linkDelayMsMax: number;
  /** Pause between two commands, uniform in [0, thinkMsMax]. */
  readonly thinkMsMax: number;
  /** Wait before retrying after TRYAGAIN or a refused connection, uniform in [min, max]. */
  readonly retryBackoffMsMin: number;
  readonly retryBackoffMsMax: number;
  /** Most attempts of one command before the client gives up on it. */
  readonly attemptsMax: number;
  /** Longest one command is retried (from its first send) before the client gives up on it. */
  readonly retryMsMax: number;
}

/** How one command ended for the client. */
export type CommandOutcome =
  | { readonly kind: 'reply'; readonly reply: Reply }
  | { readonly kind: 'unknown' }
  /** Every attempt was refused (so it never ran), until the client's limits ran out. */
  | { readonly kind: 'gaveUp' };

/** What clients did, summed over a run. */
export interface ClientCounters {
  ok: number;
  unknown: number;
  gaveUp: number;
  redirects: number;
  retries: number;
}

type Operation = RegisterInput['kind'];

/** Of the commands issued while a split is under way, the share that goes to the keys it moves. */
const MOVING_KEYS_SHARE = 0.5;

export class SimClient {
  /** Whether a command is in flight, and since when. */
  busySinceMs: number | undefined;
  private running = false;
  private seq = 0;
  /** The node this client was last sent to for a slot (MOVED) or last answered by. */
  private readonly slotHint = new Map<number, string>();

  constructor(
    readonly id: number | string,
    private readonly env: ClientEnv,
    private readonly random: () => number,
    private readonly options: ClientOptions,
    private readonly counters: ClientCounters,
  ) {}

  /** Starts issuing commands one after another until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  /** Issues no new command; the one in flight finishes. */
  stop(): void {
    this.running = false;
  }

  get idle(): boolean {
    return this.busySinceMs === undefined;
  }

  /**
   * Runs one command on `key` and records it unless it never ran. `operation` picks the command; SET
   * writes a value unique to this client.
   */
  async run(key: string, operation: Operation): Promise<CommandOutcome> {
    const input = this.inputFor(operation);
    const argv = argvFor(key, input);
    const resolved = resolveCommand(argv);
    if ('error' in resolved) throw new Error(`client ${this.id}: ${describeReply(resolved.error)}`);
    const isWrite = resolved.spec.flags.includes('write');
    const callMs = this.env.scheduler.now();
    this.busySinceMs = callMs;
    try {
      const outcome = await this.execute(keyHashSlot(Buffer.from(key)), argv, isWrite);
      if (outcome.kind === 'gaveUp') {
        this.counters.gaveUp++;
        return outcome;
      }
      const returnMs = outcome.kind === 'unknown' ? Number.POSITIVE_INFINITY : this.env.scheduler.now();
      const output: RegisterOutput = outcome.kind === 'unknown' ? 'unknown' : this.outputOf(key, input, outcome.reply);
      if (outcome.kind === 'unknown') this.counters.unknown++;
      else this.counters.ok++;
      this.env.record({ clientId: this.id, key, callMs, returnMs, input, output });
      this.env.trace(`client ${this.id} ${describeInput(input)} ${key} → ${outcome.kind === 'unknown' ? 'unknown' : describeReply(outcome.reply)}`);
      return outcome;
    } finally {
      this.busySinceMs = undefined;
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const moving = this.env.movingKeys();
      const shard = moving !== undefined && this.random() < MOVING_KEYS_SHARE ? moving : this.env.keys[Math.floor(this.random() * this.env.keys.length)]!;
      const counter = shard.counters.length > 0 && (shard.registers.length === 0 || this.random() < 0.3);
      const keys = counter ? shard.counters : shard.registers;
      const key = keys[Math.floor(this.random() * keys.length)]!;
      const roll = this.random();
      const operation: Operation = counter ? (roll < 0.6 ? 'incr' : 'get') : roll < 0.45 ? 'set' : roll < 0.85 ? 'get' : 'del';
      await this.run(key, operation);
      await this.env.scheduler.sleep(Math.floor(this.random() * (this.options.thinkMsMax + 1)));
    }
  }

  /** Sends the command until it is answered, its outcome is unknown, or the limits run out. */
  private async execute(slot: number, argv: readonly Buffer[], isWrite: boolean): Promise<CommandOutcome> {
    const { scheduler } = this.env;
    const startMs = scheduler.now();
    let target = this.slotHint.get(slot) ?? this.env.routeOfSlot(slot).leader ?? this.anyNode(slot, undefined);
    /** Per node that answered this request with a split's MOVED, the node it named. */
    const splitMovedBy = new Map<string, string>();
    for (let attempt = 0; attempt < this.options.attemptsMax && scheduler.now() - startMs <= this.options.retryMsMax; attempt++) {
      if (attempt > 0) this.counters.retries++;
      await scheduler.sleep(this.linkDelayMs());
      const node = this.env.liveNode(target);
      if (node === undefined) {
        // Connection refused: nothing was sent.
        target = this.anyNode(slot, target);
        await scheduler.sleep(this.backoffMs());
        continue;
      }
      this.env.trace(`client ${this.id} → ${target}: ${argv.map((a) => a.toString('latin1')).join(' ')}`);
      const outcome = await node.serve(argv, isWrite);
      await scheduler.sleep(this.linkDelayMs());
      if (outcome.kind === 'crashed') {
        this.slotHint.delete(slot);
        return { kind: 'unknown' };
      }
      const reply = outcome.reply;
      const message = reply.kind === 'error' ? reply.message : '';
      if (message !== '') this.env.trace(`client ${this.id} ← ${target}: ${message}`);
      if (message.startsWith('MOVED ')) {
        // `MOVED slot host:port`: the simulated nodes' host is their name.
        const named = message.split(' ')[2]!.split(':')[0]!;
        this.counters.redirects++;
        // A split hands a slot over without the nodes sending a client to and fro: it would spend the
        // redirects a real client allows (16 in ioredis and node-redis) and surface an error.
        if (splitMovedBy.get(named) === target) this.env.fail(`client ${this.id}: ${named} sent slot ${slot} to ${target} by a split's MOVED, and ${target} sent it back`);
        if (node.isSplitRedirect(reply)) splitMovedBy.set(target, named);
        this.slotHint.set(slot, named);
        if (named !== target) {
          target = named;
          continue;
        }
      } else if (message.startsWith('TRYAGAIN') || message.startsWith('CLUSTERDOWN')) {
        this.slotHint.delete(slot);
        target = this.env.routeOfSlot(slot).leader ?? this.anyNode(slot, target);
      } else if (message.startsWith('ERR the write was not confirmed')) {
        this.slotHint.delete(slot);
        return { kind: 'unknown' };
      } else {
        this.slotHint.set(slot, target);
        return outcome;
      }
      await scheduler.sleep(this.backoffMs());
    }
    return { kind: 'gaveUp' };
  }

  /** Another node to try: a replica of the slot's shard other than `not` when one exists, else any node. */
  private anyNode(slot: number, not: string | undefined): string {
    const replicas = this.env.routeOfSlot(slot).replicas.filter((n) => n !== not);
    const pool = replicas.length > 0 ? replicas : this.env.nodeNames().filter((n) => n !== not);
    return pool[Math.floor(this.random() * pool.length)] ?? not!;
  }

  private inputFor(operation: Operation): RegisterInput {
    switch (operation) {
      case 'set':
        return { kind: 'set', value: `c${this.id}.${++this.seq}` };
      case 'incrby':
        return { kind: 'incrby', delta: 1 };
      default:
        return { kind: operation };
    }
  }

  /** The history's output for a reply; an answer no correct node gives fails the run. */
  private outputOf(key: string, input: RegisterInput, reply: Reply): RegisterOutput {
    const unexpected = (): RegisterOutput => {
      this.env.fail(`client ${this.id}: ${describeInput(input)} ${key} got the unexpected reply ${describeReply(reply)}`);
      return 'unknown';
    };
    switch (input.kind) {
      case 'set':
        return reply.kind === 'simple' && reply.value === 'OK' ? 'ok' : unexpected();
      case 'get':
        if (reply.kind === 'null') return null;
        if (reply.kind === 'bulk') return typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1');
        return unexpected();
      case 'del':
        return reply.kind === 'int' && (reply.value === 0 || reply.value === 1) ? reply.value : unexpected();
      case 'incr':
      case 'incrby':
        if (reply.kind === 'int') return reply.value;
        return reply.kind === 'error' && reply.message.startsWith('ERR value is not an integer') ? 'error' : unexpected();
    }
  }

  private linkDelayMs(): number {
    return Math.floor(this.random() * (this.options.linkDelayMsMax + 1));
  }

  private backoffMs(): number {
    const { retryBackoffMsMin: min, retryBackoffMsMax: max } = this.options;
    return min + Math.floor(this.random() * (max - min + 1));
  }
}

/** The RESP command for an operation. */
function argvFor(key: string, input: RegisterInput): Buffer[] {
  switch (input.kind) {
    case 'set':
      return [Buffer.from('SET'), Buffer.from(key), Buffer.from(input.value)];
    case 'get':
      return [Buffer.from('GET'), Buffer.from(key)];
    case 'del':
      return [Buffer.from('DEL'), Buffer.from(key)];
    case 'incr':
      return [Buffer.from('INCR'), Buffer.from(key)];
    case 'incrby':
      return [Buffer.from('INCRBY'), Buffer.from(key), Buffer.from(String(input.delta))];
  }
}

function describeInput(input: RegisterInput): string {
  return input.kind === 'set' ? `set ${JSON.stringify(input.value)}` : input.kind;
}
