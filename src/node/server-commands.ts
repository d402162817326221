/**
 * Connection and server commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT, COMMAND, INFO,
 * TIME, CONFIG, READONLY, READWRITE, ASKING. Reply and error texts are Redis 7's.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { array, bulk, bulkOrNull, error, int, map, NULL, OK, simple, type Reply } from '../resp/reply.js';
import { allCommands, commandDocsReply, commandInfoReply, findCommand, globMatch } from '../commands/table.js';
import type { ClientConnection } from './client-connection.js';
import type { NodeContext, ServerHandler } from './node-context.js';

/** The Redis version cleave reports, so clients enable the Redis 7 behaviour it implements. */
export const REDIS_COMPAT_VERSION = '7.2.0';

const wrongArgs = (name: string): Reply => error(`ERR wrong number of arguments for '${name}' command`);
const unknownSub = (cmd: string, sub: Buffer): Reply => error(`ERR unknown subcommand '${sub.toString()}'. Try ${cmd} HELP.`);

/** Compares without leaking the position of the first differing byte through timing. */
function passwordMatches(given: Buffer, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function authenticate(ctx: NodeContext, conn: ClientConnection, user: Buffer | undefined, password: Buffer): Reply {
  if (ctx.requirepass === undefined) {
    return error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  }
  const userOk = user === undefined || user.toString() === 'default';
  if (!userOk || !passwordMatches(password, ctx.requirepass)) {
    return error('WRONGPASS invalid username-password pair or user is disabled.');
  }
  conn.authenticated = true;
  return OK;
}

const auth: ServerHandler = (ctx, conn, argv) => {
  if (argv.length === 2) return authenticate(ctx, conn, undefined, argv[1]!);
  if (argv.length === 3) return authenticate(ctx, conn, argv[1], argv[2]!);
  return error('ERR syntax error');
};

function helloReply(conn: ClientConnection): Reply {
  return map([
    [bulk('server'), bulk('redis')],
    [bulk('version'), bulk(REDIS_COMPAT_VERSION)],
    [bulk('proto'), int(conn.protocol)],
    [bulk('id'), int(conn.id)],
    [bulk('mode'), bulk('cluster')],
    [bulk('role'), bulk('master')],
    [bulk('modules'), array([])],
  ]);
}

const hello: ServerHandler = (ctx, conn, argv) => {
  let protocol = conn.protocol;
  let i = 1;
  if (argv.length > 1) {
    const ver = argv[1]!.toString();
    if (ver !== '2' && ver !== '3') {
      return /^-?\d+$/.test(ver) ? error('NOPROTO unsupported protocol version') : error('ERR Protocol version is not an integer or out of range');
    }
    protocol = ver === '3' ? 3 : 2;
    i = 2;
  }
  let name: string | undefined;
  for (; i < argv.length; i++) {
    const opt = argv[i]!.toString().toLowerCase();
    if (opt === 'auth' && i + 2 < argv.length) {
      const result = authenticate(ctx, conn, argv[i + 1], argv[i + 2]!);
      if (result.kind === 'error') return result;
      i += 2;
    } else if (opt === 'setname' && i + 1 < argv.length) {
      name = argv[++i]!.toString();
    } else {
      return error(`ERR Syntax error in HELLO option '${argv[i]!.toString()}'`);
    }
  }
  if (!conn.authenticated)
    return error(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  if (name !== undefined) {
    if (!validClientName(name)) return error('ERR Client names cannot contain spaces, newlines or special characters.');
    conn.name = name === '' ? undefined : name;
  }
  conn.protocol = protocol;
  return helloReply(conn);
};

function validClientName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

/** One CLIENT LIST / CLIENT INFO line, with the fields clients and tools parse. */
function clientLine(conn: ClientConnection, nowMs: number): string {
  const addr = `${conn.socket.remoteAddress ?? '?'}:${conn.socket.remotePort ?? 0}`;
  const laddr = `${conn.socket.localAddress ?? '?'}:${conn.socket.localPort ?? 0}`;
  const age = Math.floor((nowMs - conn.createdAtMs) / 1000);
  return (
    `id=${conn.id} addr=${addr} laddr=${laddr} fd=0 name=${conn.name ?? ''} age=${age} idle=0 flags=${conn.readonlyMode ? 'r' : 'N'} ` +
    `db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 ` +
    `events=r cmd=${conn.lastCommand || 'NULL'} user=default redir=-1 resp=${conn.protocol} lib-name=${conn.libName} lib-ver=${conn.libVersion}\n`
  );
}

const client: ServerHandler = (ctx, conn, argv) => {
  const sub = argv[1]!.toString().toLowerCase();
  switch (sub) {
    case 'id':
      return argv.length === 2 ? int(conn.id) : wrongArgs('client|id');
    case 'getname':
      return argv.length === 2 ? bulkOrNull(conn.name) : wrongArgs('client|getname');
    case 'setname': {
      if (argv.length !== 3) return wrongArgs('client|setname');
      const name = argv[2]!.toString();
      if (!validClientName(name)) return error('ERR Client names cannot contain spaces, newlines or special characters.');
      conn.name = name === '' ? undefined : name;
      return OK;
    }
    case 'info':
      return argv.length === 2 ? { kind: 'verbatim', format: 'txt', text: clientLine(conn, Date.now()) } : wrongArgs('client|info');
    case 'list': {
      const now = Date.now();
      let text = '';
      for (const c of ctx.connections.values()) text += clientLine(c, now);
      return { kind: 'verbatim', format: 'txt', text };
    }
    case 'setinfo': {
      if (argv.length !== 4) return wrongArgs('client|setinfo');
      const attr = argv[2]!.toString().toLowerCase();
      const value = argv[3]!.toString();
      if (!validClientName(value) && value !== '') return error(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
      if (attr === 'lib-name') conn.libName = value;
      else if (attr === 'lib-ver') conn.libVersion = value;
      else return error(`ERR Unrecognized option '${argv[2]!.toString()}'`);
      return OK;
    }
    case 'help':
      return array(
        ['CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', 'ID', 'GETNAME', 'SETNAME <name>', 'INFO', 'LIST', 'SETINFO <option> <value>'].map((l) => simple(l)),
      );
    default:
      return unknownSub('CLIENT', argv[1]!);
  }
};

const command: ServerHandler = (_ctx, _conn, argv) => {
  if (argv.length === 1) return array(allCommands().map(commandInfoReply));
  const sub = argv[1]!.toString().toLowerCase();
  switch (sub) {
    case 'count':
      return argv.length === 2 ? int(allCommands().length) : wrongArgs('command|count');
    case 'info': {
      const names = argv.length === 2 ? allCommands().map((s) => s.name) : argv.slice(2).map((a) => a.toString());
      return array(
        names.map((n) => {
          const spec = findCommand(n);
          return spec === undefined ? NULL : commandInfoReply(spec);
        }),
      );
    }
    case 'docs': {
      const specs =
        argv.length === 2
          ? allCommands()
          : argv
              .slice(2)
              .map((a) => findCommand(a))
              .filter((s) => s !== undefined);
      return map(specs.map((s) => [bulk(s.name), commandDocsReply(s)] as const));
    }
    case 'help':
      return array(
        ['COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', '(no subcommand)', 'COUNT', 'INFO [<command-name> ...]', 'DOCS [<command-name> ...]'].map((l) =>
          simple(l),
        ),
      );
    default:
      return unknownSub('COMMAND', argv[1]!);
  }
};

/** The few CONFIG parameters tools ask about, with fixed values: cleave's configuration lives in its flags. */
function configParameters(ctx: NodeContext): [string, string][] {
  return [
    ['save', ''],
    ['appendonly', 'no'],
    ['maxmemory', '0'],
    ['databases', '1'],
    ['cluster-enabled', 'yes'],
    ['port', String(ctx.port)],
    ['bind', ctx.host],
    ['requirepass', ''],
    ['proto-max-bulk-len', '536870912'],
  ];
}

const config: ServerHandler = (ctx, _conn, argv) => {
  const sub = argv[1]!.toString().toLowerCase();
  if (sub === 'get') {
    if (argv.length < 3) return wrongArgs('config|get');
    const patterns = argv.slice(2);
    const found = configParameters(ctx).filter(([name]) => patterns.some((p) => globMatch(p, Buffer.from(name), true)));
    return map(found.map(([k, v]) => [bulk(k), bulk(v)] as const));
  }
  if (sub === 'set') {
    if (argv.length < 4 || argv.length % 2 !== 0) return wrongArgs('config|set');
    return error(`ERR Unknown option or number of arguments for CONFIG SET - '${argv[2]!.toString()}'`);
  }
  if (sub === 'resetstat') return OK;
  return unknownSub('CONFIG', argv[1]!);
};

function infoText(ctx: NodeContext, sections: Set<string>): string {
  const all = sections.size === 0 || sections.has('all') || sections.has('everything') || sections.has('default');
  const nowMs = Date.now();
  const mem = process.memoryUsage();
  const replicas = ctx.ledReplicas();
  const keys = replicas.reduce((n, r) => n + r.data.keyCount, 0);
  const out: string[] = [];
  const section = (name: string, fields: [string, string | number][]): void => {
    if (!all && !sections.has(name.toLowerCase())) return;
    out.push(`# ${name}\r\n${fields.map(([k, v]) => `${k}:${v}\r\n`).join('')}`);
  };
  section('Server', [
    ['redis_version', REDIS_COMPAT_VERSION],
    ['redis_mode', 'cluster'],
    ['cleave_node_id', ctx.selfId ?? ''],
    ['os', process.platform],
    ['arch_bits', 64],
    ['process_id', process.pid],
    ['tcp_port', ctx.port],
    ['uptime_in_seconds', Math.floor((nowMs - ctx.startedAtMs) / 1000)],
    ['executable', process.argv[1] ?? ''],
  ]);
  section('Clients', [['connected_clients', ctx.connections.size]]);
  section('Memory', [
    ['used_memory', mem.heapUsed],
    ['used_memory_rss', mem.rss],
    ['maxmemory', 0],
  ]);
  section('Persistence', [
    ['loading', 0],
    ['aof_enabled', 0],
  ]);
  section('Stats', [
    ['total_connections_received', ctx.stats.connectionsReceived],
    ['total_commands_processed', ctx.stats.commandsProcessed],
    ['instantaneous_ops_per_sec', ctx.stats.opsPerSec],
  ]);
  section('Replication', [
    ['role', 'master'],
    ['connected_slaves', 0],
  ]);
  section('Cluster', [['cluster_enabled', 1]]);
  section('Keyspace', keys > 0 ? [['db0', `keys=${keys},expires=0,avg_ttl=0`]] : []);
  return out.join('\r\n');
}

const info: ServerHandler = (ctx, _conn, argv) => {
  const sections = new Set(argv.slice(1).map((a) => a.toString().toLowerCase()));
  return { kind: 'verbatim', format: 'txt', text: infoText(ctx, sections) };
};

const ping: ServerHandler = (_ctx, _conn, argv) => {
  if (argv.length > 2) return wrongArgs('ping');
  return argv.length === 2 ? bulk(argv[1]!) : simple('PONG');
};

const time: ServerHandler = () => {
  const nowUs = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
  return array([bulk(String(nowUs / 1_000_000n)), bulk(String(nowUs % 1_000_000n))]);
};

const select: ServerHandler = (_ctx, _conn, argv) => {
  const db = argv[1]!.toString();
  if (!/^-?\d+$/.test(db)) return error('ERR value is not an integer or out of range');
  return db === '0' ? OK : error('ERR SELECT is not allowed in cluster mode');
};

const reset: ServerHandler = (ctx, conn) => {
  conn.name = undefined;
  conn.protocol = 2;
  conn.readonlyMode = false;
  conn.asking = false;
  conn.inRefusedTransaction = false;
  conn.authenticated = ctx.requirepass === undefined;
  return simple('RESET');
};

/**
 * MULTI, EXEC and DISCARD while transactions are not supported: MULTI is refused and opens a block in
 * which every command is refused too, and EXEC aborts it, as Redis does for a transaction with an error
 * queued. A client library that ignores MULTI's error still applies nothing.
 */
const multi: ServerHandler = (_ctx, conn) => {
  if (conn.inRefusedTransaction) return error('ERR MULTI calls can not be nested');
  conn.inRefusedTransaction = true;
  return error('ERR MULTI is not supported by cleave yet; the commands up to EXEC or DISCARD will be refused');
};

const exec: ServerHandler = (_ctx, conn) => {
  if (!conn.inRefusedTransaction) return error('ERR EXEC without MULTI');
  conn.inRefusedTransaction = false;
  return error('EXECABORT Transaction discarded because of previous errors.');
};

const discard: ServerHandler = (_ctx, conn) => {
  if (!conn.inRefusedTransaction) return error('ERR DISCARD without MULTI');
  conn.inRefusedTransaction = false;
  return OK;
};

/**
 * DEBUG, off unless the node runs with --enable-debug-command (as Redis's enable-debug-command). Its
 * subcommands cut this node's bus links for failure tests: PARTITION <node-id>... drops all traffic
 * between this node and those nodes; PARTITION-ONEWAY <node-id>... drops only what this node sends to
 * them, while what they send still arrives (the other direction is cut by sending it to them, naming
 * this node); HEAL restores every link.
 */
const debug: ServerHandler = (ctx, _conn, argv) => {
  const faults = ctx.debugFaults();
  if (faults === undefined) {
    return error(
      'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.',
    );
  }
  const sub = argv[1]!.toString().toLowerCase();
  if ((sub === 'partition' || sub === 'partition-oneway') && argv.length > 2 && ctx.selfId !== undefined) {
    faults.partition(
      [ctx.selfId],
      argv.slice(2).map((a) => a.toString()),
      sub === 'partition' ? 'both' : 'a-to-b',
    );
    return OK;
  }
  if (sub === 'heal' && argv.length === 2) {
    faults.heal();
    return OK;
  }
  return unknownSub('DEBUG', argv[1]!);
};

export const SERVER_COMMANDS: ReadonlyMap<string, ServerHandler> = new Map<string, ServerHandler>([
  ['debug', debug],
  ['ping', ping],
  ['echo', (_ctx, _conn, argv) => bulk(argv[1]!)],
  ['hello', hello],
  ['auth', auth],
  ['select', select],
  [
    'quit',
    (_ctx, conn) => {
      conn.closing = true;
      return OK;
    },
  ],
  ['reset', reset],
  ['client', client],
  ['command', command],
  ['config', config],
  ['info', info],
  ['time', time],
  [
    'readonly',
    (_ctx, conn) => {
      conn.readonlyMode = true;
      return OK;
    },
  ],
  [
    'readwrite',
    (_ctx, conn) => {
      conn.readonlyMode = false;
      return OK;
    },
  ],
  [
    'asking',
    (_ctx, conn) => {
      conn.asking = true;
      return OK;
    },
  ],
  ['multi', multi],
  ['exec', exec],
  ['discard', discard],
]);
