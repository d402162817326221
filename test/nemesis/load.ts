/**
 * The nemesis's client load: several ioredis Cluster clients, each running one operation at a time —
 * GET, SET of a value unique to the run, INCR — on a bounded set of register and counter keys, recording
 * each operation in the history.
 *
 * The clients retry only what the cluster refused before applying it (MOVED, ASK, TRYAGAIN, CLUSTERDOWN)
 * and never resend a command whose connection dropped: a resent SET or INCR could apply twice, and the
 * history would blame the cluster for the client's retry.
 */
import { Cluster } from 'ioredis';
import { keyHashSlot } from '../../src/common/slots.js';
import { seededRandom } from '../support/seeded-random.js';
import type { History, Invocation } from './history.js';

/** An operation without an answer by then has an unknown outcome. */
export const OPERATION_TIMEOUT_MS = 5_000;
/** Pause after an error, so a client does not spin while its shard has no leader. */
const ERROR_PAUSE_MS = 50;
const REGISTER_KEYS = 24;
const COUNTER_KEYS = 8;

export const REGISTER_KEY_NAMES: readonly string[] = Array.from({ length: REGISTER_KEYS }, (_, i) => `nemesis:r${i}`);
export const COUNTER_KEY_NAMES: readonly string[] = Array.from({ length: COUNTER_KEYS }, (_, i) => `nemesis:c${i}`);

/** A cluster client that follows redirects and elections but never resends a command it may have applied. */
export function nemesisClient(startupNodes: readonly { host: string; port: number }[]): Cluster {
  const client = new Cluster([...startupNodes], {
    scaleReads: 'master',
    maxRedirections: 50,
    // 0: a command whose connection closed is not sent again (it may have applied).
    retryDelayOnFailover: 0,
    retryDelayOnTryAgain: 50,
    retryDelayOnClusterDown: 100,
    retryDelayOnMoved: 0,
    slotsRefreshTimeout: 1000,
    redisOptions: { connectTimeout: 1000, maxRetriesPerRequest: 1, autoResendUnfulfilledCommands: false },
  });
  // Slot refreshes fail while nodes are down; the operations report their own errors.
  client.on('error', () => undefined);
  return client;
}

/**
 * Whether an error proves the command was not applied: a redirect, an election or a moving slot answered
 * before applying, ending in a refusal or too many redirections.
 */
export function refusedWithoutEffect(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(message) || /^Too many Cluster redirections\. Last error: ReplyError: (MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(message);
}

export class Load {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly clients: Cluster[] = [];

  constructor(
    private readonly history: History,
    startupNodes: readonly { host: string; port: number }[],
    clientCount: number,
    seed: number,
  ) {
    for (let id = 0; id < clientCount; id++) {
      const client = nemesisClient(startupNodes);
      this.clients.push(client);
      this.loops.push(this.loop(id, client, seededRandom(seed * 1000 + id)));
    }
  }

  private async loop(clientId: number, client: Cluster, random: () => number): Promise<void> {
    let sequence = 0;
    const pick = (keys: readonly string[]): string => keys[Math.floor(random() * keys.length)]!;
    while (this.running) {
      const draw = random();
      let invocation: Invocation;
      let send: () => Promise<unknown>;
      if (draw < 0.3) {
        const key = pick(REGISTER_KEY_NAMES);
        invocation = this.history.invoke(clientId, key, { kind: 'get' });
        send = () => client.get(key);
      } else if (draw < 0.45) {
        const key = pick(COUNTER_KEY_NAMES);
        invocation = this.history.invoke(clientId, key, { kind: 'get' });
        send = () => client.get(key);
      } else if (draw < 0.8) {
        const key = pick(REGISTER_KEY_NAMES);
        const value = `${clientId}-${++sequence}`;
        invocation = this.history.invoke(clientId, key, { kind: 'set', value });
        send = () => client.set(key, value);
      } else {
        const key = pick(COUNTER_KEY_NAMES);
        invocation = this.history.invoke(clientId, key, { kind: 'incr' });
        send = () => client.incr(key);
      }
      if (!(await this.run(invocation, send, () => client.slots[keyHashSlot(Buffer.from(invocation.key))]?.[0]))) await new Promise((r) => setTimeout(r, ERROR_PAUSE_MS));
    }
  }

  /** Sends one operation and records its outcome; false when it did not succeed. */
  private async run(invocation: Invocation, send: () => Promise<unknown>, master: () => string | undefined): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), OPERATION_TIMEOUT_MS)));
    try {
      const reply = await Promise.race([send(), timeout]);
      switch (invocation.input.kind) {
        case 'get':
          this.history.ok(invocation, reply === null ? null : String(reply), master());
          break;
        case 'set':
          if (reply !== 'OK') throw new Error(`SET answered ${String(reply)}`);
          this.history.ok(invocation, 'ok', master());
          break;
        default:
          this.history.ok(invocation, Number(reply), master());
      }
      return true;
    } catch (err) {
      if (refusedWithoutEffect(err)) this.history.fail(invocation);
      else this.history.unknown(invocation, master());
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every client after its current operation (each bounded by the operation timeout). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const client of this.clients) client.disconnect();
  }
}
