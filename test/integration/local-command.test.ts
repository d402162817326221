/** `cleave local` (what `npm start` runs): starts, serves, stops on Ctrl-C, and keeps its data. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { respRequest } from '../../src/client/resp-request.js';
import { CLI_MAIN } from '../support/cluster.js';
import { freePort, freePortBlock } from '../../src/common/free-ports.js';

interface Running {
  stop: () => Promise<{ code: number | null; output: string }>;
  kill: () => void;
}

/** The port of the node that leads the shard of `slot`, as CLUSTER SLOTS on `port` tells it. */
async function leaderPortOf(port: number, slot: number): Promise<number> {
  const slots = await respRequest('127.0.0.1', port, [['CLUSTER', 'SLOTS']]);
  const owner = (slots[0] as unknown[][]).find((entry) => (entry[0] as number) <= slot && (entry[1] as number) >= slot);
  assert.ok(owner, `CLUSTER SLOTS lists slot ${slot}`);
  return (owner[2] as unknown[])[1] as number;
}

async function runLocalUntilReady(args: string[], started: Running[]): Promise<Running> {
  const child = spawn(process.execPath, [CLI_MAIN, 'local', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cleave local did not become ready:\n${output}`)), 60_000);
    const check = (): void => {
      if (output.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`cleave local exited early (${code}):\n${output}`)));
  });
  const running: Running = {
    // SIGINT, not SIGKILL: `cleave local` stops its pilot and nodes on it.
    kill: () => child.kill('SIGINT'),
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', (code) => resolve({ code, output }));
        child.kill('SIGINT');
      }),
  };
  started.push(running);
  return running;
}

describe('cleave local', () => {
  it('starts a pilot and nodes, stops cleanly on SIGINT, and finds its keys after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-local-'));
    const started: Running[] = [];
    try {
      const base = await freePortBlock(2);
      const pilotPort = await freePort();
      const args = ['--nodes', '2', '--port', String(base), '--pilot-port', String(pilotPort), '--data-dir', dir];
      const first = await runLocalUntilReady(args, started);
      const cluster = (await (await fetch(`http://127.0.0.1:${pilotPort}/api/v1/cluster`)).json()) as Record<string, unknown>;
      assert.equal(cluster.state, 'ok');
      // 12182 is the slot of "foo".
      assert.deepEqual(await respRequest('127.0.0.1', await leaderPortOf(base, 12182), [['SET', 'foo', 'bar']]), ['OK']);
      const stopped = await first.stop();
      assert.equal(stopped.code, 0, stopped.output);

      const second = await runLocalUntilReady(args, started);
      // After the restart another replica may lead the shard.
      assert.deepEqual(await respRequest('127.0.0.1', await leaderPortOf(base, 12182), [['GET', 'foo']]), ['bar']);
      assert.equal((await second.stop()).code, 0);
    } finally {
      // A failed assertion must not leave the cluster running: the test run would wait for it forever.
      for (const running of started) running.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad flag with one line and exit code 2', () => {
    for (const args of [['local', '--nodes', 'abc'], ['node', '--port', '70000'], ['pilot', '--no-such-flag'], ['node', '--host', '0.0.0.0']]) {
      const result = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8' });
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /nodes|port|flag|option|secret/i);
    }
  });
});
