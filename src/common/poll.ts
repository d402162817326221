/**
 * Waiting for something outside this process (a port that opens, a cluster that serves, a task that
 * ends): ask, sleep, ask again, and give up with an error that names what was awaited.
 */
import { systemEnvironment, type Environment } from './environment.js';

export const POLL_INTERVAL_MS_DEFAULT = 100;

export interface PollOptions {
  /** What is awaited, as the error puts it: `timed out after 30 s waiting for ${what}`. */
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** More for the timeout error, read only when it is thrown: a process's log, say. */
  readonly detail?: () => string;
  /**
   * Asked before each check: why waiting can no longer help (a process it waits for is gone), or
   * undefined. A reason fails the poll at once.
   */
  readonly hopeless?: () => string | undefined;
  /** The clock and the sleep; the system's unless given. */
  readonly environment?: Pick<Environment, 'now' | 'sleep'>;
}

/** A poll that gave up: `what` it waited for and the check's last error, if it threw. */
export class PollTimeoutError extends Error {
  constructor(
    message: string,
    readonly what: string,
  ) {
    super(message);
    this.name = 'PollTimeoutError';
  }
}

/**
 * Resolves once `check` returns true; a check that throws counts as false, and its error goes into the
 * timeout's message. Checks at least once, even with a timeout of 0.
 */
export async function pollUntil(check: () => boolean | Promise<boolean>, options: PollOptions): Promise<void> {
  const env = options.environment ?? systemEnvironment();
  const deadline = env.now() + options.timeoutMs;
  let lastError = '';
  for (;;) {
    const reason = options.hopeless?.();
    if (reason !== undefined) throw new PollTimeoutError(`gave up waiting for ${options.what}: ${reason}${detailOf(options)}`, options.what);
    try {
      if (await check()) return;
    } catch (error) {
      lastError = ` (last error: ${(error as Error).message})`;
    }
    if (env.now() >= deadline) break;
    await env.sleep(options.intervalMs ?? POLL_INTERVAL_MS_DEFAULT);
  }
  throw new PollTimeoutError(`timed out after ${secondsOf(options.timeoutMs)} s waiting for ${options.what}${lastError}${detailOf(options)}`, options.what);
}

function secondsOf(ms: number): string {
  return ms % 1000 === 0 ? String(ms / 1000) : (ms / 1000).toFixed(1);
}

function detailOf(options: PollOptions): string {
  const detail = options.detail?.();
  return detail === undefined || detail === '' ? '' : `\n--- log ---\n${detail}`;
}
