/**
 * The bus's framing: each frame is a 4-byte big-endian body length followed by one msgpack value. Pure
 * (no sockets), so it is tested byte by byte without I/O.
 */
import { Packr, Unpackr } from 'msgpackr';

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_BYTES = 4;

/** Default bound on one frame's body: large enough for a snapshot chunk or a full MsgApp batch. */
export const FRAME_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

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

/**
 * Encodes `value` as one frame, returned as header and body so a batch can go out without copying each
 * frame into a fresh buffer first. `Uint8Array` fields become msgpack bin (no base64, no per-byte cost).
 */
export function encodeFrame(value: unknown): { readonly header: Buffer; readonly body: Buffer } {
  const body = packr.pack(value);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  return { header, body };
}

/** Encodes `value` as one contiguous frame (header then body). */
export function encodeFrameBytes(value: unknown): Buffer {
  const { header, body } = encodeFrame(value);
  return Buffer.concat([header, body], header.length + body.length);
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
  return (ownsBuffer ? aliasingUnpackr : copyingUnpackr).unpack(view);
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
