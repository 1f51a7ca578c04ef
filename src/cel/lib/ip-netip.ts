/**
 * IP addresses and prefixes with the semantics of Go's net/netip, which Kubernetes'
 * IP and CIDR libraries are built on: the same accepted syntax (no leading zeros in
 * IPv4 octets, at most one `::`, embedded IPv4 only in the last 32 bits), the same
 * canonical text form (RFC 5952), the same classification predicates and the same
 * error messages. Addresses are held as bigints so that masking is plain arithmetic.
 */
import { goQuote } from './ip-go-quote.js';
import { INT64_MAX } from './int64.js';

export type IPFamily = 4 | 6;

export interface NetAddr {
  readonly family: IPFamily;
  /** The address bits: 32 of them for IPv4, 128 for IPv6. */
  readonly value: bigint;
  /** IPv6 zone (the text after `%`), or '' when there is none. */
  readonly zone: string;
}

export interface NetPrefix {
  readonly addr: NetAddr;
  readonly bits: number;
}

/** A parse failure; the message is Go's, word for word. */
export class NetipError extends Error {}

export const bitLength = (family: IPFamily): number => (family === 4 ? 32 : 128);

// ---------------------------------------------------------------------------------------
// Parsing (netip.ParseAddr)

function addrError(input: string, msg: string, at?: string): NetipError {
  const where = at !== undefined && at !== '' ? ` (at ${goQuote(at)})` : '';
  return new NetipError(`ParseAddr(${goQuote(input)}): ${msg}${where}`);
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function hexValue(c: string | undefined): number {
  if (c === undefined) return -1;
  if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
  if (c >= 'a' && c <= 'f') return c.charCodeAt(0) - 87;
  if (c >= 'A' && c <= 'F') return c.charCodeAt(0) - 55;
  return -1;
}

/** The four octets of `input.slice(start, end)`; errors name the whole `input`, as Go does. */
function parseIPv4Octets(input: string, start: number, end: number): number[] {
  const s = input.slice(start, end);
  const octets: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (isDigit(c)) {
      if (digits === 1 && value === 0) throw addrError(input, 'IPv4 field has octet with leading zero');
      value = value * 10 + (c.charCodeAt(0) - 48);
      digits++;
      if (value > 255) throw addrError(input, 'IPv4 field has value >255');
    } else if (c === '.') {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') {
        throw addrError(input, 'IPv4 field must have at least one digit', s.slice(i));
      }
      if (octets.length === 3) throw addrError(input, 'IPv4 address too long');
      octets.push(value);
      value = 0;
      digits = 0;
    } else {
      throw addrError(input, 'unexpected character', s.slice(i));
    }
  }
  if (octets.length < 3) throw addrError(input, 'IPv4 address too short');
  octets.push(value);
  return octets;
}

function octetsToBigint(octets: readonly number[]): bigint {
  let value = 0n;
  for (const octet of octets) value = (value << 8n) | BigInt(octet);
  return value;
}

function parseIPv4(input: string): NetAddr {
  return { family: 4, value: octetsToBigint(parseIPv4Octets(input, 0, input.length)), zone: '' };
}

/** Reads one hex group at the start of `s`: its value and how many characters it used. */
function readHexGroup(input: string, s: string): { value: number; length: number } {
  let value = 0;
  let length = 0;
  for (; length < s.length; length++) {
    const digit = hexValue(s[length]);
    if (digit < 0) break;
    value = value * 16 + digit;
    if (length > 3) throw addrError(input, 'each group must have 4 or less digits', s);
  }
  if (length === 0) throw addrError(input, 'each colon-separated field must have at least one digit', s);
  return { value, length };
}

function parseIPv6(input: string): NetAddr {
  let s = input;
  let zone = '';
  const percent = s.indexOf('%');
  if (percent !== -1) {
    zone = s.slice(percent + 1);
    s = s.slice(0, percent);
    if (zone === '') throw addrError(input, 'zone must be a non-empty string');
  }

  const bytes = new Array<number>(16).fill(0);
  let ellipsis = -1; // byte position of `::`
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === '') return { family: 6, value: 0n, zone };
  }

  let i = 0;
  while (i < 16) {
    const group = readHexGroup(input, s);
    if (s[group.length] === '.') {
      // Trailing embedded IPv4, which must fill the last 32 bits.
      if (ellipsis < 0 && i !== 12) {
        throw addrError(input, 'embedded IPv4 address must replace the final 2 fields of the address', s);
      }
      if (i + 4 > 16) {
        throw addrError(input, 'too many hex fields to fit an embedded IPv4 at the end of the address', s);
      }
      const end = input.length - (zone.length > 0 ? zone.length + 1 : 0);
      parseIPv4Octets(input, end - s.length, end).forEach((octet, k) => (bytes[i + k] = octet));
      s = '';
      i += 4;
      break;
    }
    bytes[i] = group.value >> 8;
    bytes[i + 1] = group.value & 0xff;
    i += 2;
    s = s.slice(group.length);
    if (s === '') break;
    if (s[0] !== ':') throw addrError(input, 'unexpected character, want colon', s);
    if (s.length === 1) throw addrError(input, 'colon must be followed by more characters', s);
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) throw addrError(input, 'multiple :: in address', s);
      ellipsis = i;
      s = s.slice(1);
      if (s === '') break;
    }
  }

  if (s !== '') throw addrError(input, 'trailing garbage after address', s);
  if (i < 16) {
    if (ellipsis < 0) throw addrError(input, 'address string too short');
    const gap = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) bytes[j + gap] = bytes[j]!;
    bytes.fill(0, ellipsis, ellipsis + gap);
  } else if (ellipsis >= 0) {
    throw addrError(input, 'the :: must expand to at least one field of zeros', s);
  }
  return { family: 6, value: octetsToBigint(bytes), zone };
}

/** netip.ParseAddr: the first `.`, `:` or `%` decides how the text is read. */
export function parseAddr(input: string): NetAddr {
  for (const c of input) {
    if (c === '.') return parseIPv4(input);
    if (c === ':') return parseIPv6(input);
    if (c === '%') throw addrError(input, 'missing IPv6 address');
  }
  throw addrError(input, 'unable to parse IP');
}

function prefixError(input: string, msg: string): NetipError {
  return new NetipError(`netip.ParsePrefix(${goQuote(input)}): ${msg}`);
}


/** netip.ParsePrefix: `addr/bits`, the address unmasked, no zone, bits in range. */
export function parsePrefix(input: string): NetPrefix {
  const slash = input.lastIndexOf('/');
  if (slash < 0) throw prefixError(input, "no '/'");
  let addr: NetAddr;
  try {
    addr = parseAddr(input.slice(0, slash));
  } catch (error) {
    throw prefixError(input, (error as Error).message);
  }
  if (addr.family === 6 && addr.zone !== '') throw prefixError(input, 'IPv6 zones cannot be present in a prefix');

  const bitsText = input.slice(slash + 1);
  // Go refuses signs and leading zeros, then anything strconv.Atoi refuses.
  const badBits = (bitsText.length > 1 && !(bitsText[0]! >= '1' && bitsText[0]! <= '9')) || !/^[0-9]+$/.test(bitsText);
  if (badBits || BigInt(bitsText) > INT64_MAX) throw prefixError(input, `bad bits after slash: ${goQuote(bitsText)}`);
  const bits = Number(bitsText);
  if (bits > bitLength(addr.family)) throw prefixError(input, 'prefix length out of range');
  return { addr, bits };
}

// ---------------------------------------------------------------------------------------
// Text form (netip.Addr.String, netip.Prefix.String)

function formatIPv4(value: bigint): string {
  const octets: number[] = [];
  for (let shift = 24n; shift >= 0n; shift -= 8n) octets.push(Number((value >> shift) & 0xffn));
  return octets.join('.');
}

function ipv6Groups(value: bigint): number[] {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  return groups;
}

/** The first longest run of two or more zero groups, which RFC 5952 writes as `::`. */
function longestZeroRun(groups: readonly number[]): { start: number; end: number } | undefined {
  let best: { start: number; end: number } | undefined;
  for (let i = 0; i < groups.length; i++) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i >= 2 && (!best || j - i > best.end - best.start)) best = { start: i, end: j };
    i = Math.max(i, j - 1);
  }
  return best;
}

function formatIPv6(value: bigint): string {
  const groups = ipv6Groups(value);
  const run = longestZeroRun(groups);
  if (!run) return groups.map((g) => g.toString(16)).join(':');
  const head = groups.slice(0, run.start).map((g) => g.toString(16)).join(':');
  const tail = groups.slice(run.end).map((g) => g.toString(16)).join(':');
  return `${head}::${tail}`;
}

export function formatAddr(addr: NetAddr): string {
  if (addr.family === 4) return formatIPv4(addr.value);
  const text = isIPv4Mapped(addr) ? `::ffff:${formatIPv4(addr.value & 0xffffffffn)}` : formatIPv6(addr.value);
  return addr.zone === '' ? text : `${text}%${addr.zone}`;
}

export function formatPrefix(prefix: NetPrefix): string {
  return `${formatAddr(prefix.addr)}/${prefix.bits}`;
}

// ---------------------------------------------------------------------------------------
// Classification (netip.Addr.Is*)

/** An IPv6 address in ::ffff:0:0/96, which Kubernetes refuses. */
export function isIPv4Mapped(addr: NetAddr): boolean {
  return addr.family === 6 && addr.value >> 32n === 0xffffn;
}

const topBits = (addr: NetAddr, n: number): bigint => addr.value >> BigInt(bitLength(addr.family) - n);

export function isUnspecified(addr: NetAddr): boolean {
  return addr.value === 0n && addr.zone === '';
}

export function isLoopback(addr: NetAddr): boolean {
  return addr.family === 4 ? topBits(addr, 8) === 127n : addr.value === 1n;
}

export function isMulticast(addr: NetAddr): boolean {
  return addr.family === 4 ? topBits(addr, 4) === 0xen : topBits(addr, 8) === 0xffn;
}

export function isLinkLocalMulticast(addr: NetAddr): boolean {
  return addr.family === 4 ? topBits(addr, 24) === 0xe00000n : topBits(addr, 16) === 0xff02n;
}

export function isLinkLocalUnicast(addr: NetAddr): boolean {
  return addr.family === 4 ? topBits(addr, 16) === 0xa9fen : topBits(addr, 10) === 0x3fan;
}

/** As Go: private and ULA addresses count as global unicast too. */
export function isGlobalUnicast(addr: NetAddr): boolean {
  if (addr.family === 4 && (addr.value === 0n || addr.value === 0xffffffffn)) return false;
  if (addr.family === 6 && addr.value === 0n) return false;
  return !isLoopback(addr) && !isMulticast(addr) && !isLinkLocalUnicast(addr);
}

// ---------------------------------------------------------------------------------------
// Prefix arithmetic (netip.Prefix.Masked, Contains, Overlaps)

function networkMask(family: IPFamily, bits: number): bigint {
  const total = BigInt(bitLength(family));
  const hostBits = total - BigInt(bits);
  return ((1n << total) - 1n) ^ ((1n << hostBits) - 1n);
}

export function maskedPrefix(prefix: NetPrefix): NetPrefix {
  const value = prefix.addr.value & networkMask(prefix.addr.family, prefix.bits);
  return { addr: { family: prefix.addr.family, value, zone: '' }, bits: prefix.bits };
}

export function prefixContains(prefix: NetPrefix, addr: NetAddr): boolean {
  if (addr.family !== prefix.addr.family || addr.zone !== '') return false;
  const mask = networkMask(addr.family, prefix.bits);
  return (addr.value & mask) === (prefix.addr.value & mask);
}

/** True when every address of `inner` is in `outer`. */
export function prefixContainsPrefix(outer: NetPrefix, inner: NetPrefix): boolean {
  if (outer.addr.family !== inner.addr.family || outer.bits > inner.bits) return false;
  return prefixContains(outer, inner.addr);
}

export function sameAddr(a: NetAddr, b: NetAddr): boolean {
  return a.family === b.family && a.value === b.value && a.zone === b.zone;
}
