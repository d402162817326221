/**
 * A hand-driven dialer of a node's bus, for tests that send what no Transport would: it does the
 * handshake under any identity, then writes raw bytes.
 */
import { connect, type Socket } from 'node:net';
import { handshakeProof } from '../../src/transport/handshake.js';
import { decodeFrameBody, encodeFrameBytes, FrameDecoder, type PeerAddress } from '../../src/transport/index.js';

export interface RawBusPeer {
  /** The listener's last handshake frame: `{ t: 'accept' }` or `{ t: 'refuse', reason }`. */
  readonly answer: { readonly t: string; readonly reason?: string };
  /** Resolves when the listener has closed the connection. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  write(bytes: Buffer): void;
  destroy(): void;
}

/** Dials `address`, answers the challenge as `identity` with a proof of `secret`, and waits for the verdict. */
export async function rawBusPeer(address: PeerAddress, identity: string, secret: string | undefined): Promise<RawBusPeer> {
  const socket: Socket = connect(address.port, address.host);
  socket.on('error', () => undefined);
  let closedNow = false;
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closedNow = true;
      resolve();
    }),
  );
  const decoder = new FrameDecoder(1024);
  const answer = await new Promise<{ t: string; reason?: string }>((resolve, reject) => {
    void closed.then(() => reject(new Error('closed before the handshake ended')));
    socket.on('data', (chunk: Buffer) => {
      for (const body of decoder.push(chunk)) {
        const frame = decodeFrameBody(body) as { t: string; nonce: Uint8Array; nodeId: string; reason?: string };
        if (frame.t !== 'challenge') return resolve(frame);
        const proof = handshakeProof(secret, 'dial', frame.nonce, identity, frame.nodeId);
        socket.write(encodeFrameBytes({ t: 'auth', from: identity, to: frame.nodeId, nonce: new Uint8Array(32), proof }));
      }
    });
  });
  return { answer, closed, isClosed: () => closedNow, write: (bytes) => socket.write(bytes), destroy: () => socket.destroy() };
}

/** A one-way message frame as a Transport writes it: `[0, kind, payload]`. */
export function messageFrame(kind: string, payload: unknown): Buffer {
  return encodeFrameBytes([0, kind, payload]);
}
