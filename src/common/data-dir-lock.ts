/**
 * One process per data dir: a `LOCK` file holding the owner's pid, created exclusively. Two nodes (or
 * pilots) on one dir would each drive the same Raft groups from their own memory and corrupt them. A lock
 * left by a process that died (kill -9) is taken over, since its pid no longer runs.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './errors.js';

export const DATA_DIR_LOCK_FILE = 'LOCK';
/** Attempts to create the lock: a stale one is removed between them; another process may race us once. */
const LOCK_ATTEMPTS_MAX = 3;

export interface DataDirLock {
  /** Removes the lock file; called once the process has closed what it opened under the dir. */
  release(): void;
}

/** Takes `dir` for this process, creating it if needed; throws UsageError naming the pid that holds it. */
export function lockDataDir(dir: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, DATA_DIR_LOCK_FILE);
  for (let attempt = 1; attempt <= LOCK_ATTEMPTS_MAX; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return { release: () => rmSync(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = lockHolder(path);
    if (holder !== undefined && holder !== process.pid && isRunning(holder)) {
      throw new UsageError(`data dir ${dir} is in use by process ${holder} (remove ${path} if that process is not cleave)`);
    }
    rmSync(path, { force: true });
  }
  throw new UsageError(`data dir ${dir}: could not take ${path}; another process keeps creating it`);
}

/** The pid a lock file names; undefined when it is unreadable or half-written. */
function lockHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
