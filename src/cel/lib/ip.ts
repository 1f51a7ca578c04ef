/**
 * Kubernetes' IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library ip.go, cidr.go):
 * `ip()`, `isIP()`, `ip.isCanonical()`, the `net.IP` methods, `cidr()`, `isCIDR()`,
 * the `net.CIDR` methods, `string()` of both, and equality. Parsing follows Go's
 * net/netip (see ip-netip.ts); like Kubernetes, IPv4-mapped IPv6 addresses and zones
 * are refused.
 */
import { charge } from '../cost.js';
import { CelFunctionError } from '../errors.js';
import type { CelLibrary, LibraryRegistrar } from '../library.js';
import { goQuote } from './ip-go-quote.js';
import {
  NetipError,
  formatAddr,
  formatPrefix,
  isGlobalUnicast,
  isIPv4Mapped,
  isLinkLocalMulticast,
  isLinkLocalUnicast,
  isLoopback,
  isUnspecified,
  maskedPrefix,
  parseAddr,
  parsePrefix,
  prefixContains,
  prefixContainsPrefix,
  sameAddr,
  type NetAddr,
  type NetPrefix,
} from './ip-netip.js';

/** A CEL `net.IP` value. */
export class IPAddress {
  constructor(readonly addr: NetAddr) {}
  get celTypeName(): string {
    return 'net.IP';
  }
  toString(): string {
    return formatAddr(this.addr);
  }
  toJSON(): string {
    return this.toString();
  }
}

/** A CEL `net.CIDR` value: an address (not necessarily masked) and a prefix length. */
export class CIDRPrefix {
  constructor(readonly prefix: NetPrefix) {}
  get celTypeName(): string {
    return 'net.CIDR';
  }
  toString(): string {
    return formatPrefix(this.prefix);
  }
  toJSON(): string {
    return this.toString();
  }
}

// ---------------------------------------------------------------------------------------
// Parsing with Kubernetes' extra rules and messages

/** Kubernetes' parseIPAddr: netip.ParseAddr, then no zone and no IPv4-mapped IPv6. */
function parseIPAddr(text: string): NetAddr {
  charge(text.length);
  let addr: NetAddr;
  try {
    addr = parseAddr(text);
  } catch (error) {
    throw new CelFunctionError(`IP Address ${goQuote(text)} parse error during conversion from string: ${netipMessage(error)}`);
  }
  if (addr.zone !== '') throw new CelFunctionError(`IP address ${goQuote(text)} with zone value is not allowed`);
  if (isIPv4Mapped(addr)) throw new CelFunctionError(`IPv4-mapped IPv6 address ${goQuote(text)} is not allowed`);
  return addr;
}

const CIDR_PARSE_ERROR = 'network address parse error during conversion from string';

/** Kubernetes' cidr(): its parseCIDR wraps netip's error once and stringToCIDR once more. */
function parseCIDR(text: string): NetPrefix {
  charge(text.length);
  let prefix: NetPrefix;
  try {
    prefix = parsePrefix(text);
  } catch (error) {
    throw new CelFunctionError(`${CIDR_PARSE_ERROR}: ${CIDR_PARSE_ERROR}: ${netipMessage(error)}`);
  }
  if (isIPv4Mapped(prefix.addr)) {
    throw new CelFunctionError(`${CIDR_PARSE_ERROR}: IPv4-mapped IPv6 address ${goQuote(text)} is not allowed`);
  }
  return prefix;
}

function netipMessage(error: unknown): string {
  if (error instanceof NetipError) return error.message;
  throw error;
}

function succeeds(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch (error) {
    if (error instanceof CelFunctionError) return false;
    throw error; // e.g. the cost budget running out
  }
}

// ---------------------------------------------------------------------------------------
// Registration

function registerIP(r: LibraryRegistrar): void {
  r.fn('ip(string): net.IP', (text: string) => new IPAddress(parseIPAddr(text)));
  r.fn('isIP(string): bool', (text: string) => succeeds(() => parseIPAddr(text)));
  // Canonical means the text is exactly what netip prints for the address.
  r.fn('ip.isCanonical(string): bool', (text: string) => formatAddr(parseIPAddr(text)) === text);
  r.fn('string(net.IP): string', (ip: IPAddress) => ip.toString());
  r.fn('net.IP.family(): int', (ip: IPAddress) => BigInt(ip.addr.family));
  r.fn('net.IP.isUnspecified(): bool', (ip: IPAddress) => isUnspecified(ip.addr));
  r.fn('net.IP.isLoopback(): bool', (ip: IPAddress) => isLoopback(ip.addr));
  r.fn('net.IP.isLinkLocalMulticast(): bool', (ip: IPAddress) => isLinkLocalMulticast(ip.addr));
  r.fn('net.IP.isLinkLocalUnicast(): bool', (ip: IPAddress) => isLinkLocalUnicast(ip.addr));
  r.fn('net.IP.isGlobalUnicast(): bool', (ip: IPAddress) => isGlobalUnicast(ip.addr));
  r.operator('net.IP == net.IP', (a: IPAddress, b: IPAddress) => sameAddr(a.addr, b.addr));
}

function registerCIDR(r: LibraryRegistrar): void {
  r.fn('cidr(string): net.CIDR', (text: string) => new CIDRPrefix(parseCIDR(text)));
  r.fn('isCIDR(string): bool', (text: string) => succeeds(() => parseCIDR(text)));
  r.fn('string(net.CIDR): string', (cidr: CIDRPrefix) => cidr.toString());
  r.fn('net.CIDR.containsIP(net.IP): bool', (cidr: CIDRPrefix, ip: IPAddress) => prefixContains(cidr.prefix, ip.addr));
  r.fn('net.CIDR.containsIP(string): bool', (cidr: CIDRPrefix, text: string) =>
    prefixContains(cidr.prefix, parseIPAddr(text)),
  );
  r.fn('net.CIDR.containsCIDR(net.CIDR): bool', (cidr: CIDRPrefix, other: CIDRPrefix) =>
    prefixContainsPrefix(cidr.prefix, other.prefix),
  );
  r.fn('net.CIDR.containsCIDR(string): bool', (cidr: CIDRPrefix, text: string) =>
    prefixContainsPrefix(cidr.prefix, parseCIDR(text)),
  );
  r.fn('net.CIDR.ip(): net.IP', (cidr: CIDRPrefix) => new IPAddress(cidr.prefix.addr));
  r.fn('net.CIDR.masked(): net.CIDR', (cidr: CIDRPrefix) => new CIDRPrefix(maskedPrefix(cidr.prefix)));
  r.fn('net.CIDR.prefixLength(): int', (cidr: CIDRPrefix) => BigInt(cidr.prefix.bits));
  // Equal only when both the address as written and the length match: 192.168.0.1/24 != 192.168.0.0/24.
  r.operator('net.CIDR == net.CIDR', (a: CIDRPrefix, b: CIDRPrefix) =>
    a.prefix.bits === b.prefix.bits && sameAddr(a.prefix.addr, b.prefix.addr),
  );
}

export const ipLibrary: CelLibrary = {
  name: 'ip',
  register(r) {
    r.type('net.IP', IPAddress);
    r.type('net.CIDR', CIDRPrefix);
    r.namespace('ip');
    registerIP(r);
    registerCIDR(r);
  },
};
