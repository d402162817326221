import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { array, bulk, error, int, map, simple } from '../../src/resp/reply.js';
import type { Reply } from '../../src/resp/reply.js';
import {
  allCommands,
  arityErrorMessage,
  commandDocsReply,
  commandInfoReply,
  commandKeys,
  findCommand,
  findSubcommand,
  globMatch,
  resolveCommand,
  unknownCommandMessage,
  unknownSubcommandMessage,
} from '../../src/commands/table.js';
import type { CommandSpec } from '../../src/commands/types.js';

const argv = (...args: string[]): Buffer[] => args.map((a) => Buffer.from(a));
const set = (items: readonly Reply[]): Reply => ({ kind: 'set', items });

function spec(name: string): CommandSpec {
  const found = findCommand(name);
  assert.ok(found, name);
  return found;
}

const KEY_COMMANDS = `get set setnx setex psetex getset getdel getex mget mset msetnx incr decr incrby decrby
  incrbyfloat append strlen getrange setrange del unlink exists type rename renamenx expire pexpire expireat
  pexpireat expiretime pexpiretime ttl pttl persist hset hsetnx hget hmget hmset hdel hgetall hlen hexists
  hincrby hincrbyfloat hkeys hvals hstrlen hscan hrandfield`.split(/\s+/);
const SERVER_COMMANDS = `ping echo hello auth select quit reset client command info time debug dbsize scan keys randomkey
  flushall flushdb readonly readwrite asking cluster config multi exec discard`.split(/\s+/);
const SUBCOMMANDS: Record<string, string[]> = {
  client: ['setname', 'getname', 'id', 'info', 'list', 'setinfo'],
  command: ['count', 'info', 'docs'],
  cluster: ['slots', 'shards', 'nodes', 'info', 'keyslot', 'myid', 'replicas', 'slaves', 'countkeysinslot', 'getkeysinslot'],
  config: ['get', 'set'],
};

describe('command table', () => {
  it('holds every command, key commands with a handler and server commands without', () => {
    for (const name of KEY_COMMANDS) {
      assert.equal(spec(name).scope, 'key', name);
      assert.equal(typeof spec(name).apply, 'function', name);
    }
    for (const name of SERVER_COMMANDS) {
      assert.equal(spec(name).scope, 'server', name);
      assert.equal(spec(name).apply, undefined, name);
    }
    assert.equal(allCommands().length, KEY_COMMANDS.length + SERVER_COMMANDS.length);
    for (const [container, subs] of Object.entries(SUBCOMMANDS)) {
      assert.deepEqual(
        spec(container)
          .subcommands?.map((s) => s.name)
          .sort(),
        subs.map((s) => `${container}|${s}`).sort(),
      );
    }
  });

  it('finds commands in any case, from strings or bytes', () => {
    assert.equal(findCommand('GET')?.name, 'get');
    assert.equal(findCommand(Buffer.from('gEt'))?.name, 'get');
    assert.equal(findCommand(Buffer.from('hincrbyfloat'))?.name, 'hincrbyfloat');
    assert.equal(findCommand(Buffer.from('HINCRBYFLOATX')), undefined);
    assert.equal(findCommand('foo'), undefined);
    assert.equal(findCommand(Buffer.alloc(0)), undefined);
    assert.equal(findCommand('client|setname'), undefined);
    assert.equal(findSubcommand(spec('client'), 'SETNAME')?.name, 'client|setname');
    assert.equal(findSubcommand(spec('cluster'), Buffer.from('CountKeysInSlot'))?.name, 'cluster|countkeysinslot');
    assert.equal(findSubcommand(spec('client'), 'kill'), undefined);
    assert.equal(findSubcommand(spec('get'), 'x'), undefined);
  });

  it('resolves requests with Redis error texts', () => {
    const cases: [Buffer[], Reply | string][] = [
      [argv('foo', 'a', 'b'), "ERR unknown command 'foo', with args beginning with: 'a' 'b' "],
      [argv('Foo'), "ERR unknown command 'Foo', with args beginning with: "],
      [argv('foo', 'a\r\nb'), "ERR unknown command 'foo', with args beginning with: 'a  b' "],
      [argv('GET'), "ERR wrong number of arguments for 'get' command"],
      [argv('get', 'a', 'b'), "ERR wrong number of arguments for 'get' command"],
      [argv('client'), "ERR wrong number of arguments for 'client' command"],
      [argv('client', 'foo'), "ERR unknown subcommand 'foo'. Try CLIENT HELP."],
      [argv('Config', 'bad', 'x'), "ERR unknown subcommand 'bad'. Try CONFIG HELP."],
      [argv('client', 'setname'), "ERR wrong number of arguments for 'client|setname' command"],
      [argv('get', 'k'), 'get'],
      [argv('CLIENT', 'SetName', 'n'), 'client|setname'],
      [argv('mset', 'a', '1', 'b'), 'mset'],
      [argv('PING'), 'ping'],
    ];
    for (const [request, expected] of cases) {
      const resolved = resolveCommand(request);
      if (typeof expected === 'string' && !expected.startsWith('ERR')) {
        assert.ok('spec' in resolved && resolved.spec.name === expected, expected);
      } else {
        assert.deepEqual(resolved, { error: error(expected as string) });
      }
    }
  });

  it('echoes at most 128 bytes of the unknown command and its arguments', () => {
    const long = 'x'.repeat(200);
    assert.equal(unknownCommandMessage(argv(long, long, 'b')), `ERR unknown command '${'x'.repeat(128)}', with args beginning with: '${'x'.repeat(128)}' `);
    assert.equal(
      unknownCommandMessage(argv('foo', 'x'.repeat(100), 'y'.repeat(100))),
      `ERR unknown command 'foo', with args beginning with: '${'x'.repeat(100)}' '${'y'.repeat(25)}' `,
    );
    assert.equal(unknownSubcommandMessage(argv('cluster', 'nope')), "ERR unknown subcommand 'nope'. Try CLUSTER HELP.");
    assert.equal(arityErrorMessage('mset'), "ERR wrong number of arguments for 'mset' command");
  });

  it('finds keys by first/last/step', () => {
    const keys = (...args: string[]) => commandKeys(resolveSpec(args), argv(...args)).map((k) => k.toString());
    assert.deepEqual(keys('MSET', 'a', '1', 'b', '2', 'c', '3'), ['a', 'b', 'c']);
    assert.deepEqual(keys('MSETNX', 'a', '1'), ['a']);
    assert.deepEqual(keys('MGET', 'a', 'b', 'c'), ['a', 'b', 'c']);
    assert.deepEqual(keys('DEL', 'a', 'b'), ['a', 'b']);
    assert.deepEqual(keys('EXISTS', 'a'), ['a']);
    assert.deepEqual(keys('RENAME', 'a', 'b'), ['a', 'b']);
    assert.deepEqual(keys('GET', 'a'), ['a']);
    assert.deepEqual(keys('SET', 'a', 'v', 'EX', '10'), ['a']);
    assert.deepEqual(keys('HSET', 'h', 'f', 'v'), ['h']);
    assert.deepEqual(keys('EXPIRE', 'k', '10', 'NX'), ['k']);
    assert.deepEqual(keys('PING'), []);
    assert.deepEqual(keys('CLUSTER', 'KEYSLOT', 'k'), []);
  });

  it('answers COMMAND INFO for GET in Redis 7 shape', () => {
    assert.deepEqual(
      commandInfoReply(spec('get')),
      array([
        bulk('get'),
        int(2),
        set([simple('readonly'), simple('fast')]),
        int(1),
        int(1),
        int(1),
        set([simple('@read'), simple('@string'), simple('@fast')]),
        set([]),
        set([keySpec(['RO', 'access'], 1, 0, 1)]),
        set([]),
      ]),
    );
  });

  it('answers COMMAND INFO for MSET in Redis 7 shape', () => {
    assert.deepEqual(
      commandInfoReply(spec('mset')),
      array([
        bulk('mset'),
        int(-3),
        set([simple('write'), simple('denyoom')]),
        int(1),
        int(-1),
        int(2),
        set([simple('@write'), simple('@string'), simple('@slow')]),
        set([bulk('request_policy:multi_shard'), bulk('response_policy:all_succeeded')]),
        set([keySpec(['OW', 'update'], 1, -1, 2)]),
        set([]),
      ]),
    );
  });

  it('lists a container’s subcommands in COMMAND INFO', () => {
    const reply = commandInfoReply(spec('config'));
    assert.equal(reply.kind, 'array');
    const subs = reply.kind === 'array' ? reply.items[9] : undefined;
    assert.equal(subs?.kind, 'array');
    const names = subs?.kind === 'array' ? subs.items.map((s) => (s.kind === 'array' ? s.items[0] : undefined)) : [];
    assert.deepEqual(names, [bulk('config|get'), bulk('config|set')]);
  });

  it('answers COMMAND DOCS with summary, since, group, complexity, history and deprecation', () => {
    assert.deepEqual(
      commandDocsReply(spec('get')),
      map([
        [bulk('summary'), bulk('Get the value of a key')],
        [bulk('since'), bulk('1.0.0')],
        [bulk('group'), bulk('string')],
        [bulk('complexity'), bulk('O(1)')],
      ]),
    );
    const hmset = commandDocsReply(spec('hmset'));
    assert.ok(hmset.kind === 'map');
    assert.deepEqual(
      hmset.entries.map(([k]) => k),
      ['summary', 'since', 'group', 'complexity', 'doc_flags', 'deprecated_since', 'replaced_by'].map((k) => bulk(k)),
    );
    const setDocs = commandDocsReply(spec('set'));
    assert.ok(setDocs.kind === 'map');
    assert.deepEqual(setDocs.entries[4]![0], bulk('history'));
    const client = commandDocsReply(spec('client'));
    assert.ok(client.kind === 'map');
    const subcommands = client.entries.find(([k]) => k.kind === 'bulk' && k.value === 'subcommands')?.[1];
    assert.ok(subcommands?.kind === 'map');
    assert.deepEqual(subcommands.entries[0]![0], bulk('client|setname'));
  });
});

function resolveSpec(args: string[]): CommandSpec {
  const resolved = resolveCommand(argv(...args));
  assert.ok('spec' in resolved, args.join(' '));
  return resolved.spec;
}

function keySpec(flags: string[], index: number, lastKey: number, keyStep: number): Reply {
  return map([
    [bulk('flags'), set(flags.map((f) => simple(f)))],
    [
      bulk('begin_search'),
      map([
        [bulk('type'), bulk('index')],
        [bulk('spec'), map([[bulk('index'), int(index)]])],
      ]),
    ],
    [
      bulk('find_keys'),
      map([
        [bulk('type'), bulk('range')],
        [
          bulk('spec'),
          map([
            [bulk('lastkey'), int(lastKey)],
            [bulk('keystep'), int(keyStep)],
            [bulk('limit'), int(0)],
          ]),
        ],
      ]),
    ],
  ]);
}

describe('globMatch', () => {
  const cases: [pattern: string, subject: string, matches: boolean, nocase?: boolean][] = [
    ['*', 'anything', true],
    ['*', '', false], // Redis quirk: KEYS * and MATCH * bypass the matcher for this reason
    ['', '', true],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'hllo', true],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hello', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hallo', true],
    ['h[a-b]llo', 'hcllo', false],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['[\\]]', ']', true],
    ['[a\\-z]', '-', true],
    ['[a\\-z]', 'b', false],
    ['a\\', 'a\\', true],
    ['[abc', 'c', true],
    ['[^', 'x', true],
    ['*a*b', 'xaxb', true],
    ['*a*b', 'xaxbx', false],
    ['a*', '', false],
    ['a**', 'a', true],
    ['user:*:name', 'user:42:name', true],
    ['HELLO', 'hello', false],
    ['HELLO', 'hello', true, true],
    ['[A-C]x', 'bx', true, true],
    ['[a-c]x', 'Bx', true, true],
    ['[A-C]x', 'bx', false],
  ];
  for (const [pattern, subject, matches, nocase] of cases) {
    it(`${JSON.stringify(pattern)} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(subject)}${nocase ? ' (nocase)' : ''}`, () => {
      assert.equal(globMatch(Buffer.from(pattern), Buffer.from(subject), nocase ?? false), matches);
    });
  }

  it('is binary-safe and treats bytes above 0x7f as signed chars in ranges', () => {
    assert.equal(globMatch(Buffer.from([0x2a, 0x00]), Buffer.from([0x61, 0x00])), true);
    assert.equal(globMatch(Buffer.from([0x5b, 0x61, 0x2d, 0x7a, 0x5d]), Buffer.from([0xe9])), false);
    // [\x80-\x7f] is [-128, 127] as signed chars: every byte.
    assert.equal(globMatch(Buffer.from([0x5b, 0x80, 0x2d, 0x7f, 0x5d]), Buffer.from([0x41])), true);
  });

  it('stays fast on patterns that are exponential for naive matchers', () => {
    const pattern = Buffer.from(`${'a*'.repeat(30)}b`);
    const subject = Buffer.from('a'.repeat(60));
    assert.equal(globMatch(pattern, subject), false);
  });
});
