/** Parsers for command-line values: each rejects a bad value with a one-line UsageError (exit code 2). */
import { UsageError } from '../common/errors.js';

export function parsePort(flag: string): (value: string) => number {
  return (value) => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`${flag} must be a port number from 1 to 65535, got '${value}'`);
    return port;
  };
}

/** A port that may be 0: "pick a free one" or "disabled", as the flag says. */
export function parsePortOrZero(flag: string): (value: string) => number {
  return (value) => (value === '0' ? 0 : parsePort(flag)(value));
}

export function parseIntInRange(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
    return n;
  };
}

export function parseHost(flag: string): (value: string) => string {
  return (value) => {
    if (!/^[A-Za-z0-9.\-:[\]]+$/.test(value)) throw new UsageError(`${flag} must be a host name or IP address, got '${value}'`);
    return value;
  };
}

export function parseUrl(flag: string): (value: string) => string {
  return (value) => {
    try {
      const url = new URL(value);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
      return value.replace(/\/+$/, '');
    } catch {
      throw new UsageError(`${flag} must be an http:// URL, got '${value}'`);
    }
  };
}

/** One URL, or the URLs of the pilot's replicas separated by commas; answered joined by commas, normalized. */
export function parseUrls(flag: string): (value: string) => string {
  return (value) => {
    const urls = value
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== '');
    if (urls.length === 0) throw new UsageError(`${flag} must be one or more http:// URLs separated by commas, got '${value}'`);
    return urls.map(parseUrl(flag)).join(',');
  };
}

/** Whether a host is on the loopback network: beyond it, nodes must share a secret. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
