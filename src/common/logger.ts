import { pino, destination, type Logger } from 'pino';

/** Structured JSON logs on stderr; `CLEAVE_LOG_LEVEL` sets the level (default `info`). */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ name, level: process.env.CLEAVE_LOG_LEVEL ?? 'info', base: { pid: process.pid, ...bindings } }, destination(2));
}

export type { Logger };
