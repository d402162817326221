/**
 * Error replies with Redis 7's exact texts, and the builders for the messages the dispatcher sends
 * (arity, unknown command, unknown subcommand). Clients match on these strings, so never reword them.
 */
import { error } from '../resp/reply.js';
import type { Reply } from '../resp/reply.js';

export const WRONGTYPE: Reply = error('WRONGTYPE Operation against a key holding the wrong kind of value');
export const SYNTAX_ERROR: Reply = error('ERR syntax error');
export const NOT_INTEGER: Reply = error('ERR value is not an integer or out of range');
export const NOT_FLOAT: Reply = error('ERR value is not a valid float');
export const OVERFLOW: Reply = error('ERR increment or decrement would overflow');
export const DECREMENT_OVERFLOW: Reply = error('ERR decrement would overflow');
export const NAN_OR_INFINITY: Reply = error('ERR increment would produce NaN or Infinity');
export const NO_SUCH_KEY: Reply = error('ERR no such key');
export const STRING_TOO_LONG: Reply = error('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
export const OFFSET_OUT_OF_RANGE: Reply = error('ERR offset is out of range');
export const INVALID_CURSOR: Reply = error('ERR invalid cursor');

/** `ERR invalid expire time in 'set' command`; `name` is the command's registered (lower-case) name. */
export function invalidExpireTime(name: string): Reply {
  return error(`ERR invalid expire time in '${name}' command`);
}

/** The arity error; `name` is the spec's full name, e.g. `get` or `client|setname`, as Redis prints it. */
export function arityErrorMessage(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}

/** Redis caps each echoed part of an unknown-command error at this many bytes. */
const ECHO_BYTES_MAX = 128;

/**
 * `ERR unknown command 'foo', with args beginning with: 'a' 'b' `: each argument is quoted and followed by a
 * space, and arguments are echoed only while the list is shorter than 128 bytes (each one cut to what is
 * left), as Redis's processCommand does. CR and LF become spaces so the error stays on one line.
 */
export function unknownCommandMessage(argv: readonly Buffer[]): string {
  const parts: Buffer[] = [];
  let used = 0;
  for (let i = 1; i < argv.length && used < ECHO_BYTES_MAX; i++) {
    const arg = argv[i]!.subarray(0, ECHO_BYTES_MAX - used);
    parts.push(Buffer.from("'"), arg, Buffer.from("' "));
    used += arg.length + 3;
  }
  const name = echoed(argv[0] ?? Buffer.alloc(0));
  return sanitize(`ERR unknown command '${name}', with args beginning with: ${Buffer.concat(parts).toString()}`);
}

/** `ERR unknown subcommand 'x'. Try CLIENT HELP.`: the container name is upper-cased as Redis does. */
export function unknownSubcommandMessage(argv: readonly Buffer[]): string {
  // ASCII only, like C's toupper: other bytes are echoed as they came.
  const container = (argv[0] ?? Buffer.alloc(0)).toString().replace(/[a-z]/g, (c) => c.toUpperCase());
  const sub = echoed(argv[1] ?? Buffer.alloc(0));
  return sanitize(`ERR unknown subcommand '${sub}'. Try ${container} HELP.`);
}

function echoed(arg: Buffer): string {
  return arg.subarray(0, ECHO_BYTES_MAX).toString();
}

/** Redis replaces CR and LF in formatted errors with spaces, since the error line cannot hold them. */
function sanitize(message: string): string {
  return message.replace(/[\r\n]/g, ' ');
}
