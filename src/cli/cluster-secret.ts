/**
 * Where the cluster secret comes from: the environment or a file, never the command line, where `ps`
 * would show it. `cleave local` keeps one of its own in its data dir.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../common/errors.js';

export const CLUSTER_SECRET_ENV = 'CLEAVE_CLUSTER_SECRET';
/** The file under `cleave local`'s data dir holding the secret it generated. */
export const LOCAL_CLUSTER_SECRET_FILE = 'cluster-secret';
const CLUSTER_SECRET_BYTES = 32;
/** Owner read and write only: the file is a credential. */
const SECRET_FILE_MODE = 0o600;

/**
 * The secret from `file` when given (its first line), else from the environment; a UsageError naming
 * both when neither has one.
 */
export function resolveClusterSecret(role: string, file: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the cluster secret from --cluster-secret-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const secret = text.split('\n')[0]!.trim();
    if (secret === '') throw new UsageError(`the cluster secret file ${file} is empty`);
    return secret;
  }
  const secret = env[CLUSTER_SECRET_ENV]?.trim() ?? '';
  if (secret === '') throw new UsageError(`${role} needs a cluster secret shared by the pilot and every node: set ${CLUSTER_SECRET_ENV} or give --cluster-secret-file <path>`);
  return secret;
}

/**
 * The path of `cleave local`'s secret file under `dataDir`, created with a fresh random secret on the
 * first start and kept (readable by its owner only) for every restart.
 */
export function ensureLocalClusterSecret(dataDir: string): string {
  const path = join(dataDir, LOCAL_CLUSTER_SECRET_FILE);
  try {
    writeFileSync(path, `${randomBytes(CLUSTER_SECRET_BYTES).toString('hex')}\n`, { mode: SECRET_FILE_MODE, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A copy restored with looser permissions is tightened again.
    if ((statSync(path).mode & 0o777) !== SECRET_FILE_MODE) chmodSync(path, SECRET_FILE_MODE);
  }
  return path;
}
