/**
 * One process of a local cluster (a pilot replica, a node; or any command, as the benchmarks' etcd):
 * started, killed (-9 included) and started again on its own, its output in a log file or, without one,
 * its last LOG_TAIL_BYTES kept in memory. Secrets reach it through its environment, never its command
 * line, which any user of the machine can read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI every pilot and node runs. */
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** What `log` returns at most: enough for a failure message. */
export const LOG_TAIL_BYTES = 20_000;
/** How long a process may take to exit on a polite signal before it gets SIGKILL. */
export const STOP_GRACE_MS = 10_000;

export interface ClusterProcessOptions {
  /** Variables added to this process's environment; one set to undefined is removed. */
  readonly env: Readonly<NodeJS.ProcessEnv>;
  /** Appended to, if given; else the output is kept in memory. */
  readonly logFile?: string;
  /** The executable; when absent, node runs the CLI (CLI_MAIN) with `args`. */
  readonly command?: string;
  /** node's own flags, before the CLI's path (--inspect, --max-old-space-size=...). */
  readonly execArgv?: readonly string[];
  /** Told of every child spawned, restarts included (the benchmarks kill leftovers at exit). */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** Told when the process exits without `kill` having been asked. */
  readonly onCrash?: (process: ClusterProcess) => void;
}

export class ClusterProcess {
  child: ChildProcess | undefined;
  private output = '';
  private spawnFailed = false;
  /** Whether the last exit was asked for by `kill`. */
  private killed = false;

  constructor(
    readonly name: string,
    /** Its arguments: the CLI's (`node --port ...`), or the command's. */
    readonly args: readonly string[],
    private readonly options: ClusterProcessOptions,
  ) {}

  start(): void {
    this.output = '';
    this.spawnFailed = false;
    this.killed = false;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [name, value] of Object.entries(this.options.env)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    const [command, ...args] = this.argv();
    const { logFile } = this.options;
    const log = logFile === undefined ? undefined : openSync(logFile, 'a');
    const child = spawn(command!, args, { stdio: log === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', log, log], env });
    if (log !== undefined) closeSync(log);
    const keep = (d: Buffer): void => void (this.output = (this.output + d.toString()).slice(-LOG_TAIL_BYTES));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // A process that could not be started counts as exited; a wait for it then says so.
    child.once('error', (err) => {
      this.spawnFailed = true;
      this.output += `\ncould not start ${command}: ${err.message}`;
    });
    child.once('exit', () => {
      if (!this.killed && this.child === child) this.options.onCrash?.(this);
    });
    this.child = child;
    this.options.onSpawn?.(child);
  }

  get running(): boolean {
    return this.child !== undefined && !this.spawnFailed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How the process ended ('SIGKILL', 'code 2'), or undefined while it runs or before it started. */
  get exit(): string | undefined {
    const child = this.child;
    if (child === undefined || this.running) return undefined;
    return this.spawnFailed ? 'could not start' : (child.signalCode ?? `code ${child.exitCode}`);
  }

  /** Whether it exited without `kill` having been asked. */
  get crashed(): boolean {
    return this.exit !== undefined && !this.killed;
  }

  /** Where its output goes, if to a file. */
  get logFile(): string | undefined {
    return this.options.logFile;
  }

  /** What the process printed last (at most LOG_TAIL_BYTES), for failure messages. */
  get log(): string {
    if (this.options.logFile === undefined) return this.output;
    try {
      return readFileSync(this.options.logFile, 'utf8').slice(-LOG_TAIL_BYTES);
    } catch {
      return '(no log)';
    }
  }

  /** Sends `signal`; resolves once the process has exited, sending SIGKILL after `graceMs` if it lingers. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = STOP_GRACE_MS): Promise<void> {
    const child = this.child;
    this.killed = true;
    if (child === undefined || !this.running) return;
    await new Promise<void>((resolve) => {
      const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(signal);
    });
  }

  private argv(): string[] {
    const { command, execArgv = [] } = this.options;
    return command === undefined ? [process.execPath, ...execArgv, CLI_MAIN, ...this.args] : [command, ...this.args];
  }
}
