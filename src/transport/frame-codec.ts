/**
 * The bus's framing: each frame is a 4-byte big-endian body length followed by one msgpack value. Byte
 * fields of at least ATTACHMENT_BYTES_MIN are not copied into that value: it holds a placeholder, and the
 * bytes follow it as msgpack bin values, written from the sender's own buffers (a 100 MB entry costs no
 * copy to frame) and read back as views of the received body. Pure (no sockets), so it is tested byte by
 * byte without I/O.
 */
import { addExtension, Packr, Unpackr } from 'msgpackr';

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_BYTES = 4;

/** Room in a frame for what surrounds its largest byte field: envelope, message fields, other entries. */
export const FRAME_ENVELOPE_BYTES_MAX = 16 * 1024 * 1024;

/**
 * Default bound on one frame's body: one log entry as large as a client command may be (the RESP
 * parser's 1 GiB command limit, which bounds a 512 MiB value with room to spare), plus its envelope.
 */
export const FRAME_BYTES_MAX_DEFAULT = 1024 * 1024 * 1024 + FRAME_ENVELOPE_BYTES_MAX;

/** Byte fields from this size on travel after the frame's msgpack value instead of inside it. */
export const ATTACHMENT_BYTES_MIN = 64 * 1024;

/** The msgpack extension type of an attachment placeholder (one msgpackr leaves free). */
const ATTACHMENT_EXT_TYPE = 0x41;

/** Stands in the frame's value for the attachment with this index. */
class AttachmentRef {
  constructor(readonly index: number) {}
}

/** References met by the decode in progress (decoding is synchronous): a body without any needs no walk. */
let referencesRead = 0;

addExtension({
  Class: AttachmentRef,
  type: ATTACHMENT_EXT_TYPE,
  write: (ref: AttachmentRef) => ref.index,
  read: (index: unknown) => {
    referencesRead++;
    return new AttachmentRef(Number(index));
  },
});

// Plain msgpack maps rather than msgpackr records: every frame must decode on its own, without structure
// definitions shared across a connection's history (a reconnect starts a new history).
const packr = new Packr({ useRecords: false });
// Decoded byte fields are copies when the body is a slice of a larger buffer (a socket chunk), so a Raft
// entry kept in a log does not pin memory that held other frames; when the body owns its whole buffer
// (a large frame assembled from several chunks) they alias it, saving a copy of every large payload.
const copyingUnpackr = new Unpackr({ useRecords: false, copyBuffers: true });
const aliasingUnpackr = new Unpackr({ useRecords: false });

/** A frame whose header announces more than the decoder's limit (`oversize`), or no body at all (`undecodable`). */
export class FrameError extends Error {
  override readonly name = 'FrameError';

  constructor(
    readonly reason: 'oversize' | 'undecodable',
    message: string,
  ) {
    super(message);
  }
}

/** A frame ready to write: its header, then its body in parts (large byte fields are the sender's own buffers). */
export interface EncodedFrame {
  readonly header: Buffer;
  readonly body: readonly Buffer[];
  readonly bodyBytes: number;
}

/**
 * Encodes `value` as one frame, returned as header and body parts so a batch can go out without copying
 * each frame into a fresh buffer first. `Uint8Array` fields become msgpack bin (no base64, no per-byte
 * cost); large ones are not copied at all. The caller must not change them until the frame is written.
 */
export function encodeFrame(value: unknown): EncodedFrame {
  const attachments: Uint8Array[] = [];
  const packed = packr.pack(hasAttachment(value, 0) ? detach(value, attachments) : value);
  const body: Buffer[] = [packed];
  let bodyBytes = packed.length;
  for (const bytes of attachments) {
    const binHeader = Buffer.allocUnsafe(BIN32_HEADER_BYTES);
    binHeader[0] = MSGPACK_BIN32;
    binHeader.writeUInt32BE(bytes.length, 1);
    body.push(binHeader, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    bodyBytes += BIN32_HEADER_BYTES + bytes.length;
  }
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(bodyBytes >>> 0, 0);
  return { header, body, bodyBytes };
}

/** Encodes `value` as one contiguous frame (header then body). */
export function encodeFrameBytes(value: unknown): Buffer {
  const { header, body, bodyBytes } = encodeFrame(value);
  return Buffer.concat([header, ...body], header.length + bodyBytes);
}

const MSGPACK_BIN32 = 0xc6;
const BIN32_HEADER_BYTES = 5;
/** Nesting the attachment walk follows: bus messages are a few levels deep. */
const ATTACHMENT_DEPTH_MAX = 8;

/** Whether `value` holds a byte field of at least ATTACHMENT_BYTES_MIN (checked first, so small frames are packed as they are). */
function hasAttachment(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > ATTACHMENT_DEPTH_MAX) return false;
  if (value instanceof Uint8Array) return value.byteLength >= ATTACHMENT_BYTES_MIN;
  if (Array.isArray(value)) return value.some((v) => hasAttachment(v, depth + 1));
  for (const key in value) if (hasAttachment((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

/** A copy of `value` with each large byte field replaced by a reference, the fields pushed onto `attachments` in order. */
function detach(value: unknown, attachments: Uint8Array[], depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > ATTACHMENT_DEPTH_MAX) return value;
  if (value instanceof Uint8Array) {
    if (value.byteLength < ATTACHMENT_BYTES_MIN) return value;
    attachments.push(value);
    return new AttachmentRef(attachments.length - 1);
  }
  if (Array.isArray(value)) return value.map((v) => detach(v, attachments, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = detach((value as Record<string, unknown>)[key], attachments, depth + 1);
  return out;
}

/** `value` with each reference replaced by its attachment; throws on a reference to none, or one used twice. */
function attach(value: unknown, attachments: readonly unknown[], used: Set<number>, depth = 0): unknown {
  if (value instanceof AttachmentRef) {
    const bytes = attachments[value.index];
    if (!(bytes instanceof Uint8Array) || used.has(value.index)) throw new Error(`bad attachment reference ${value.index}`);
    used.add(value.index);
    return bytes;
  }
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || depth > ATTACHMENT_DEPTH_MAX) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = attach(value[i], attachments, used, depth + 1);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) record[key] = attach(record[key], attachments, used, depth + 1);
  return value;
}

/**
 * Decodes one frame body. Byte fields come back as plain `Uint8Array`s, as the Raft types declare them.
 * They may share memory with `body` when it owns its whole buffer: do not reuse such a body afterwards.
 */
export function decodeFrameBody(body: Uint8Array): unknown {
  // A plain Uint8Array view makes msgpackr produce plain Uint8Arrays for bin fields (a Buffer would make
  // Buffers), so a decoded message deep-equals the one that was sent.
  const view = body instanceof Buffer ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : body;
  const ownsBuffer = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
  referencesRead = 0;
  const values = (ownsBuffer ? aliasingUnpackr : copyingUnpackr).unpackMultiple(view) as unknown[];
  const attachments = values.slice(1);
  if (referencesRead !== attachments.length) throw new Error(`bad attachment references: ${referencesRead} for ${attachments.length} attachments`);
  if (referencesRead === 0) return values[0];
  const used = new Set<number>();
  const value = attach(values[0], attachments, used);
  if (used.size !== attachments.length) throw new Error(`${attachments.length - used.size} attachments without a reference`);
  return value;
}

/**
 * Incremental frame decoder for one byte stream. Each chunk is consumed once: a body that lies inside one
 * chunk is decoded in place; a body split across chunks is copied once into a buffer of its exact size,
 * so total work is linear in the bytes received however the stream is cut. The limit is checked from the
 * header, before any body byte is buffered.
 */
export class FrameDecoder {
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  private headerFilledBytes = 0;
  private body: Buffer | null = null;
  private bodyFilledBytes = 0;

  /** @param frameBytesMax bound on one frame body; changeable, e.g. raised once a peer is authenticated. */
  constructor(public frameBytesMax: number = FRAME_BYTES_MAX_DEFAULT) {}

  /** Bytes of a partial frame held between chunks. */
  get bufferedBytes(): number {
    return this.headerFilledBytes + this.bodyFilledBytes;
  }

  /**
   * Consumes `chunk` and returns the bodies of the frames it completes, in order (not yet msgpack-decoded,
   * so the caller can count bytes and decide what to decode). Throws FrameError on a bad header; the
   * stream is then unusable.
   */
  push(chunk: Buffer): Buffer[] {
    const bodies: Buffer[] = [];
    let position = 0;
    while (position < chunk.length) {
      if (this.body === null) {
        let length: number;
        if (this.headerFilledBytes === 0 && chunk.length - position >= FRAME_HEADER_BYTES) {
          length = chunk.readUInt32BE(position);
          position += FRAME_HEADER_BYTES;
        } else {
          const take = Math.min(FRAME_HEADER_BYTES - this.headerFilledBytes, chunk.length - position);
          chunk.copy(this.header, this.headerFilledBytes, position, position + take);
          this.headerFilledBytes += take;
          position += take;
          if (this.headerFilledBytes < FRAME_HEADER_BYTES) break;
          this.headerFilledBytes = 0;
          length = this.header.readUInt32BE(0);
        }
        if (length === 0) throw new FrameError('undecodable', 'frame with an empty body');
        if (length > this.frameBytesMax) throw new FrameError('oversize', `frame of ${length} bytes exceeds the limit of ${this.frameBytesMax}`);
        if (chunk.length - position >= length) {
          bodies.push(chunk.subarray(position, position + length));
          position += length;
        } else {
          this.body = Buffer.allocUnsafe(length);
          this.bodyFilledBytes = chunk.copy(this.body, 0, position);
          position = chunk.length;
        }
      } else {
        const take = Math.min(this.body.length - this.bodyFilledBytes, chunk.length - position);
        chunk.copy(this.body, this.bodyFilledBytes, position, position + take);
        this.bodyFilledBytes += take;
        position += take;
        if (this.bodyFilledBytes === this.body.length) {
          bodies.push(this.body);
          this.body = null;
          this.bodyFilledBytes = 0;
        }
      }
    }
    return bodies;
  }
}
