/**
 * `cleave local` (what `npm start` runs): a pilot and N nodes on this machine, each its own process, so
 * any one can be killed and restarted alone. Their logs go to <data-dir>/logs; Ctrl-C stops them all.
 * Secrets reach the children through the environment and the cluster secret's file, never their command
 * lines, which any user can read.
 */
import type { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { respRequest } from '../client/resp-request.js';
import { UsageError } from '../common/errors.js';
import { REPLICAS_DEFAULT } from '../pilot/server.js';
import { SHARD_REPLICAS_MAX } from '../pilot/state.js';
import { ensureLocalClusterSecret } from './cluster-secret.js';
import { parseHost, parseIntInRange, parsePort } from './flags.js';
import { ADMIN_TOKEN, REQUIREPASS, withSecretFile } from './secret-flags.js';

interface LocalFlags {
  nodes: number;
  port: number;
  pilotPort: number;
  host: string;
  dataDir: string;
  shardsPerNode: number;
  replicas: number;
  /** From --requirepass-file or the environment. */
  requirepass?: string;
  /** From --admin-token-file or the environment. */
  adminToken?: string;
}

interface Member {
  readonly name: string;
  readonly args: readonly string[];
  child: ChildProcess;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export function registerLocalCommand(program: Command): void {
  const local = program
    .command('local')
    .description('run a local cluster: a pilot and N nodes as child processes')
    .option('--nodes <n>', 'number of nodes', parseIntInRange('--nodes', 1, 64), 3)
    .option('--port <port>', 'RESP port of the first node; node i listens on port + i - 1', parsePort('--port'), 7001)
    .option('--pilot-port <port>', 'HTTP port of the pilot', parsePort('--pilot-port'), 7000)
    .option('--host <host>', 'address everything listens on', parseHost('--host'), '127.0.0.1')
    .option('--data-dir <dir>', 'where the cluster keeps its data', './data')
    .option('--shards-per-node <n>', 'shards of the default keyspace per node at creation', parseIntInRange('--shards-per-node', 1, 256), 2)
    .option('--replicas <n>', 'replicas per shard, the leader included (at most --nodes take effect)', parseIntInRange('--replicas', 1, SHARD_REPLICAS_MAX), REPLICAS_DEFAULT);
  withSecretFile(withSecretFile(local, REQUIREPASS), ADMIN_TOKEN).action(async (flags: LocalFlags) => runLocal(flags));
}

async function runLocal(flags: LocalFlags): Promise<void> {
  const lastPort = flags.port + flags.nodes - 1;
  if (lastPort + 20000 > 65535) throw new UsageError(`--port ${flags.port} leaves no room for the nodes' bus and metrics ports (port + 10000, + 20000)`);
  if (flags.pilotPort >= flags.port && flags.pilotPort <= lastPort) throw new UsageError(`--pilot-port ${flags.pilotPort} collides with the nodes' ports ${flags.port}-${lastPort}`);
  const dataDir = resolve(flags.dataDir);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const pilotUrl = `http://${flags.host}:${flags.pilotPort}`;
  const members: Member[] = [];
  let stopping = false;

  const secretFile = ensureLocalClusterSecret(dataDir);
  // The children read the cluster secret from its file, the others as given to this command, or none.
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.CLEAVE_CLUSTER_SECRET;
  delete childEnv.CLEAVE_REQUIREPASS;
  delete childEnv.CLEAVE_ADMIN_TOKEN;
  if (flags.requirepass) childEnv.CLEAVE_REQUIREPASS = flags.requirepass;
  if (flags.adminToken) childEnv.CLEAVE_ADMIN_TOKEN = flags.adminToken;
  const envHint = ['CLEAVE_REQUIREPASS', 'CLEAVE_ADMIN_TOKEN'].filter((name) => childEnv[name] !== undefined);
  const launch = (name: string, roleArgs: readonly string[]): Member => {
    const log = openSync(join(logDir, `${name}.log`), 'a');
    const args = [...roleArgs, '--cluster-secret-file', secretFile];
    const member: Member = { name, args, child: spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', log, log], env: childEnv }) };
    member.child.on('exit', (code, signal) => {
      if (stopping) return;
      const withEnv = envHint.length === 0 ? '' : ` (with ${envHint.join(' and ')} set as for cleave local)`;
      console.log(`${name} (pid ${member.child.pid}) exited (${signal ?? `code ${code}`}); see ${join(logDir, name + '.log')}. Restart it with: node ${MAIN} ${args.join(' ')}${withEnv}`);
    });
    members.push(member);
    return member;
  };

  const stopAll = async (): Promise<void> => {
    stopping = true;
    const alive = members.filter((m) => m.child.exitCode === null && m.child.signalCode === null);
    await Promise.all(
      alive.map(
        (m) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => m.child.kill('SIGKILL'), STOP_GRACE_MS);
            m.child.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            m.child.kill('SIGTERM');
          }),
      ),
    );
  };
  const onSignal = (): void => {
    console.log('\nstopping the cluster...');
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  launch('pilot', ['pilot', '--host', flags.host, '--port', String(flags.pilotPort), '--data-dir', join(dataDir, 'pilot'), '--expect-nodes', String(flags.nodes), '--shards-per-node', String(flags.shardsPerNode), '--replicas', String(flags.replicas)]);
  const headers: Record<string, string> = flags.adminToken ? { authorization: `Bearer ${flags.adminToken}` } : {};
  try {
    await waitFor('the pilot', () => fetch(`${pilotUrl}/healthz`).then((r) => r.ok));
    // Nodes start one after another so that on a first start node i gets id node<i>.
    for (let i = 1; i <= flags.nodes; i++) {
      const port = flags.port + i - 1;
      launch(`node${i}`, ['node', '--host', flags.host, '--port', String(port), '--data-dir', join(dataDir, `node${i}`), '--pilot', pilotUrl]);
      await waitFor(`node${i}`, async () => {
        const nodes = (await (await fetch(`${pilotUrl}/api/v1/nodes`, { headers })).json()) as { nodes?: { address: string }[] } | { address: string }[];
        const list = Array.isArray(nodes) ? nodes : (nodes.nodes ?? []);
        return list.some((n) => n.address === `${flags.host}:${port}`);
      });
    }
    for (let i = 1; i <= flags.nodes; i++) {
      const port = flags.port + i - 1;
      const auth = flags.requirepass ? [['AUTH', flags.requirepass]] : [];
      await waitFor(`node${i}'s routing table`, async () => {
        const replies = await respRequest(flags.host, port, [...auth, ['CLUSTER', 'INFO']]);
        return String(replies[replies.length - 1]).includes('cluster_state:ok');
      });
    }
  } catch (err) {
    console.error(`cleave: ${(err as Error).message}; logs are in ${logDir}`);
    await stopAll();
    process.exit(1);
  }
  const auth = flags.requirepass ? ' -a <password>' : '';
  console.log(
    [
      `cleave is running: pilot ${pilotUrl}, ${flags.nodes} node${flags.nodes > 1 ? 's' : ''} on ${flags.host}:${flags.port}${flags.nodes > 1 ? `-${lastPort}` : ''}, data in ${dataDir}`,
      `  connect:  redis-cli -c -p ${flags.port}${auth}`,
      `  API:      ${pilotUrl}/api/v1/cluster   (OpenAPI: ${pilotUrl}/api/v1/openapi.json, metrics: ${pilotUrl}/metrics)`,
      `  logs:     ${logDir}`,
      `Press Ctrl-C to stop.`,
    ].join('\n'),
  );
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = `: ${(err as Error).message}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${STARTUP_TIMEOUT_MS / 1000} s${lastError}`);
}
