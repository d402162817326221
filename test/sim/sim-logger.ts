/**
 * The logger of a simulated process (a node or a pilot replica): its lines go to the simulation's trace
 * while the incarnation runs, and an error that says the code is wrong (a TypeError, say) fails the run.
 */
import type { Logger } from '../../src/common/logger.js';

/** Errors that say the code is wrong, not that the cluster misbehaved: a process logging one fails the run. */
const BUG_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

/** What a simulated process's logger writes to. */
export interface SimLogTarget {
  /** The process's name, first on each line. */
  readonly name: string;
  /** Whether this incarnation still runs: a dead one logs nothing. */
  alive(): boolean;
  trace(line: string): void;
  fail(message: string): void;
  /** Hears every message logged (the simulation counts some). */
  onMessage?(message: string): void;
}

export function simLogger(target: SimLogTarget): Logger {
  const log =
    (level: string) =>
    (fields: Record<string, unknown>, message?: string): void => {
      if (!target.alive()) return;
      const err = fields['err'];
      if (BUG_ERRORS.some((kind) => err instanceof kind)) target.fail(`${target.name}: ${message ?? ''}: ${(err as Error).stack}`);
      if (message !== undefined) target.onMessage?.(message);
      const { err: _err, ...rest } = fields;
      target.trace(
        `${target.name} ${level} ${message ?? ''} ${JSON.stringify(rest, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))}${err instanceof Error ? ` (${err.message})` : ''}`,
      );
    };
  const logger: Record<string, unknown> = { info: log('info'), warn: log('warn'), error: log('error'), fatal: log('fatal'), debug: () => {}, trace: () => {} };
  logger['child'] = () => logger;
  return logger as unknown as Logger;
}
