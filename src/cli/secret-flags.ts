/**
 * Secrets a command takes from a file (`--<name>-file <path>`) or from the environment, never from its
 * command line, where `ps` shows them to every user of the machine. The old `--<name> <value>` flags
 * remain, hidden, only to say where the secret goes instead.
 */
import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../common/errors.js';

export interface SecretFlag {
  /** The flag that once took the secret itself; `<flag>-file` takes the path of a file holding it. */
  readonly flag: string;
  /** The environment variable that holds the secret when no file is given. */
  readonly env: string;
  /** What the secret is, in help texts and errors. */
  readonly what: string;
}

export const REQUIREPASS: SecretFlag = { flag: '--requirepass', env: 'CLEAVE_REQUIREPASS', what: 'the client password' };
export const ADMIN_TOKEN: SecretFlag = { flag: '--admin-token', env: 'CLEAVE_ADMIN_TOKEN', what: 'the admin token' };
export const CLUSTER_SECRET: SecretFlag = { flag: '--cluster-secret', env: 'CLEAVE_CLUSTER_SECRET', what: 'the cluster secret' };

export function fileFlag(secret: SecretFlag): string {
  return `${secret.flag}-file`;
}

/**
 * Adds `<flag>-file <path>` to `command`, and `<flag> <value>`, hidden from --help, refused with where the
 * secret goes instead. Before the action runs, the secret is read once, from the file or the environment,
 * into the option value named after `<flag>` (e.g. `requirepass`); undefined when neither holds one.
 */
export function withSecretFile(command: Command, secret: SecretFlag): Command {
  const file = new Option(`${fileFlag(secret)} <path>`, `file holding ${secret.what} (or env ${secret.env})`);
  const refused = new Option(`${secret.flag} <value>`).hideHelp().argParser(() => {
    throw new UsageError(`${secret.flag} takes no value: a command line is visible to every user of the machine; set ${secret.env} or give ${fileFlag(secret)} <path>`);
  });
  return command
    .addOption(file)
    .addOption(refused)
    .hook('preAction', (hooked) => {
      hooked.setOptionValue(refused.attributeName(), resolveSecret(secret, hooked.getOptionValue(file.attributeName()) as string | undefined));
    });
}

/** The secret from the file at `path` when given, else from the environment; undefined when neither holds one. */
export function resolveSecret(secret: SecretFlag, path: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (path !== undefined) return readSecretFile(secret, path);
  const value = env[secret.env];
  return value === '' ? undefined : value;
}

/** The file's content less one trailing newline: one line, not empty, or a UsageError. */
function readSecretFile(secret: SecretFlag, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${secret.what} from ${fileFlag(secret)} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new UsageError(`${fileFlag(secret)} ${path} is empty`);
  if (/[\r\n]/.test(value)) throw new UsageError(`${fileFlag(secret)} ${path} holds more than one line; a secret is one line`);
  return value;
}
