/**
 * The cluster secret, required of the pilot and of every node (from a file or the environment, see
 * secret-flags.ts). `cleave local` keeps one of its own in its data dir.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../common/errors.js';
import { CLUSTER_SECRET, fileFlag } from './secret-flags.js';

/** The file under `cleave local`'s data dir holding the secret it generated. */
export const LOCAL_CLUSTER_SECRET_FILE = 'cluster-secret';
const CLUSTER_SECRET_BYTES = 32;
/** Owner read and write only: the file is a credential. */
const SECRET_FILE_MODE = 0o600;

/** The cluster secret `role` was given (see withSecretFile), or a UsageError naming where to give it. */
export function requireClusterSecret(role: string, secret: string | undefined): string {
  if (secret === undefined || secret.trim() === '') {
    throw new UsageError(`${role} needs a cluster secret shared by the pilot and every node: set ${CLUSTER_SECRET.env} or give ${fileFlag(CLUSTER_SECRET)} <path>`);
  }
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
