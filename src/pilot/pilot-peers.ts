/**
 * The replicas of the pilot group as `--peers` names them: `pilot1@10.0.0.1:7000,pilot2@10.0.0.2:7000,...`.
 * Each entry is a replica's id, the host and HTTP port it is reached at, and optionally its bus port
 * (`pilot2@10.0.0.2:7000:17500`; default HTTP port + 10000), which carries Raft between the replicas.
 * The HTTP address is what followers name when they point a caller at the leader.
 */
import { UsageError } from '../common/errors.js';

/** One replica of the pilot group. */
export interface PilotPeer {
  /** `pilot1`, `pilot2`, ...: the number is the replica's Raft member id. */
  readonly id: string;
  /** Host others reach this replica at, for HTTP and the bus alike. */
  readonly host: string;
  /** HTTP port (the API, and the nodes' internal endpoints). */
  readonly port: number;
  /** Bus port: Raft messages between the pilot replicas. */
  readonly busPort: number;
}

/** The id of a pilot that is not told otherwise, and of the only replica of a single pilot. */
export const PILOT_ID_DEFAULT = 'pilot1';

/** Most replicas of the pilot group: 7 already survive 3 failures, more only slow commits down. */
export const PILOT_REPLICAS_MAX = 7;

/** The bus port is the HTTP port plus this, unless given. */
export const BUS_PORT_OFFSET = 10000;

const PILOT_ID_PATTERN = /^pilot([1-9][0-9]{0,5})$/;
const PORT_MAX = 65535;

/** Whether `id` is a pilot replica id (`pilot<N>`, N ≥ 1). */
export function isPilotId(id: string): boolean {
  return PILOT_ID_PATTERN.test(id);
}

/** The Raft member id of a pilot replica: `pilot3` is member 3. */
export function pilotRaftIdOf(pilotId: string): number {
  const match = PILOT_ID_PATTERN.exec(pilotId);
  if (match === null) throw new Error(`assertion failed: pilot id ${JSON.stringify(pilotId)} is not of the form pilotN`);
  return Number(match[1]);
}

/** The pilot replica id of a Raft member id. */
export function pilotIdOf(raftId: number): string {
  return `pilot${raftId}`;
}

/** `http://host:port` of a replica; IPv6 hosts in brackets. */
export function pilotUrlOf(peer: Pick<PilotPeer, 'host' | 'port'>): string {
  return `http://${peer.host.includes(':') ? `[${peer.host}]` : peer.host}:${peer.port}`;
}

/** Parses a `--peers` list; throws UsageError naming the first bad entry. */
export function parsePilotPeers(spec: string, flag = '--peers'): PilotPeer[] {
  const peers: PilotPeer[] = [];
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const match = /^([^@]+)@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d+)(?::(\d+))?$/.exec(entry);
    if (match === null) throw new UsageError(`${flag}: '${entry}' is not id@host:port or id@host:port:busport`);
    const [, id, bracketedHost, portText, busPortText] = match as unknown as [string, string, string, string, string | undefined];
    if (!isPilotId(id)) throw new UsageError(`${flag}: the id '${id}' is not of the form pilotN (pilot1, pilot2, ...)`);
    const port = Number(portText);
    const busPort = busPortText === undefined ? port + BUS_PORT_OFFSET : Number(busPortText);
    if (port < 1 || port > PORT_MAX) throw new UsageError(`${flag}: port ${portText} of ${id} is not in 1..${PORT_MAX}`);
    if (busPort < 1 || busPort > PORT_MAX) throw new UsageError(`${flag}: bus port ${busPort} of ${id} is not in 1..${PORT_MAX}; give it as ${id}@host:port:busport`);
    const host = bracketedHost.startsWith('[') ? bracketedHost.slice(1, -1) : bracketedHost;
    peers.push({ id, host, port, busPort });
  }
  validatePilotPeers(peers, flag);
  return peers;
}

/** Checks a replica list: 1..PILOT_REPLICAS_MAX replicas, distinct ids and addresses. */
export function validatePilotPeers(peers: readonly PilotPeer[], flag = '--peers'): void {
  if (peers.length === 0) throw new UsageError(`${flag} names no replica`);
  if (peers.length > PILOT_REPLICAS_MAX) throw new UsageError(`${flag} names ${peers.length} replicas; at most ${PILOT_REPLICAS_MAX}`);
  const ids = new Set<string>();
  const addresses = new Set<string>();
  for (const peer of peers) {
    if (ids.has(peer.id)) throw new UsageError(`${flag} names ${peer.id} twice`);
    ids.add(peer.id);
    for (const address of [`${peer.host}:${peer.port}`, `${peer.host}:${peer.busPort}`]) {
      if (addresses.has(address)) throw new UsageError(`${flag}: ${address} is given to two ports`);
      addresses.add(address);
    }
  }
}
