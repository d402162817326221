/** One process per data dir: a second node on the same dir exits with a one-line message; a dead owner's lock is taken over. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_DIR_LOCK_FILE, lockDataDir } from '../../src/common/data-dir-lock.js';
import { UsageError } from '../../src/common/errors.js';
import { freePort } from '../../src/common/free-ports.js';
import { CLI_MAIN, waitUntil } from '../support/cluster.js';

/** A `cleave node` on `dir` whose pilot never answers: it holds its data dir and waits. */
async function nodeOn(dir: string): Promise<{ child: ChildProcess; exited: Promise<{ code: number | null; stderr: string }> }> {
  const [port, busPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [CLI_MAIN, 'node', '--port', String(port), '--bus-port', String(busPort), '--metrics-port', '0', '--data-dir', dir, '--pilot', 'http://127.0.0.1:9'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CLEAVE_LOG_LEVEL: 'warn', CLEAVE_CLUSTER_SECRET: 'test-secret-for-the-lock' },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return { child, exited };
}

describe('data dir lock', () => {
  it('refuses a second node on the same data dir with exit code 2 and one line naming the holder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-lock-'));
    const first = await nodeOn(dir);
    try {
      await waitUntil('the first node holds the lock', async () => existsSync(join(dir, DATA_DIR_LOCK_FILE)));
      const second = await nodeOn(dir);
      const { code, stderr } = await second.exited;
      assert.equal(code, 2);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, new RegExp(`data dir .* is in use by process ${first.child.pid}`));
      assert.equal(first.child.exitCode, null, 'the first node runs on');
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes over the lock of a process that died, and releases it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-lock-'));
    try {
      // A pid that cannot run: beyond the kernel's pid_max.
      writeFileSync(join(dir, DATA_DIR_LOCK_FILE), '99999999\n');
      const lock = lockDataDir(dir);
      assert.equal(readFileSync(join(dir, DATA_DIR_LOCK_FILE), 'utf8'), `${process.pid}\n`);
      lock.release();
      assert.equal(existsSync(join(dir, DATA_DIR_LOCK_FILE)), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a dir whose lock names a running process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-lock-'));
    try {
      writeFileSync(join(dir, DATA_DIR_LOCK_FILE), `${process.ppid}\n`);
      assert.throws(
        () => lockDataDir(dir),
        (err: unknown) => err instanceof UsageError && err.message.includes(`in use by process ${process.ppid}`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
