/**
 * What the `npm run bench:*` scripts share: running redis-benchmark, medians, the machine's facts, appending
 * a section to docs/BENCHMARKS.md, and cleaning up processes and temp dirs however the script ends.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Exits with code 2 and the Debian package to install when `command` is not on PATH. */
export function requireCommand(command: string, debianPackage: string, script: string): void {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) {
    console.error(`${script} needs ${command}: apt-get install -y ${debianPackage}`);
    process.exit(2);
  }
}

export type RedisBenchmarkTest = 'set' | 'get';

export interface RedisBenchmarkRun {
  readonly port: number;
  readonly requests: number;
  readonly clients: number;
  readonly pipeline: number;
  /** Default both, in one invocation. */
  readonly tests?: readonly RedisBenchmarkTest[];
  /** A run still going after this long is killed and reported as stuck. */
  readonly timeoutMs?: number;
}

/**
 * Runs `redis-benchmark --cluster` once; returns requests per second of each test. In cluster mode
 * redis-benchmark runs a thread per master and its main thread looks every 250 ms whether they are
 * done, so a test's duration is counted in 250 ms steps: a short run reports a rate below the real one.
 */
export async function redisBenchmark(run: RedisBenchmarkRun): Promise<Record<RedisBenchmarkTest, number>> {
  const tests = run.tests ?? ['set', 'get'];
  const args = ['--cluster', '-p', String(run.port), '-t', tests.join(','), '-n', String(run.requests), '-c', String(run.clients), '-P', String(run.pipeline), '-q'];
  const timeoutMs = run.timeoutMs ?? 600_000;
  // Asynchronous, so that a signal arriving meanwhile still runs the cleanup.
  const { status, stdout, stderr } = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let [out, err] = ['', ''];
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-benchmark ${args.join(' ')} was still running after ${timeoutMs / 1000} s; killed it. Output so far:\n${out.slice(-2000)}${err.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout: out, stderr: err });
    });
  });
  // -q prints each test's final figure after carriage-return progress lines.
  const rate = (name: string): number => Number(new RegExp(`${name}: ([\\d.]+) requests per second`).exec(stdout)?.[1] ?? NaN);
  const result = { set: NaN, get: NaN };
  for (const test of tests) result[test] = rate(test.toUpperCase());
  if (status !== 0 || tests.some((test) => Number.isNaN(result[test]))) {
    throw new Error(`redis-benchmark ${args.join(' ')} failed (${status}):\n${stdout}\n${stderr}`);
  }
  return result;
}

export interface MachineFacts {
  /** `nproc`: the CPUs this process may use. */
  readonly cpus: number;
  /** The first `model name` of /proc/cpuinfo. */
  readonly model: string;
  readonly memoryGiB: number;
  readonly node: string;
  /** ISO date (UTC) of the run. */
  readonly date: string;
  /** 1-minute load average when asked. */
  readonly load1: number;
}

export function machineFacts(): MachineFacts {
  const nproc = spawnSync('nproc', { encoding: 'utf8' });
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const meminfo = existsSync('/proc/meminfo') ? readFileSync('/proc/meminfo', 'utf8') : '';
  return {
    cpus: Number(nproc.stdout.trim()) || 0,
    model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU',
    memoryGiB: Math.round(Number(/^MemTotal:\s*(\d+) kB/m.exec(meminfo)?.[1] ?? 0) / 2 ** 20),
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
    load1: loadavg()[0]!,
  };
}

/** One line for a section's header: `2 × Intel(R) ..., 24 GiB, Node v20...`. */
export function machineSummary(facts: MachineFacts = machineFacts()): string {
  return `${facts.cpus} × ${facts.model}, ${facts.memoryGiB} GiB, Node ${facts.node}`;
}

/** The commit the benchmark runs, and whether the checkout differs from it: read when the run starts. */
export function buildDescription(): string {
  const git = (args: string[]): string => spawnSync('git', args, { encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git(['rev-parse', '--short', 'HEAD']) || 'an unknown commit';
  return git(['status', '--porcelain', '--untracked-files=no']) === '' ? `commit ${commit}` : `commit ${commit} with uncommitted changes`;
}

export const BENCHMARKS_FILE = join(process.cwd(), 'docs', 'BENCHMARKS.md');

/** Appends `section` to `file` (docs/BENCHMARKS.md by default), creating it with its preamble if missing. */
export function appendSection(section: string, file = BENCHMARKS_FILE): void {
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\nEvery figure here was measured by the command shown with it, on the machine named.\n\n');
  appendFileSync(file, `\n${section}`);
  console.log(`appended to ${file}`);
}

/**
 * The JSON (pino) lines of a process's log whose `msg` is `msg`, as objects; other lines (a stack trace,
 * a line cut short by a kill) are skipped. [] when the file is gone.
 */
export function logRecords(file: string, msg: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const records: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    // Cheap test first: a node's log can be long, and only a few lines matter.
    if (!line.includes(msg)) continue;
    try {
      const record = JSON.parse(line) as unknown;
      if (typeof record === 'object' && record !== null && (record as { msg?: unknown }).msg === msg) records.push(record as Record<string, unknown>);
    } catch {
      // Not JSON: not a log record.
    }
  }
  return records;
}

/** The value after a flag as a whole number ≥ 1, or exit 2 naming the flag. */
export function positiveIntFlag(script: string, flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || n < 1) {
    console.error(`${script}: ${flag} needs a whole number of at least 1, got '${value ?? ''}'`);
    process.exit(2);
  }
  return n;
}

// Processes and directories to remove however the script ends: the normal path stops them in order,
// and these sets catch what an exception or a signal left behind.
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const cleanups: (() => Promise<void>)[] = [];

/** Kills `child` with SIGKILL at exit if it is still running then. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Removes `dir` at exit. */
export function trackTempDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

/** Runs `stop` (once) on an error or a signal, if the script has not run it itself by then. */
export function onCleanup(stop: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = (): Promise<void> => (done ??= stop());
  cleanups.push(once);
  return once;
}

async function runCleanups(): Promise<void> {
  // Each with a bound, so that a hung stop cannot keep the script from exiting.
  await Promise.all(cleanups.map((stop) => Promise.race([stop().catch(() => undefined), new Promise<void>((r) => setTimeout(r, 15_000).unref())])));
}

function killAndRemoveSync(): void {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs `main`; on failure prints the error, and on failure or SIGINT/SIGTERM stops what `onCleanup`
 * registered, kills tracked processes and removes tracked directories before exiting.
 */
export function runScript(script: string, main: () => Promise<void>): void {
  process.once('exit', killAndRemoveSync);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    signalled = true;
    console.error(`\n${script}: ${signal}, stopping the clusters...`);
    void runCleanups().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // An error outside main's promise chain (an 'error' event nobody handled) still stops the clusters.
  const onStray = (error: unknown): void => {
    console.error(`${script}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    void runCleanups().finally(() => process.exit(1));
  };
  process.once('uncaughtException', onStray);
  process.once('unhandledRejection', onStray);
  main().then(
    async () => {
      await runCleanups();
      process.exit(0);
    },
    async (error: unknown) => {
      // Stopping the clusters under a running step fails that step: not worth reporting.
      if (signalled) return;
      console.error(`${script}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      await runCleanups();
      process.exit(1);
    },
  );
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)} s: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
