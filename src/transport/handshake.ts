/**
 * The bus handshake, mutual when a cluster secret is set:
 * 1. listener → dialer: `challenge` with a fresh random nonce and the listener's node id;
 * 2. dialer → listener: `auth` with its node id, the node id it meant to reach, its own nonce, and
 *    HMAC-SHA256(secret, ['dial', listener nonce, dialer id, listener id]);
 * 3. listener → dialer: `accept` with HMAC-SHA256(secret, ['accept', dialer nonce, dialer id, listener id]),
 *    or `refuse` with a reason, then close.
 * Fresh nonces on both sides make a recorded handshake useless to replay, and the accept proof keeps a
 * node from feeding Raft traffic to a listener of another cluster (a wrong address in a routing table).
 * Without a secret no proof is checked, and the listener accepts only loopback peers.
 * The handshake authenticates; it does not encrypt: run the bus on a trusted network.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { encodeFrameBytes } from './frame-codec.js';
import type { TransportNodeId } from './envelope.js';

/** Bytes of each side's nonce. */
export const NONCE_BYTES = 32;

/** Bound on a handshake frame: an unauthenticated peer never makes the listener buffer more. */
export const HANDSHAKE_FRAME_BYTES_MAX = 1024;

/** Why a listener refused a dialer. */
export type RefusalReason = 'bad-proof' | 'wrong-node' | 'malformed' | 'bad-identity' | 'not-loopback';

export type HandshakeFrame =
  | { readonly t: 'challenge'; readonly nonce: Uint8Array; readonly nodeId: TransportNodeId }
  | { readonly t: 'auth'; readonly from: TransportNodeId; readonly to: TransportNodeId; readonly nonce: Uint8Array; readonly proof: Uint8Array }
  | { readonly t: 'accept'; readonly proof: Uint8Array }
  | { readonly t: 'refuse'; readonly reason: RefusalReason };

/** A fresh nonce. */
export function createNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

/** The proof a side gives: HMAC over an unambiguous encoding of what it vouches for. */
export function handshakeProof(secret: string | undefined, step: 'dial' | 'accept', nonce: Uint8Array, dialer: TransportNodeId, listener: TransportNodeId): Uint8Array {
  // Without a secret there is nothing to prove; an empty proof keeps one frame shape.
  if (secret === undefined) return new Uint8Array(0);
  return createHmac('sha256', secret)
    .update(encodeFrameBytes([step, nonce, dialer, listener]))
    .digest();
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** Whether a socket's remote address is the loopback interface (IPv4 127/8, IPv6 ::1, or IPv4-mapped). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

/** Narrows a decoded frame to a handshake frame of type `t`, or null if it is anything else. */
export function asHandshakeFrame<T extends HandshakeFrame['t']>(value: unknown, t: T): Extract<HandshakeFrame, { t: T }> | null {
  if (typeof value !== 'object' || value === null || (value as { t?: unknown }).t !== t) return null;
  const frame = value as Record<string, unknown>;
  const ok =
    t === 'challenge'
      ? frame['nonce'] instanceof Uint8Array && typeof frame['nodeId'] === 'string'
      : t === 'auth'
        ? typeof frame['from'] === 'string' && typeof frame['to'] === 'string' && frame['nonce'] instanceof Uint8Array && frame['proof'] instanceof Uint8Array
        : t === 'accept'
          ? frame['proof'] instanceof Uint8Array
          : typeof frame['reason'] === 'string';
  return ok ? (value as Extract<HandshakeFrame, { t: T }>) : null;
}
