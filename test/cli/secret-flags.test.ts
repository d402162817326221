/** Secrets from a file or the environment, never a command line: how the file is read, and the old flags refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../../src/common/errors.js';
import { REQUIREPASS, resolveSecret, withSecretFile } from '../../src/cli/secret-flags.js';

async function withFile(text: string, use: (path: string) => unknown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-secret-'));
  try {
    const path = join(dir, 'secret');
    writeFileSync(path, text);
    await use(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a command given REQUIREPASS sees as its `requirepass` once its flags are parsed. */
async function parsedRequirepass(args: readonly string[], env: Record<string, string>): Promise<string | undefined> {
  let seen: string | undefined = 'not run';
  const saved = process.env.CLEAVE_REQUIREPASS;
  Object.assign(process.env, env);
  try {
    const command = withSecretFile(new Command('node').exitOverride(), REQUIREPASS).action((flags: { requirepass?: string }) => {
      seen = flags.requirepass;
    });
    await command.parseAsync(args, { from: 'user' });
  } finally {
    if (saved === undefined) delete process.env.CLEAVE_REQUIREPASS;
    else process.env.CLEAVE_REQUIREPASS = saved;
  }
  return seen;
}

describe('secret files', () => {
  it('reads the content less one trailing newline, spaces kept', async () => {
    await withFile('s3cret pass \n', (path) => assert.equal(resolveSecret(REQUIREPASS, path, {}), 's3cret pass '));
    await withFile('s3cret\r\n', (path) => assert.equal(resolveSecret(REQUIREPASS, path, {}), 's3cret'));
    await withFile('s3cret', (path) => assert.equal(resolveSecret(REQUIREPASS, path, {}), 's3cret'));
  });

  it('prefers the file to the environment, and takes the environment without one', async () => {
    await withFile('from-file\n', (path) => assert.equal(resolveSecret(REQUIREPASS, path, { CLEAVE_REQUIREPASS: 'from-env' }), 'from-file'));
    assert.equal(resolveSecret(REQUIREPASS, undefined, { CLEAVE_REQUIREPASS: 'from-env' }), 'from-env');
    assert.equal(resolveSecret(REQUIREPASS, undefined, { CLEAVE_REQUIREPASS: '' }), undefined);
    assert.equal(resolveSecret(REQUIREPASS, undefined, {}), undefined);
  });

  it('refuses a missing, empty or many-line file with a one-line UsageError naming the flag', async () => {
    const refused = (path: string, message: RegExp): void => {
      assert.throws(
        () => resolveSecret(REQUIREPASS, path, {}),
        (err: unknown) => err instanceof UsageError && message.test(err.message) && !err.message.includes('\n'),
      );
    };
    refused(join(tmpdir(), 'cleave-no-such-secret'), /^cannot read the client password from --requirepass-file .*: ENOENT$/);
    await withFile('', (path) => refused(path, /^--requirepass-file .* is empty$/));
    await withFile('\n', (path) => refused(path, /^--requirepass-file .* is empty$/));
    await withFile('one\ntwo\n', (path) => refused(path, /^--requirepass-file .* holds more than one line/));
  });

  it('gives the command the secret from --requirepass-file or the environment, read before its action', async () => {
    await withFile('from-file\n', async (path) => assert.equal(await parsedRequirepass(['--requirepass-file', path], { CLEAVE_REQUIREPASS: 'from-env' }), 'from-file'));
    assert.equal(await parsedRequirepass([], { CLEAVE_REQUIREPASS: 'from-env' }), 'from-env');
    await assert.rejects(parsedRequirepass(['--requirepass-file', join(tmpdir(), 'cleave-no-such-secret')], {}), UsageError);
  });

  it('refuses the old --requirepass <password> with where the password goes instead', async () => {
    await assert.rejects(parsedRequirepass(['--requirepass', 'x'], {}), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, /^--requirepass takes no value: .*CLEAVE_REQUIREPASS.*--requirepass-file <path>/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });
});
