/**
 * Bytes read from LMDB, as Buffers. lmdb-js types its binary reads as Buffer, but `getBinaryFast` hands
 * back a plain Uint8Array (a view of the memory map) for a value over 16 MiB, on which Buffer's methods do
 * not exist. Every read of stored bytes goes through here.
 */
import type { Database } from 'lmdb';

/** `bytes` as a Buffer over the same memory: no copy. */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The value stored under `key`, or undefined. It may share memory that lmdb-js reuses on its next read
 * (or the memory map itself): decode or copy it before reading LMDB again.
 */
export function readStored(db: Database<Buffer, Buffer>, key: Buffer): Buffer | undefined {
  const bytes: Uint8Array | undefined = db.getBinaryFast(key);
  return bytes === undefined ? undefined : bufferOf(bytes);
}
