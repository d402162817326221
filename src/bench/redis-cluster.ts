import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger.js';
import { pollUntil } from '../common/poll.js';

/**
 * How the servers persist writes. `off` keeps everything in memory (`--save '' --appendonly no`);
 * `aof-fsync-always` appends every write to the AOF and fsyncs it before the reply
 * (`--appendonly yes --appendfsync always`): the durability cleave gives every acknowledged write.
 */
export const REDIS_PERSISTENCE_MODES = ['off', 'aof-fsync-always'] as const;
/** One of `REDIS_PERSISTENCE_MODES`. */
export type RedisPersistence = (typeof REDIS_PERSISTENCE_MODES)[number];

const PERSISTENCE_ARGS: Readonly<Record<RedisPersistence, readonly string[]>> = {
  off: ['--save', '', '--appendonly', 'no'],
  'aof-fsync-always': ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'],
};

/** How to start the cluster. */
export interface RedisClusterOptions {
  /** Number of masters (no replicas). `redis-cli --cluster create` needs at least 3. */
  readonly masters: number;
  /** Default `off`. */
  readonly persistence?: RedisPersistence;
  /** Use ports basePort.. basePort+masters-1 (and their bus ports +10000); otherwise free ports are found. */
  readonly basePort?: number;
  /** Parent of the temporary working directory (created if missing; default: the OS temp dir). */
  readonly dir?: string;
  readonly logger?: Logger;
  /** Give up if the cluster is not up by then. */
  readonly startTimeoutMs?: number;
}

/** A running local Redis Cluster. */
export interface RedisClusterHandle {
  readonly host: string;
  /** Client ports of the masters. */
  readonly ports: number[];
  /** Kills the servers and removes the working directory. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Redis Cluster's bus port is the client port + 10000. */
const BUS_PORT_OFFSET = 10000;
/**
 * Ports a developer's default local cleave cluster uses (pilot, nodes, their bus and metrics ports at
 * +10000 and +20000); never taken, even if free right now. The metrics ports lie inside the range below.
 */
const RESERVED_PORTS = new Set([7000, 7001, 7002, 7003].flatMap((port) => [port, port + 10000, port + 20000]));
const FREE_PORT_MIN = 21000;
const FREE_PORT_MAX = 29999;
const FREE_PORT_TRIES_MAX = 200;

/**
 * Starts a Debian `redis-server` cluster of `masters` masters on this machine: one
 * `redis-server --cluster-enabled yes` per master (persistence as `options.persistence` says) in a temporary directory,
 * joined with `redis-cli --cluster create ... --cluster-yes`, returned once every node reports
 * cluster_state:ok. Throws an Error naming the Debian package if redis-server is missing.
 */
export async function startRedisCluster(options: RedisClusterOptions): Promise<RedisClusterHandle> {
  const { masters, logger } = options;
  if (!Number.isInteger(masters) || masters < 3) throw new Error(`a Redis cluster needs at least 3 masters (redis-cli --cluster create), got ${masters}`);
  requireExecutable('redis-server', 'redis-server');
  requireExecutable('redis-cli', 'redis-tools (installed with redis-server)');
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const ports = options.basePort === undefined ? await findFreePorts(masters) : Array.from({ length: masters }, (_, i) => options.basePort! + i);
  const parentDir = options.dir ?? tmpdir();
  await mkdir(parentDir, { recursive: true });
  // A fresh directory inside the given one, so stop() removes only what this call created.
  const dir = await mkdtemp(join(parentDir, 'cleave-redis-'));
  const servers: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => stopProcess(server)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const nodeDir = join(dir, String(port));
      await mkdir(nodeDir);
      // redis-server takes config directives as `--name value...` arguments.
      const args = [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '5000',
        '--dir',
        nodeDir,
        ...PERSISTENCE_ARGS[options.persistence ?? 'off'],
        '--daemonize',
        'no',
        '--protected-mode',
        'no',
        '--logfile',
        join(nodeDir, 'redis.log'),
      ];
      const server = spawn('redis-server', args, { stdio: 'ignore' });
      servers.push(server);
      server.on('error', (error) => logger?.error({ err: error, port }, 'redis-server failed'));
    }
    const deadline = Date.now() + timeoutMs;
    await Promise.all(ports.map((port) => waitForPort(port, deadline)));
    logger?.info({ ports, dir }, 'redis-server nodes up, creating cluster');
    await runRedisCli(['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '0', '--cluster-yes'], timeoutMs);
    await Promise.all(ports.map((port) => waitForClusterOk(port, deadline)));
    logger?.info({ ports }, 'redis cluster ready');
    return { host: HOST, ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function requireExecutable(name: string, debianPackage: string): void {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} not found on PATH: install the Debian package ${debianPackage} (apt-get install redis-server)`);
}

async function findFreePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count && tries < FREE_PORT_TRIES_MAX; tries++) {
    const port = FREE_PORT_MIN + Math.floor(Math.random() * (FREE_PORT_MAX - FREE_PORT_MIN));
    if (RESERVED_PORTS.has(port) || RESERVED_PORTS.has(port + BUS_PORT_OFFSET) || ports.includes(port)) continue;
    if ((await isPortFree(port)) && (await isPortFree(port + BUS_PORT_OFFSET))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`found only ${ports.length} of ${count} free port pairs`);
  return ports;
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

function waitForPort(port: number, deadline: number): Promise<void> {
  const connects = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, HOST);
    });
  return pollUntil(connects, { what: `redis-server on port ${port} to listen`, timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 50 });
}

function waitForClusterOk(port: number, deadline: number): Promise<void> {
  return pollUntil(async () => (await runRedisCli(['-h', HOST, '-p', String(port), 'cluster', 'info'], 5000)).includes('cluster_state:ok'), {
    what: `redis node ${port} to report cluster_state:ok`,
    timeoutMs: Math.max(0, deadline - Date.now()),
  });
}

function runRedisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`redis-cli ${args.join(' ')} exited ${code}: ${output.trim()}`))));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!killed) {
    child.kill('SIGKILL');
    await exited;
  }
}
