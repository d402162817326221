/**
 * Golden traces of the split's source driver, in the style of etcd raft's testdata: each file under
 * test/split/testdata/ is a script of directives, each followed by `----` and what it produced, and
 * the test runs the script against the driver over a scripted fake node (test/support/split-source-harness.ts)
 * and compares every output with the file. `UPDATE_GOLDEN=1 npm test -- split/golden` rewrites the files
 * from what the driver does now, so a change of behaviour is reviewed as a diff of the traces.
 *
 * A trace line is `@<virtual ms> <what>`: every call the driver makes that acts on or asks the world —
 * read barriers, stable reads, proposals, log retention, requests to the target (with the answer), reports
 * to the pilot (with the answer), sleeps, redirects of held writes — and the answers held client writes
 * get. Pure queries of its own replica and log (leadership, term, indexes, committed entries) and the
 * metrics it feeds are not traced.
 *
 * Directives:
 *   setup keys=N [chunk-bytes=B] [threshold=T] [target-timeout-ms=M] [buffer-timeout-ms=M]
 *                                  a source holding N keys in the moving range
 *   start                          a driver starts for the task, in the current term
 *   run [until="TEXT"] [for=MS]    runs virtual time until a trace line contains TEXT, the driver ends,
 *                                  nothing is left to run, or MS (default 120000) have passed
 *   write n=N [bytes=B]            N client writes of B-byte values to the moving range: proposed, or
 *                                  held by the buffer
 *   leader lose | leader elect     this node stops leading the source | leads it in the next term
 *   target notLeader for=MS        the target's replicas answer notLeader for MS
 *   pilot cancel | pilot lose n=N | pilot stale n=N
 *                                  the pilot asks for a cancel | loses its next N answers | answers its
 *                                  next N reports with the status it recorded before, not the reported one
 *   state                          the source's and the target's split state, owned range and keys
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SplitParams } from '../../src/common/routing.js';
import { keyHashSlot } from '../../src/common/slots.js';
import { error, type Reply } from '../../src/resp/reply.js';
import type { ShardCommand } from '../../src/shard/shard-command.js';
import type { ShardReplica } from '../../src/shard/shard-replica.js';
import { decodeSlotKey } from '../../src/storage/key-encoding.js';
import type { SplitStatus } from '../../src/split/phases.js';
import type { SplitSourceHost } from '../../src/split/split-source.js';
import { SPLIT_PARAMS_DEFAULT, type SplitReport, type SplitReportResponse, type TargetAnswer } from '../../src/split/types.js';
import { SOURCE, SPLIT_SLOT, SplitSourceHarness } from '../support/split-source-harness.js';

const TESTDATA_DIR = join(process.cwd(), 'test', 'split', 'testdata');
/** Longest a `run` goes on without `for=`. */
const RUN_MS_DEFAULT = 120_000;
const OVERFLOW = error('TRYAGAIN buffer full');

interface Block {
  /** Comment lines above the directive, kept as they are. */
  readonly comments: readonly string[];
  readonly directive: string;
  readonly expected: readonly string[];
}

/** The blocks of a golden file: comment lines, a directive, `----`, and its output up to a blank line. */
function parseGolden(text: string, file: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    assert.equal(lines[i + 1], '----', `${file}:${i + 2}: a directive is followed by ----`);
    const expected: string[] = [];
    for (i += 2; i < lines.length && lines[i] !== ''; i++) expected.push(lines[i]!);
    blocks.push({ comments, directive: line, expected });
    comments = [];
  }
  return blocks;
}

function formatGolden(blocks: readonly { comments: readonly string[]; directive: string; output: readonly string[] }[]): string {
  return `${blocks.map((b) => [...b.comments, b.directive, '----', ...b.output].join('\n')).join('\n\n')}\n`;
}

/** `name word key=value key="a value" ...` */
function parseDirective(line: string): { name: string; words: string[]; args: Map<string, string> } {
  const [name, ...rest] = line.trim().match(/[^\s"=]+="[^"]*"|\S+/g) ?? [];
  const words: string[] = [];
  const args = new Map<string, string>();
  for (const token of rest) {
    const eq = token.indexOf('=');
    if (eq < 0) words.push(token);
    else args.set(token.slice(0, eq), token.slice(eq + 1).replace(/^"(.*)"$/, '$1'));
  }
  return { name: name!, words, args };
}

function intArg(args: Map<string, string>, key: string, fallback?: number): number {
  const value = args.get(key);
  if (value === undefined) {
    if (fallback === undefined) throw new Error(`missing ${key}=`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`${key}=${value} is not an integer`);
  return n;
}

const keyOf = (cursor: Uint8Array | null): string => (cursor === null ? 'none' : decodeSlotKey(cursor).key.toString());

function describeCommand(command: ShardCommand | null): string {
  if (command === null) return 'probe';
  switch (command.kind) {
    case 'split-begin':
      return `split-begin slots=[${command.splitSlot},${command.end}) target=${command.target}`;
    case 'split-commit':
      return 'split-commit';
    case 'split-abort':
      return `split-abort reason="${command.reason}"`;
    case 'split-cleanup':
      return `split-cleanup keys=${command.keys.length}`;
    case 'split-reset':
      return `split-reset attempt=${command.attempt} snapshot-index=${command.snapshotIndex}`;
    case 'split-ingest':
      return `split-ingest attempt=${command.attempt} cursor=${keyOf(command.cursor)} keys=${command.entries.length / 2} next=${keyOf(command.next)}`;
    case 'split-forward':
      return `split-forward entries=[${command.entries.map((e) => e.index).join(',')}] through=${command.throughIndex}`;
    case 'split-handoff':
      return `split-handoff from=${command.fromIndex} final=${command.finalIndex} entries=[${command.entries.map((e) => e.index).join(',')}]`;
    default:
      return command.kind;
  }
}

function describeAnswer(answer: TargetAnswer): string {
  if (answer.kind === 'notLeader') return 'notLeader';
  if (answer.kind === 'unreachable') return `unreachable (${answer.reason})`;
  return `ok ${describeState(answer.state, answer.owned)}`;
}

function describeReplica(replica: ShardReplica): string {
  return `${describeState(replica.splitState(), replica.ownedRange())} keys=${replica.data.keyCount}`;
}

function describeState(state: ReturnType<ShardReplica['splitState']>, owned: ReturnType<ShardReplica['ownedRange']>): string {
  const range = owned === null ? 'owns=routing' : `owns=[${owned.start},${owned.end})`;
  if (state === null) return `no-split ${range}`;
  if (state.role === 'source') return `source ${state.phase} commit-index=${state.commitIndex} ${range}`;
  const snapshot = state.snapshotDone ? 'snapshot-done' : `next=${keyOf(state.nextCursor)}`;
  return `target attempt=${state.attempt} snapshot-index=${state.snapshotIndex} ${snapshot} applied=${state.lastSourceIndex}${state.handedOff ? ' handed-off' : ''} ${range}`;
}

function describeReport(report: SplitReport): string {
  const p = report.progress;
  const slot = report.split_slot === undefined ? '' : ` slot=${report.split_slot}`;
  const reason = report.reason === undefined ? '' : ` reason="${report.reason}"`;
  return `report ${report.status}${slot}${reason} term=${report.term} sent=${p.snapshot_bytes_sent}/${p.snapshot_bytes_total} applied=${p.target_applied_index} delay=${p.delay} buffered=${p.buffered_requests}`;
}

function describeReply(reply: Reply): string {
  return reply.kind === 'error' ? reply.message : reply.kind;
}

/** One golden script's world: the harness, the trace, and what the script told the pilot to do. */
class GoldenRun {
  private harness: SplitSourceHarness | undefined;
  private out: string[] = [];
  private driverEnded = true;
  private writes = 0;
  private pilotLose = 0;
  private pilotStale = 0;
  private recorded: SplitStatus | undefined;

  async exec(line: string): Promise<string[]> {
    this.out = [];
    const { name, words, args } = parseDirective(line);
    switch (name) {
      case 'setup':
        this.setup(args);
        break;
      case 'start':
        this.start();
        break;
      case 'run':
        await this.run(args.get('until'), intArg(args, 'for', RUN_MS_DEFAULT));
        break;
      case 'write':
        this.write(intArg(args, 'n'), intArg(args, 'bytes', 1));
        break;
      case 'leader':
        this.leader(words[0]);
        break;
      case 'target':
        if (words[0] !== 'notLeader') throw new Error(`unknown: ${line}`);
        this.world.targetNotLeaderUntilMs = this.world.scheduler.now() + intArg(args, 'for');
        this.print(`the target answers notLeader until @${this.world.targetNotLeaderUntilMs}`);
        break;
      case 'pilot':
        this.pilot(words[0], args);
        break;
      case 'state':
        this.out.push(`source: ${describeReplica(this.world.source)}`);
        this.out.push(`target: ${describeReplica(this.world.target)}`);
        this.out.push(`pilot: ${this.recorded ?? 'nothing'}`);
        break;
      default:
        throw new Error(`unknown directive: ${line}`);
    }
    return this.out;
  }

  private get world(): SplitSourceHarness {
    if (this.harness === undefined) throw new Error('setup first');
    return this.harness;
  }

  private print(text: string): void {
    this.out.push(`@${this.world.scheduler.now()} ${text}`);
  }

  private setup(args: Map<string, string>): void {
    const params: SplitParams = {
      ...SPLIT_PARAMS_DEFAULT,
      snapshotChunkBytes: intArg(args, 'chunk-bytes', SPLIT_PARAMS_DEFAULT.snapshotChunkBytes),
      catchUpThreshold: intArg(args, 'threshold', SPLIT_PARAMS_DEFAULT.catchUpThreshold),
      targetTimeoutMs: intArg(args, 'target-timeout-ms', SPLIT_PARAMS_DEFAULT.targetTimeoutMs),
      bufferTimeoutMs: intArg(args, 'buffer-timeout-ms', SPLIT_PARAMS_DEFAULT.bufferTimeoutMs),
    };
    this.harness = new SplitSourceHarness(params);
    this.harness.pilot = (report) => this.pilotAnswer(report);
    this.harness.writeMoving(intArg(args, 'keys'));
    this.out.push(`source holds ${this.harness.source.data.keyCount} keys, log through ${this.harness.log.length}`);
  }

  private start(): void {
    assert(this.driverEnded, 'a driver is already running');
    this.driverEnded = false;
    this.print(`driver starts in term ${this.world.term}`);
    void this.world.startDriver(this.tracedHost()).then(() => {
      this.driverEnded = true;
      this.print('driver ended');
    });
  }

  private async run(until: string | undefined, forMs: number): Promise<void> {
    const scheduler = this.world.scheduler;
    const deadline = scheduler.now() + forMs;
    const seen = (): boolean => until !== undefined && this.out.some((l) => l.includes(until));
    await scheduler.runUntil(scheduler.now());
    while (!seen() && !this.driverEnded) {
      const next = scheduler.nextEventMs();
      if (next === undefined) {
        this.print('idle: nothing left to run');
        return;
      }
      if (next > deadline) {
        await scheduler.runUntil(deadline);
        return;
      }
      await scheduler.runUntil(next);
    }
  }

  /** Client writes to the moving range, held while the buffer holds writes, else proposed. */
  private write(count: number, valueBytes: number): void {
    for (let i = 0; i < count; i++) {
      const id = `w${++this.writes}`;
      const key = movingKey(id);
      const held = this.world.buffer.hold(SOURCE, keyHashSlot(Buffer.from(key)), this.world.scheduler.now(), OVERFLOW);
      if (held.kind === 'held') {
        this.print(`write ${id} held`);
        void held.reply.then((reply) => this.print(`write ${id} answered: ${describeReply(reply)}`));
        continue;
      }
      this.world.propose({ kind: 'command', nowMs: 1, argv: [Buffer.from('SET'), Buffer.from(key), Buffer.alloc(valueBytes, id)] });
      this.print(`write ${id} proposed at index ${this.world.log.length}`);
    }
  }

  private leader(what: string | undefined): void {
    if (what === 'lose') {
      this.world.leading = false;
      this.print(`this node no longer leads the source (term ${this.world.term})`);
    } else if (what === 'elect') {
      this.world.term++;
      this.world.leading = true;
      this.print(`this node leads the source in term ${this.world.term}`);
    } else throw new Error(`leader ${what}?`);
  }

  private pilot(what: string | undefined, args: Map<string, string>): void {
    if (what === 'cancel') {
      this.world.cancelRequested = true;
      this.print('the pilot records a cancel');
    } else if (what === 'lose') {
      this.pilotLose = intArg(args, 'n');
      this.print(`the pilot's next ${this.pilotLose} answers are lost`);
    } else if (what === 'stale') {
      this.pilotStale = intArg(args, 'n');
      this.print(`the pilot answers its next ${this.pilotStale} reports with the status it had`);
    } else throw new Error(`pilot ${what}?`);
  }

  /** The pilot records each report's status unless the script lost or refused it. */
  private pilotAnswer(report: SplitReport): SplitReportResponse | undefined {
    if (this.pilotLose > 0) {
      this.pilotLose--;
      return undefined;
    }
    if (this.pilotStale > 0) {
      this.pilotStale--;
      return { status: this.recorded ?? 'preparing', cancel_requested: this.world.cancelRequested };
    }
    this.recorded = report.status;
    return { status: report.status, cancel_requested: this.world.cancelRequested };
  }

  /** The harness's host, tracing each call that acts on or asks the world. */
  private tracedHost(): SplitSourceHost {
    const host = this.world.host();
    const traced = async <T>(what: string, call: () => Promise<T>, result: (value: T) => string): Promise<T> => {
      try {
        const value = await call();
        this.print(`${what}${result(value)}`);
        return value;
      } catch (err) {
        this.print(`${what} -> failed: ${(err as Error).message}`);
        throw err;
      }
    };
    return {
      ...host,
      readBarrier: (shardId) =>
        traced(
          'read-barrier',
          () => host.readBarrier(shardId),
          () => '',
        ),
      stableState: (shardId, open) =>
        traced(
          `stable-state`,
          () => host.stableState(shardId, open),
          () => ` at ${this.world.log.length}`,
        ),
      propose: (shardId, command) =>
        traced(
          `propose ${describeCommand(command)}`,
          () => host.propose(shardId, command),
          () => ` -> index ${this.world.log.length}`,
        ),
      retainLogFrom: (shardId, index) => {
        this.print(`retain-log-from ${index ?? 'none'}`);
        host.retainLogFrom(shardId, index);
      },
      sendToTarget: (target, command) =>
        traced(
          `send ${describeCommand(command)}`,
          () => host.sendToTarget(target, command),
          (answer) => ` -> ${describeAnswer(answer)}`,
        ),
      report: (report) =>
        traced(
          describeReport(report),
          () => host.report(report),
          (answer) => (answer === undefined ? ' -> lost' : ` -> ${answer.status}${answer.cancel_requested ? ' cancel-requested' : ''}`),
        ),
      movedToTarget: (target, slot) => {
        this.print(`moved-to-target slot=${slot}`);
        return host.movedToTarget(target, slot);
      },
      sleep: (ms) => {
        this.print(`sleep ${ms}`);
        return host.sleep(ms);
      },
    };
  }
}

/** A key in the moving range named after `id` (`id`, or `id.1`, `id.2`, ... until one lands there). */
function movingKey(id: string): string {
  for (let i = 0; ; i++) {
    const key = i === 0 ? id : `${id}.${i}`;
    if (keyHashSlot(Buffer.from(key)) >= SPLIT_SLOT) return key;
  }
}

async function runGolden(file: string): Promise<{ expected: string; actual: string }> {
  const path = join(TESTDATA_DIR, file);
  const expected = readFileSync(path, 'utf8');
  const world = new GoldenRun();
  const blocks = [];
  for (const block of parseGolden(expected, file)) blocks.push({ ...block, output: await world.exec(block.directive) });
  return { expected, actual: formatGolden(blocks) };
}

describe('split driver golden traces (test/split/testdata)', () => {
  const files = readdirSync(TESTDATA_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  it('has the scripts', () => assert.ok(files.length >= 5, `${files.length} scripts`));
  for (const file of files) {
    it(file, async () => {
      const { expected, actual } = await runGolden(file);
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(join(TESTDATA_DIR, file), actual);
      else assert.equal(actual, expected, `${file} differs from the driver's trace; UPDATE_GOLDEN=1 npm test -- split/golden rewrites it`);
    });
  }
});
