/** `cleave local` (what `npm start` runs): starts, serves, stops on Ctrl-C, and keeps its data. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RespErrorValue, respRequest } from '../../src/client/resp-request.js';
import { CLI_MAIN, testProcess, startPilots, waitUntil, type TestPilot, type TestProcess } from '../support/cluster.js';
import { freePort, freePortBlock } from '../../src/common/free-ports.js';
import { pollUntil } from '../../src/common/poll.js';

interface Running {
  readonly pid: number;
  /** What `cleave local` printed so far. */
  output: () => string;
  stop: () => Promise<{ code: number | null; output: string }>;
  kill: () => void;
}

const REQUIREPASS = 'local-test-password';
const ADMIN_TOKEN = 'local-test-admin-token';
/** `cleave local` takes its client password and admin token from the environment, as a person would. */
const LOCAL_ENV = { ...process.env, CLEAVE_REQUIREPASS: REQUIREPASS, CLEAVE_ADMIN_TOKEN: ADMIN_TOKEN };

/** The command line of a running process, argument by argument. */
function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a !== '');
}

/** The pids of the processes `pid` started. */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '')
    .map(Number);
}

/** The port of the node that leads the shard of `slot`, as CLUSTER SLOTS on `port` tells it. */
async function leaderPortOf(port: number, slot: number): Promise<number> {
  const slots = await respRequest('127.0.0.1', port, [
    ['AUTH', REQUIREPASS],
    ['CLUSTER', 'SLOTS'],
  ]);
  const owner = (slots[1] as unknown[][]).find((entry) => (entry[0] as number) <= slot && (entry[1] as number) >= slot);
  assert.ok(owner, `CLUSTER SLOTS lists slot ${slot}`);
  return (owner[2] as unknown[])[1] as number;
}

async function runLocalUntilReady(args: string[], started: Running[]): Promise<Running> {
  const child = spawn(process.execPath, [CLI_MAIN, 'local', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: LOCAL_ENV });
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
    pid: child.pid!,
    output: () => output,
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
  it('starts a pilot and nodes, stops cleanly on SIGINT, and finds its keys after a restart; no secret on a command line, the cluster secret kept in a 0600 file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-local-'));
    const started: Running[] = [];
    try {
      const base = await freePortBlock(2);
      const pilotPort = await freePort();
      const args = ['--nodes', '2', '--port', String(base), '--pilot-port', String(pilotPort), '--data-dir', dir];
      const first = await runLocalUntilReady(args, started);
      const cluster = (await (await fetch(`http://127.0.0.1:${pilotPort}/api/v1/cluster`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Record<
        string,
        unknown
      >;
      assert.equal(cluster.state, 'ok');
      const secretFile = join(dir, 'cluster-secret');
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      const secret = readFileSync(secretFile, 'utf8').trim();
      assert.match(secret, /^[0-9a-f]{64}$/);
      const children = childrenOf(first.pid);
      assert.equal(children.length, 3, 'the pilot and two nodes');
      for (const pid of children) {
        const argv = argvOf(pid).join(' ');
        for (const hidden of [secret, REQUIREPASS, ADMIN_TOKEN]) assert.ok(!argv.includes(hidden), `pid ${pid} shows a secret in its arguments: ${argv}`);
      }
      // 12182 is the slot of "foo".
      assert.deepEqual(
        await respRequest('127.0.0.1', await leaderPortOf(base, 12182), [
          ['AUTH', REQUIREPASS],
          ['SET', 'foo', 'bar'],
        ]),
        ['OK', 'OK'],
      );
      // A member that dies is reported with how to restart it; the hint holds no secret either.
      const node2 = children.find((pid) => argvOf(pid).includes(String(base + 1)))!;
      process.kill(node2, 'SIGKILL');
      await pollUntil(() => first.output().includes('Restart it with'), { what: 'the restart hint', timeoutMs: 10_000, intervalMs: 50, detail: first.output });
      const hint = first
        .output()
        .split('\n')
        .find((l) => l.includes('Restart it with'))!;
      assert.match(hint, /^node2 .* exited/);
      for (const hidden of [secret, REQUIREPASS, ADMIN_TOKEN]) assert.ok(!hint.includes(hidden), hint);
      const stopped = await first.stop();
      assert.equal(stopped.code, 0, stopped.output);

      const second = await runLocalUntilReady(args, started);
      assert.equal(readFileSync(secretFile, 'utf8').trim(), secret, 'the secret is kept across restarts');
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      // After the restart another replica may lead the shard.
      assert.deepEqual(
        await respRequest('127.0.0.1', await leaderPortOf(base, 12182), [
          ['AUTH', REQUIREPASS],
          ['GET', 'foo'],
        ]),
        ['OK', 'bar'],
      );
      assert.equal((await second.stop()).code, 0);
    } finally {
      // A failed assertion must not leave the cluster running: the test run would wait for it forever.
      for (const running of started) running.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to run a pilot or a node without a cluster secret: one line, exit code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-no-secret-'));
    try {
      const env = { ...process.env, CLEAVE_CLUSTER_SECRET: '' };
      for (const args of [
        ['node', '--data-dir', join(dir, 'node'), '--port', '1'],
        ['pilot', '--data-dir', join(dir, 'pilot'), '--port', '1'],
        ['node', '--data-dir', join(dir, 'node'), '--port', '1', '--cluster-secret-file', join(dir, 'missing')],
      ]) {
        // A process that starts anyway would run forever: the timeout ends it and the test fails.
        const result = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', env, timeout: 10_000 });
        assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.match(result.stderr, /cluster secret/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a secret on the command line, naming its environment variable and its file flag: one line, exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-secret-flags-'));
    try {
      const [port, pilotPort] = [await freePort(), await freePort()];
      const missing = join(dir, 'missing');
      const empty = join(dir, 'empty');
      writeFileSync(empty, '');
      // With a cluster secret at hand, a command that took the secret would start and run: the timeout ends it.
      const env = { ...process.env, CLEAVE_CLUSTER_SECRET: 'secret-flags-test', CLEAVE_REQUIREPASS: '', CLEAVE_ADMIN_TOKEN: '' };
      const node = ['node', '--port', String(port), '--data-dir', join(dir, 'node'), '--pilot', `http://127.0.0.1:${pilotPort}`];
      const pilot = ['pilot', '--port', String(pilotPort), '--data-dir', join(dir, 'pilot')];
      const local = ['local', '--nodes', '1', '--port', String(port), '--pilot-port', String(pilotPort), '--data-dir', join(dir, 'local')];
      const pilotAt = ['--pilot', `http://127.0.0.1:${pilotPort}`];
      for (const [args, expected] of [
        [[...node, '--requirepass', 'x'], /^cleave: --requirepass takes no value: .*set CLEAVE_REQUIREPASS or give --requirepass-file <path>$/],
        [[...node, '--cluster-secret', 'x'], /^cleave: --cluster-secret takes no value: .*set CLEAVE_CLUSTER_SECRET or give --cluster-secret-file <path>$/],
        [[...pilot, '--admin-token', 'x'], /^cleave: --admin-token takes no value: .*set CLEAVE_ADMIN_TOKEN or give --admin-token-file <path>$/],
        [[...local, '--requirepass', 'x'], /^cleave: --requirepass takes no value: .*set CLEAVE_REQUIREPASS or give --requirepass-file <path>$/],
        [[...local, '--admin-token', 'x'], /^cleave: --admin-token takes no value: .*set CLEAVE_ADMIN_TOKEN or give --admin-token-file <path>$/],
        [['cluster', ...pilotAt, '--token', 'x'], /^cleave: --token takes no value: .*set CLEAVE_ADMIN_TOKEN or give --token-file <path>$/],
        [['shards', 'replicas', 'shard_0001', 'add', 'node2', ...pilotAt, '--token', 'x'], /^cleave: --token takes no value: .*--token-file <path>$/],
        [['bench', 'ycsb', '--pilot-token', 'x'], /^cleave: --pilot-token takes no value: .*set CLEAVE_ADMIN_TOKEN or give --pilot-token-file <path>$/],
        [[...node, '--requirepass-file', missing], /^cleave: cannot read the client password from --requirepass-file .*: ENOENT$/],
        [[...local, '--admin-token-file', empty], /^cleave: --admin-token-file .* is empty$/],
        [['splits', ...pilotAt, '--token-file', missing], /^cleave: cannot read the admin token from --token-file .*: ENOENT$/],
      ] as const) {
        const result = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', env, timeout: 10_000 });
        assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.match(result.stderr.trim(), expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the client password, the admin token and the cluster secret from files: AUTH with the file content, the API and the CLI with the token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-secret-files-'));
    const processes: TestProcess[] = [];
    try {
      const file = (name: string, content: string): string => {
        const path = join(dir, name);
        writeFileSync(path, content, { mode: 0o600 });
        return path;
      };
      const password = 'file pass word';
      const token = 'file-admin-token';
      const [passwordFile, tokenFile, secretFile] = [file('requirepass', `${password}\n`), file('admin-token', `${token}\n`), file('cluster-secret', 'file-cluster-secret\n')];
      // Nothing from the environment: every secret comes from its file.
      const noEnv = { CLEAVE_REQUIREPASS: '', CLEAVE_ADMIN_TOKEN: '', CLEAVE_CLUSTER_SECRET: '' };
      const pilots: TestPilot[] = await startPilots(
        dir,
        1,
        ['--expect-nodes', '1', '--shards-per-node', '1', '--replicas', '1', '--admin-token-file', tokenFile, '--cluster-secret-file', secretFile],
        noEnv,
      );
      processes.push(...pilots);
      const pilotUrl = pilots[0]!.url;
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeArgs = [
        'node',
        '--port',
        String(port),
        '--bus-port',
        String(busPort),
        '--metrics-port',
        '0',
        '--data-dir',
        join(dir, 'node'),
        '--pilot',
        pilotUrl,
        '--requirepass-file',
        passwordFile,
        '--cluster-secret-file',
        secretFile,
      ];
      const node = testProcess('node', nodeArgs, noEnv);
      processes.push(node);
      node.start();
      await waitUntil(
        'the node serving',
        async () =>
          String(
            (
              await respRequest(
                '127.0.0.1',
                port,
                [
                  ['AUTH', password],
                  ['CLUSTER', 'INFO'],
                ],
                1000,
              )
            )[1],
          ).includes('cluster_state:ok'),
        () => node.log,
      );

      const [noauth] = await respRequest('127.0.0.1', port, [['GET', 'x']]);
      assert.equal((noauth as RespErrorValue).message, 'NOAUTH Authentication required.');
      const [withNewline] = await respRequest('127.0.0.1', port, [['AUTH', `${password}\n`]]);
      assert.ok(withNewline instanceof RespErrorValue, 'the trailing newline is not part of the password');
      assert.deepEqual(
        await respRequest('127.0.0.1', port, [
          ['AUTH', password],
          ['SET', 'x', '1'],
          ['GET', 'x'],
        ]),
        ['OK', 'OK', '1'],
      );

      assert.equal((await fetch(`${pilotUrl}/api/v1/cluster`)).status, 401);
      assert.equal((await fetch(`${pilotUrl}/api/v1/cluster`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      const env = { ...process.env, ...noEnv };
      const withoutToken = spawnSync(process.execPath, [CLI_MAIN, 'nodes', '--pilot', pilotUrl], { encoding: 'utf8', env, timeout: 20_000 });
      assert.equal(withoutToken.status, 1, withoutToken.stderr);
      const listed = spawnSync(process.execPath, [CLI_MAIN, 'nodes', '--pilot', pilotUrl, '--token-file', tokenFile], { encoding: 'utf8', env, timeout: 20_000 });
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^node1\\s+127\\.0\\.0\\.1:${port}\\s+up\\s`, 'm'));
    } finally {
      for (const running of processes) await running.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad flag with one line and exit code 2', () => {
    for (const args of [
      ['local', '--nodes', 'abc'],
      ['node', '--port', '70000'],
      ['pilot', '--no-such-flag'],
      ['node', '--host', '0.0.0.0'],
    ]) {
      const result = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8' });
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /nodes|port|flag|option|secret/i);
    }
  });
});
