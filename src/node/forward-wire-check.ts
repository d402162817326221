/**
 * The wire of a forwarded command (docs/ARCHITECTURE.md, request path): a node sends a client's key
 * command to the node that leads the slot's shard, which runs it as a client's and answers the reply.
 * Both directions are checked on arrival, with limits, since they come from a peer: the request before
 * the dispatcher sees it, the reply before it is written to the client.
 */
import type { Reply } from '../resp/reply.js';
import { MULTIBULK_LENGTH_MAX_DEFAULT } from '../resp/parser.js';
import type { ProtocolVersion } from '../resp/writer.js';

/** A client's command as the serving node runs it, and the protocol its reply is encoded in. */
export interface ForwardRequest {
  readonly argv: readonly Uint8Array[];
  readonly protocol: ProtocolVersion;
}

/** Bound on the arguments of a forwarded command: the client parser's own. */
export const FORWARD_ARGV_COUNT_MAX = MULTIBULK_LENGTH_MAX_DEFAULT;
/** Bound on the bytes of a forwarded command's arguments; a larger command is answered with the redirect. */
export const FORWARD_ARGV_BYTES_MAX = 16 * 1024 * 1024;
/** Bound on the nesting of a forwarded reply (key commands nest two deep at most). */
const REPLY_DEPTH_MAX = 16;

/** The bytes of `argv`, when it may be forwarded; undefined when it is too large to. */
export function forwardableBytes(argv: readonly Uint8Array[]): number | undefined {
  if (argv.length === 0 || argv.length > FORWARD_ARGV_COUNT_MAX) return undefined;
  let bytes = 0;
  for (const arg of argv) bytes += arg.byteLength;
  return bytes <= FORWARD_ARGV_BYTES_MAX ? bytes : undefined;
}

export function isForwardRequest(payload: unknown): payload is ForwardRequest {
  if (typeof payload !== 'object' || payload === null) return false;
  const { argv, protocol } = payload as Record<string, unknown>;
  if (protocol !== 2 && protocol !== 3) return false;
  if (!Array.isArray(argv)) return false;
  for (const arg of argv) if (!(arg instanceof Uint8Array)) return false;
  return forwardableBytes(argv as Uint8Array[]) !== undefined;
}

/** The arguments as the dispatcher takes them (views of the same bytes). */
export function argvOf(request: ForwardRequest): Buffer[] {
  return request.argv.map((arg) => Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength));
}

/** A reply from the serving node, as a Reply the writer encodes (byte strings as Buffers); undefined if malformed. */
export function forwardedReply(payload: unknown, depth = 0): Reply | undefined {
  if (typeof payload !== 'object' || payload === null || depth > REPLY_DEPTH_MAX) return undefined;
  const reply = payload as Record<string, unknown>;
  switch (reply['kind']) {
    case 'simple':
      return typeof reply['value'] === 'string' ? { kind: 'simple', value: reply['value'] } : undefined;
    case 'error':
      return typeof reply['message'] === 'string' ? { kind: 'error', message: reply['message'] } : undefined;
    case 'int': {
      const value = reply['value'];
      return typeof value === 'bigint' || Number.isSafeInteger(value) ? { kind: 'int', value: value as number | bigint } : undefined;
    }
    case 'bulk': {
      const value = reply['value'];
      if (typeof value === 'string') return { kind: 'bulk', value };
      return value instanceof Uint8Array ? { kind: 'bulk', value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) } : undefined;
    }
    case 'null':
    case 'null-array':
      return { kind: reply['kind'] };
    case 'array':
    case 'set': {
      const items = replies(reply['items'], depth);
      return items === undefined ? undefined : { kind: reply['kind'], items };
    }
    case 'map': {
      const entries = reply['entries'];
      if (!Array.isArray(entries)) return undefined;
      const out: (readonly [Reply, Reply])[] = [];
      for (const entry of entries) {
        const pair = replies(entry, depth);
        if (pair === undefined || pair.length !== 2) return undefined;
        out.push([pair[0]!, pair[1]!]);
      }
      return { kind: 'map', entries: out };
    }
    case 'double':
      return typeof reply['value'] === 'number' ? { kind: 'double', value: reply['value'] } : undefined;
    case 'bool':
      return typeof reply['value'] === 'boolean' ? { kind: 'bool', value: reply['value'] } : undefined;
    case 'verbatim': {
      const { format, text } = reply;
      // The writer asserts a 3-byte format: a peer's must not reach that assertion.
      return typeof format === 'string' && Buffer.byteLength(format) === 3 && typeof text === 'string' ? { kind: 'verbatim', format, text } : undefined;
    }
    default:
      return undefined;
  }
}

function replies(value: unknown, depth: number): Reply[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Reply[] = [];
  for (const item of value) {
    const reply = forwardedReply(item, depth + 1);
    if (reply === undefined) return undefined;
    out.push(reply);
  }
  return out;
}
