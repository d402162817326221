/**
 * `cleave local` (what `npm start` runs): a pilot and N nodes on this machine, each its own process, so
 * any one can be killed and restarted alone. Their logs go to <data-dir>/logs; Ctrl-C stops them all.
 * Secrets reach the children through the environment and the cluster secret's file, never their command
 * lines, which any user can read.
 */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CLI_MAIN } from '../cluster/cluster-process.js';
import { LocalCluster } from '../cluster/local-cluster.js';
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
  schedulers: boolean;
  /** From --requirepass-file or the environment. */
  requirepass?: string;
  /** From --admin-token-file or the environment. */
  adminToken?: string;
}

/** How long each step of the start may take: the pilot answering, a node registering, a node serving. */
const STARTUP_TIMEOUT_MS = 60_000;

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
    .option('--replicas <n>', 'replicas per shard, the leader included (at most --nodes take effect)', parseIntInRange('--replicas', 1, SHARD_REPLICAS_MAX), REPLICAS_DEFAULT)
    .option('--schedulers', "the pilot rebalances leaders and replicas and repairs shards by itself (the pilot's --schedulers)", false);
  withSecretFile(withSecretFile(local, REQUIREPASS), ADMIN_TOKEN).action(async (flags: LocalFlags) => runLocal(flags));
}

async function runLocal(flags: LocalFlags): Promise<void> {
  const lastPort = flags.port + flags.nodes - 1;
  if (lastPort + 20000 > 65535) throw new UsageError(`--port ${flags.port} leaves no room for the nodes' bus and metrics ports (port + 10000, + 20000)`);
  if (flags.pilotPort >= flags.port && flags.pilotPort <= lastPort)
    throw new UsageError(`--pilot-port ${flags.pilotPort} collides with the nodes' ports ${flags.port}-${lastPort}`);
  const dataDir = resolve(flags.dataDir);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  let stopping = false;
  // The members read the cluster secret from its file, the others as given to this command, or none.
  const envHint = [flags.requirepass && 'CLEAVE_REQUIREPASS', flags.adminToken && 'CLEAVE_ADMIN_TOKEN'].filter((name) => name);
  const cluster = new LocalCluster({
    dir: dataDir,
    nodes: flags.nodes,
    host: flags.host,
    pilotPort: flags.pilotPort,
    firstNodePort: flags.port,
    shardsPerNode: flags.shardsPerNode,
    replicas: flags.replicas,
    ...(flags.schedulers ? { pilotArgs: ['--schedulers'] } : {}),
    clusterSecretFile: ensureLocalClusterSecret(dataDir),
    ...(flags.requirepass ? { requirepass: flags.requirepass } : {}),
    ...(flags.adminToken ? { adminToken: flags.adminToken } : {}),
    logDir,
    startStepTimeoutMs: STARTUP_TIMEOUT_MS,
    onCrash: (member) => {
      if (stopping) return;
      const withEnv = envHint.length === 0 ? '' : ` (with ${envHint.join(' and ')} set as for cleave local)`;
      console.log(
        `${member.name} (pid ${member.child?.pid}) exited (${member.exit}); see ${join(logDir, `${member.name}.log`)}. Restart it with: node ${CLI_MAIN} ${member.args.join(' ')}${withEnv}`,
      );
    },
  });
  const stopAll = (): Promise<void> => {
    stopping = true;
    return cluster.stop();
  };
  const onSignal = (): void => {
    console.log('\nstopping the cluster...');
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await cluster.start();
  } catch (err) {
    console.error(`cleave: ${(err as Error).message}\nlogs are in ${logDir}`);
    await stopAll();
    process.exit(1);
  }
  const pilotUrl = cluster.pilotUrl;
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
