/**
 * One request over one short-lived RESP connection: what the CLI and the local cluster's supervisor need
 * to ask a node something, without a full client library.
 */
import { connect } from 'node:net';

export type RespValue = string | number | null | RespValue[] | RespErrorValue;

export class RespErrorValue {
  constructor(readonly message: string) {}
}

/** Parses one RESP2 value at `offset`; returns undefined when `buf` does not hold all of it yet. */
function parseValue(buf: Buffer, offset: number): { value: RespValue; end: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespErrorValue(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseValue(buf, at);
        if (item === undefined) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type byte '${type}'`);
  }
}

function encodeCommand(argv: readonly string[]): Buffer {
  let out = `*${argv.length}\r\n`;
  for (const arg of argv) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return Buffer.from(out);
}

/** Sends each command in order on one connection and resolves with their replies. */
export function respRequest(host: string, port: number, commands: readonly (readonly string[])[], timeoutMs = 5000): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = Buffer.alloc(0);
    const replies: RespValue[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(Buffer.concat(commands.map(encodeCommand))));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let parsed: ReturnType<typeof parseValue>;
      while ((parsed = parseValue(buffer, 0)) !== undefined) {
        replies.push(parsed.value);
        buffer = buffer.subarray(parsed.end);
      }
      if (replies.length >= commands.length) {
        socket.end();
        resolve(replies);
      }
    });
    socket.on('error', reject);
  });
}
