/**
 * Encodes replies as RESP2 or RESP3, byte for byte as Redis 7.0 does. RESP3 types are written natively;
 * for RESP2 they are downgraded the way Redis downgrades them: map → flat array of key, value; set →
 * array; double → bulk string; bool → integer 1/0; null → `$-1`; null array → `*-1`; verbatim → bulk.
 *
 * `ReplyWriter` appends many replies into large pooled chunks and hands out the written bytes once per
 * event-loop turn, so a pipeline of a thousand GETs costs one `socket.write`, not a thousand.
 */
import { NULL, NULL_ARRAY, OK, ONE, ZERO } from './reply.js';
import type { Reply } from './reply.js';

/** RESP protocol version of a connection: 2 until the client says `HELLO 3`. */
export type ProtocolVersion = 2 | 3;

/** Sizing of a ReplyWriter. */
export interface ReplyWriterOptions {
  /** Protocol to encode with; changeable later through `protocol`. Default 2. */
  readonly protocol?: ProtocolVersion;
  /** Size of each pooled output chunk. Default 16 KiB. */
  readonly chunkBytes?: number;
  /**
   * Bulk Buffers at least this large are handed out as they are instead of being copied. The caller must
   * not modify such a Buffer afterwards (stored values are immutable). Default 16 KiB.
   */
  readonly zeroCopyMinBytes?: number;
}

const CR = 13;
const LF = 10;
const PLUS = 43;
const MINUS = 45;
const COLON = 58;
const DOLLAR = 36;
const STAR = 42;
const PERCENT = 37;
const TILDE = 126;
const COMMA = 44;
const EQUALS = 61;

const CHUNK_BYTES_DEFAULT = 16 * 1024;
const ZERO_COPY_BYTES_MIN_DEFAULT = 16 * 1024;
/** Room for `<prefix>-9223372036854775808\r\n` and then some. */
const NUMBER_LINE_BYTES_MAX = 32;
/** Raw buffers up to this size are copied into the chunk rather than handed out as their own segment. */
const RAW_COPY_BYTES_MAX = 256;

/** Encoded replies the server sends often, ready to `writeRaw` or to write to a socket directly. */
export const ENCODED = {
  /** `+OK` */
  ok: Buffer.from('+OK\r\n'),
  /** `+PONG` */
  pong: Buffer.from('+PONG\r\n'),
  /** `+QUEUED` */
  queued: Buffer.from('+QUEUED\r\n'),
  /** RESP2 null bulk string. */
  nullBulk: Buffer.from('$-1\r\n'),
  /** RESP2 null array. */
  nullArray: Buffer.from('*-1\r\n'),
  /** RESP3 null (for null bulk and null array alike). */
  null3: Buffer.from('_\r\n'),
  /** `:0` */
  zero: Buffer.from(':0\r\n'),
  /** `:1` */
  one: Buffer.from(':1\r\n'),
  /** Empty array. */
  emptyArray: Buffer.from('*0\r\n'),
  /** Empty bulk string. */
  emptyBulk: Buffer.from('$0\r\n\r\n'),
  /** Redis's syntax error. */
  syntaxError: Buffer.from('-ERR syntax error\r\n'),
  /** Redis's WRONGTYPE error. */
  wrongType: Buffer.from('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
  /** Redis's error for a non-integer argument. */
  notInteger: Buffer.from('-ERR value is not an integer or out of range\r\n'),
} as const;

/**
 * Accumulates encoded replies of one connection. Typical use: `write` every reply produced while handling
 * a chunk of commands, then once per turn `take()` and `socket.write` the result.
 */
export class ReplyWriter {
  /** Protocol used by the next `write`; HELLO switches it. */
  protocol: ProtocolVersion;
  /** Size of each pooled output chunk. */
  readonly chunkBytes: number;
  /** Bulk Buffers at least this large are not copied. */
  readonly zeroCopyMinBytes: number;

  // Replies are written at `pos` in `chunk`; [start, pos) is written but not yet sealed into `out`.
  // Handed-out segments are views of chunks; later writes only go past them, never over them.
  private chunk: Buffer;
  private start = 0;
  private pos = 0;
  private out: Buffer[] = [];
  private outBytes = 0;

  /** Creates a writer; its first chunk is allocated at once. */
  constructor(options: ReplyWriterOptions = {}) {
    this.protocol = options.protocol ?? 2;
    this.chunkBytes = options.chunkBytes ?? CHUNK_BYTES_DEFAULT;
    this.zeroCopyMinBytes = options.zeroCopyMinBytes ?? ZERO_COPY_BYTES_MIN_DEFAULT;
    if (!Number.isSafeInteger(this.chunkBytes) || this.chunkBytes < NUMBER_LINE_BYTES_MAX) {
      throw new Error(`assertion failed: ReplyWriter chunkBytes too small: ${this.chunkBytes}`);
    }
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
  }

  /** Bytes written and not yet taken. */
  get pendingBytes(): number {
    return this.outBytes + (this.pos - this.start);
  }

  /**
   * Appends one reply, encoded for `protocol` (default: the writer's `protocol`). Passing it per reply
   * lets the connection own the version HELLO negotiated.
   */
  write(reply: Reply, protocol: ProtocolVersion = this.protocol): void {
    this.encode(reply, protocol === 3);
  }

  /** Appends bytes that are already RESP, e.g. one of `ENCODED`. Large ones are not copied. */
  writeRaw(bytes: Buffer): void {
    if (bytes.length <= RAW_COPY_BYTES_MAX) {
      this.copy(bytes);
      return;
    }
    this.seal();
    this.out.push(bytes);
    this.outBytes += bytes.length;
  }

  /** Appends a bulk string reply without building a Reply object (the GET hot path). */
  writeBulk(value: Buffer | string): void {
    this.bulk(value);
  }

  /** Appends an error reply; `message` is the line without its '-', e.g. `ERR unknown command`. */
  writeError(message: string): void {
    this.line(MINUS, message);
  }

  /**
   * Everything written since the last take as one Buffer (segments are concatenated only when a large
   * bulk was handed out uncopied or a chunk filled up), or `undefined` when nothing was written. The
   * Buffer stays valid after further writes: hand it straight to `socket.write`.
   */
  take(): Buffer | undefined {
    const bytes = this.pendingBytes;
    const out = this.takeBuffers();
    if (out.length === 0) return undefined;
    if (out.length === 1) return out[0];
    return Buffer.concat(out, bytes);
  }

  /**
   * Like `take`, without concatenating: the buffers to write in order (empty when nothing), for a
   * `socket.cork()` … `uncork()` sequence that avoids copying large values.
   */
  takeBuffers(): Buffer[] {
    this.seal();
    const out = this.out;
    if (out.length === 0) return out;
    this.out = [];
    this.outBytes = 0;
    return out;
  }

  private encode(reply: Reply, resp3: boolean): void {
    // The shared constants are the most frequent replies: skip the generic encoder for them.
    if (reply === OK) return this.copy(ENCODED.ok);
    if (reply === NULL) return this.copy(resp3 ? ENCODED.null3 : ENCODED.nullBulk);
    if (reply === ZERO) return this.copy(ENCODED.zero);
    if (reply === ONE) return this.copy(ENCODED.one);
    if (reply === NULL_ARRAY) return this.copy(resp3 ? ENCODED.null3 : ENCODED.nullArray);
    switch (reply.kind) {
      case 'simple':
        this.line(PLUS, reply.value);
        return;
      case 'error':
        this.line(MINUS, reply.message);
        return;
      case 'int':
        this.integer(COLON, reply.value);
        return;
      case 'bulk':
        this.bulk(reply.value);
        return;
      case 'null':
        this.copy(resp3 ? ENCODED.null3 : ENCODED.nullBulk);
        return;
      case 'null-array':
        this.copy(resp3 ? ENCODED.null3 : ENCODED.nullArray);
        return;
      case 'array':
        this.integer(STAR, reply.items.length);
        for (const item of reply.items) this.encode(item, resp3);
        return;
      case 'set':
        this.integer(resp3 ? TILDE : STAR, reply.items.length);
        for (const item of reply.items) this.encode(item, resp3);
        return;
      case 'map':
        if (resp3) this.integer(PERCENT, reply.entries.length);
        else this.integer(STAR, reply.entries.length * 2);
        for (const [key, value] of reply.entries) {
          this.encode(key, resp3);
          this.encode(value, resp3);
        }
        return;
      case 'double':
        if (resp3) this.line(COMMA, formatDouble(reply.value));
        else this.bulk(formatDouble(reply.value));
        return;
      case 'bool':
        if (resp3) this.copy(reply.value ? TRUE3 : FALSE3);
        else this.copy(reply.value ? ENCODED.one : ENCODED.zero);
        return;
      case 'verbatim': {
        if (!resp3) {
          this.bulk(reply.text);
          return;
        }
        const formatBytes = Buffer.byteLength(reply.format);
        if (formatBytes !== 3) {
          throw new Error(`assertion failed: verbatim format must be 3 bytes, got '${reply.format}'`);
        }
        const textBytes = Buffer.byteLength(reply.text);
        this.integer(EQUALS, textBytes + 4);
        this.ensure(textBytes + 6);
        let p = this.pos;
        p += this.chunk.write(reply.format, p, 'utf8');
        this.chunk[p++] = COLON;
        p += this.chunk.write(reply.text, p, textBytes, 'utf8');
        this.chunk[p++] = CR;
        this.chunk[p++] = LF;
        this.pos = p;
        return;
      }
      default: {
        const unknown: never = reply;
        throw new Error(`assertion failed: unknown reply kind ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** `<prefix><text>\r\n` for simple strings, errors and doubles; \r and \n become spaces (as in Redis). */
  private line(prefix: number, text: string): void {
    const safe = text.indexOf('\r') === -1 && text.indexOf('\n') === -1 ? text : text.replace(/[\r\n]/g, ' ');
    const bytes = Buffer.byteLength(safe, 'utf8');
    this.ensure(bytes + 3);
    const chunk = this.chunk;
    let p = this.pos;
    chunk[p++] = prefix;
    p += chunk.write(safe, p, bytes, 'utf8');
    chunk[p++] = CR;
    chunk[p++] = LF;
    this.pos = p;
  }

  /** `$<len>\r\n<bytes>\r\n`; a large Buffer becomes its own output segment instead of being copied. */
  private bulk(value: Buffer | string): void {
    if (typeof value === 'string') {
      const bytes = Buffer.byteLength(value, 'utf8');
      this.integer(DOLLAR, bytes);
      this.ensure(bytes + 2);
      const chunk = this.chunk;
      let p = this.pos;
      p += chunk.write(value, p, bytes, 'utf8');
      chunk[p++] = CR;
      chunk[p++] = LF;
      this.pos = p;
      return;
    }
    const bytes = value.length;
    this.integer(DOLLAR, bytes);
    if (bytes >= this.zeroCopyMinBytes) {
      this.seal();
      this.out.push(value);
      this.outBytes += bytes;
      this.ensure(2);
    } else {
      this.ensure(bytes + 2);
      this.chunk.set(value, this.pos);
      this.pos += bytes;
    }
    this.chunk[this.pos++] = CR;
    this.chunk[this.pos++] = LF;
  }

  /** `<prefix><integer>\r\n`: integer replies and the length headers of bulks and aggregates. */
  private integer(prefix: number, value: number | bigint): void {
    if (typeof value === 'bigint' || !Number.isSafeInteger(value)) {
      if (typeof value === 'number') {
        throw new Error(`assertion failed: integer reply must be a safe integer or a bigint, got ${value}`);
      }
      this.line(prefix, value.toString());
      return;
    }
    this.ensure(NUMBER_LINE_BYTES_MAX);
    const chunk = this.chunk;
    let p = this.pos;
    chunk[p++] = prefix;
    let n = value;
    if (n < 0) {
      chunk[p++] = MINUS;
      n = -n;
    }
    if (n < 10) {
      chunk[p++] = 48 + n;
    } else {
      // Digits are written from the last one back, after counting them.
      let digits = 1;
      for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
      let q = p + digits - 1;
      while (n >= 10) {
        const next = Math.floor(n / 10);
        chunk[q--] = 48 + (n - next * 10);
        n = next;
      }
      chunk[q] = 48 + n;
      p += digits;
    }
    chunk[p++] = CR;
    chunk[p++] = LF;
    this.pos = p;
  }

  private copy(bytes: Buffer): void {
    this.ensure(bytes.length);
    this.chunk.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Makes room for `bytes` contiguous bytes, moving to a fresh chunk when the current one is full. */
  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.chunk.length) return;
    this.seal();
    this.chunk = Buffer.allocUnsafe(Math.max(this.chunkBytes, bytes));
    this.start = 0;
    this.pos = 0;
  }

  /** Moves the written bytes of the current chunk to the output list. */
  private seal(): void {
    if (this.pos === this.start) return;
    this.out.push(this.chunk.subarray(this.start, this.pos));
    this.outBytes += this.pos - this.start;
    this.start = this.pos;
  }
}

const TRUE3 = Buffer.from('#t\r\n');
const FALSE3 = Buffer.from('#f\r\n');

/** One writer for `encodeReply`: its handed-out views stay valid because writes only move forward. */
const oneShotWriter = new ReplyWriter({ chunkBytes: 4096, zeroCopyMinBytes: Number.MAX_SAFE_INTEGER });

/** Encodes one reply (tests, one-off replies such as the error before closing a connection). */
export function encodeReply(reply: Reply, protocol: ProtocolVersion): Buffer {
  oneShotWriter.write(reply, protocol);
  return oneShotWriter.take() ?? Buffer.alloc(0);
}

/**
 * Formats a double like Redis 7.0's addReplyDouble: `inf`, `-inf`, `nan`, otherwise C's `%.17g`
 * (17 significant digits, trailing zeros dropped, exponent form below 1e-4 and from 1e17: `3`, `1.5`,
 * `0.10000000000000001`, `1e+17`). Rounding is glibc's: exact value, ties to even.
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const sign = value < 0 ? '-' : '';
  const magnitude = Math.abs(value);
  const exponential = magnitude.toExponential(16);
  const ePos = exponential.indexOf('e');
  let digits = exponential[0]! + exponential.slice(2, ePos);
  const exponent = Number(exponential.slice(ePos + 1));
  // JavaScript breaks an exact tie upward, glibc to the even digit: step back when that differs.
  const last = digits.charCodeAt(16) - 48;
  if (last % 2 === 1 && isTieRoundedUp(magnitude, digits, exponent)) {
    digits = digits.slice(0, 16) + String(last - 1);
  }
  if (exponent < -4 || exponent >= 17) {
    const fraction = stripTrailingZeros(digits.slice(1));
    const mantissa = fraction === '' ? digits[0]! : `${digits[0]!}.${fraction}`;
    const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${exponentDigits}`;
  }
  if (exponent >= 0) {
    const fraction = stripTrailingZeros(digits.slice(exponent + 1));
    const whole = digits.slice(0, exponent + 1);
    return fraction === '' ? `${sign}${whole}` : `${sign}${whole}.${fraction}`;
  }
  return `${sign}0.${'0'.repeat(-exponent - 1)}${stripTrailingZeros(digits)}`;
}

function stripTrailingZeros(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 48) end--;
  return text.slice(0, end);
}

/**
 * Whether `magnitude` lies exactly halfway between `digits`×10^(exponent-16) and the value one unit in the
 * last digit below it (so JavaScript rounded a tie up). Cheap filter first, exact BigInt check after.
 */
function isTieRoundedUp(magnitude: number, digits: string, exponent: number): boolean {
  const wide = magnitude.toExponential(20);
  // A tie has the 18th significant digit 5 and nothing after it.
  if (wide[18] !== '5' || wide[19] !== '0' || wide[20] !== '0' || wide[21] !== '0') return false;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, magnitude);
  const high = view.getUint32(0);
  const biasedExponent = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let power2: number;
  if (biasedExponent === 0) {
    power2 = -1074;
  } else {
    mantissa |= 1n << 52n;
    power2 = biasedExponent - 1075;
  }
  // magnitude = mantissa·2^power2; the tie is (2·digits − 1)·10^(exponent−16) / 2.
  let left = mantissa;
  let right = 2n * BigInt(digits) - 1n;
  const shift = power2 + 1;
  if (shift >= 0) left <<= BigInt(shift);
  else right <<= BigInt(-shift);
  const power10 = exponent - 16;
  if (power10 >= 0) right *= 10n ** BigInt(power10);
  else left *= 10n ** BigInt(-power10);
  return left === right;
}
