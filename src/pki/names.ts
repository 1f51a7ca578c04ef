/** Validation and encoding of the names a certificate carries: DNS names, IP addresses, SPIFFE IDs. */
import { isIPv4, isIPv6 } from 'node:net';

export class NameError extends Error {}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS SAN: lower-case labels, optionally a leading `*.` wildcard. */
export function checkDnsName(name: string): string {
  const lower = name.toLowerCase();
  const labels = lower.startsWith('*.') ? lower.slice(2).split('.') : lower.split('.');
  if (lower.length === 0 || lower.length > 253 || !labels.every((label) => DNS_LABEL.test(label))) {
    throw new NameError(`invalid DNS name '${name}': expected labels of letters, digits and '-' separated by '.'`);
  }
  return lower;
}

/** The iPAddress SAN octets: 4 bytes for IPv4, 16 for IPv6 (RFC 5280 4.2.1.6). */
export function ipAddressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (isIPv6(address)) return ipv6Bytes(address);
  throw new NameError(`invalid IP address '${address}'`);
}

function ipv6Bytes(address: string): Buffer {
  let text = address.replace(/%.*$/, '');
  const tail = text.slice(text.lastIndexOf(':') + 1);
  if (isIPv4(tail)) {
    const v4 = tail.split('.').map(Number);
    const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
    text = `${text.slice(0, text.length - tail.length)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`;
  }
  const words = (part: string) => (part ? part.split(':').map((word) => parseInt(word, 16)) : []);
  const halves = text.split('::');
  const front = words(halves[0]!);
  const back = halves.length > 1 ? words(halves[1]!) : [];
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = Buffer.alloc(16);
  all.forEach((word, index) => bytes.writeUInt16BE(word, index * 2));
  return bytes;
}

/** Formats iPAddress SAN octets back to text (IPv6 in full, uncompressed lower-case words). */
export function ipAddressFromBytes(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const words: string[] = [];
    for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i).toString(16));
    return compressIpv6(words);
  }
  return `<${bytes.toString('hex')}>`;
}

function compressIpv6(words: string[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLength).join(':')}`;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[a-zA-Z0-9._-]+$/;

export interface SpiffeId {
  readonly trustDomain: string;
  readonly path: string;
}

/**
 * Checks a SPIFFE ID against the SPIFFE-ID spec: scheme `spiffe`, a lower-case trust domain of
 * [a-z0-9.-_], a path of non-empty segments of [a-zA-Z0-9.-_] that are not `.` or `..`, and no
 * port, user info, query or fragment.
 */
export function parseSpiffeId(id: string): SpiffeId {
  const bad = (why: string) => new NameError(`invalid SPIFFE ID '${id}': ${why}`);
  if (!id.startsWith('spiffe://')) throw bad("it must start with 'spiffe://'");
  const rest = id.slice('spiffe://'.length);
  if (/[?#]/.test(rest)) throw bad('query and fragment are not allowed');
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (!trustDomain || !TRUST_DOMAIN.test(trustDomain)) throw bad('the trust domain must be lower-case letters, digits, ".", "-" or "_"');
  if (path) {
    const segments = path.slice(1).split('/');
    for (const segment of segments) {
      if (!segment) throw bad('path segments must not be empty (no "//" or trailing "/")');
      if (segment === '.' || segment === '..') throw bad('path segments must not be "." or ".."');
      if (!PATH_SEGMENT.test(segment)) throw bad(`path segment '${segment}' may only contain letters, digits, ".", "-" and "_"`);
    }
  }
  return { trustDomain, path };
}

/** The Istio-style workload identity `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`. */
export function workloadSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const id = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  parseSpiffeId(id);
  return id;
}
