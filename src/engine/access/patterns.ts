/**
 * Istio's value matching, compiled once per policy load into small closures:
 * strings (exact, `prefix*`, `*suffix`, `*` = any non-empty value), hosts (the same but
 * case-insensitive), paths (the same plus the `{*}` / `{**}` URI-template operators),
 * and IP addresses against single IPs or CIDR blocks.
 */

export type Matcher = (value: string) => boolean;

/** Istio's string match: `*` alone means "present and non-empty". */
export function stringMatcher(pattern: string, ignoreCase = false): Matcher {
  if (ignoreCase) {
    const m = stringMatcher(pattern.toLowerCase());
    return (v) => m(v.toLowerCase());
  }
  if (pattern === '*') return (v) => v.length > 0;
  if (pattern.length > 1 && pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (v) => v.startsWith(prefix);
  }
  if (pattern.length > 1 && pattern.startsWith('*')) {
    const suffix = pattern.slice(1);
    return (v) => v.endsWith(suffix);
  }
  return (v) => v === pattern;
}

/** Any of several matchers. */
export function anyOf(matchers: readonly Matcher[]): Matcher {
  if (matchers.length === 1) return matchers[0]!;
  return (v) => {
    for (let i = 0; i < matchers.length; i++) if (matchers[i]!(v)) return true;
    return false;
  };
}

/** A problem with a path pattern, phrased as Istio's validation does. */
export function pathPatternError(pattern: string): string | undefined {
  if (!pattern.includes('{')) return undefined;
  const operators = pattern.match(/\{[^}]*\}?/g) ?? [];
  for (const op of operators) {
    if (op !== '{*}' && op !== '{**}') return `invalid or unsupported path ${pattern}, found invalid operator ${op}; only {*} and {**} are supported`;
  }
  const doubleAt = pattern.indexOf('{**}');
  if (doubleAt >= 0 && /\{\*\*?\}/.test(pattern.slice(doubleAt + 4))) return `invalid or unsupported path ${pattern}, {**} is not the last operator`;
  if (/(^|[^}])\*|\*(?!\*?\})/.test(pattern.replace(/\{\*\*?\}/g, ''))) return `invalid or unsupported path ${pattern}, a path template cannot also use a bare *`;
  return undefined;
}

/**
 * Istio path match: exact, `prefix*`, `*suffix`, `*`, or a URI template where `{*}` is one
 * path segment and `{**}` zero or more segments (Envoy's uri_template matcher).
 */
export function pathMatcher(pattern: string): Matcher {
  if (!pattern.includes('{')) return stringMatcher(pattern);
  let source = '^';
  const parts = pattern.split(/(\{\*\*\}|\{\*\})/);
  for (const part of parts) {
    if (part === '{*}') source += '[^/]+';
    else if (part === '{**}') source += '.*';
    else source += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(source + '$');
  return (v) => regex.test(v);
}

/** Host match (`:authority`): case-insensitive; a pattern without a port also matches `host:port`. */
export function hostMatcher(pattern: string): Matcher {
  const m = stringMatcher(pattern, true);
  if (pattern.includes(':')) return m;
  return (v) => m(v) || m(stripPort(v));
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.lastIndexOf(':');
  return colon > 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

// ---- IP addresses ----------------------------------------------------------------

/** An address as a 128-bit number (IPv4 mapped into ::ffff:0:0/96), or undefined when unparsable. */
export function parseIp(text: string): bigint | undefined {
  if (text.includes(':')) return parseIpv6(text.startsWith('[') ? text.slice(1, text.indexOf(']')) : text);
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : (0xffffn << 32n) | BigInt(v4);
}

function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const b = Number(part);
    if (b > 255) return undefined;
    n = n * 256 + b;
  }
  return n;
}

function parseIpv6(text: string): bigint | undefined {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // `::ffff:10.0.0.1`: rewrite the dotted tail as two hex groups.
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups = s.split(':').map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
    return groups.some(Number.isNaN) ? undefined : groups;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const known = head.length + rest.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - known).fill(0), ...rest];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

export interface IpBlock {
  readonly base: bigint;
  readonly mask: bigint;
}

const ALL = (1n << 128n) - 1n;

/** Parses `10.0.0.1` or `10.0.0.0/8` (IPv6 too); returns an error message when invalid. */
export function parseIpBlock(text: string): IpBlock | string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(address);
  if (ip === undefined) return `invalid IP address or CIDR range ${JSON.stringify(text)}`;
  const v4 = !address.includes(':');
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b) || Number(b) > max) return `invalid prefix length in ${JSON.stringify(text)}`;
    bits = Number(b);
  }
  const hostBits = BigInt(max - bits);
  const mask = ALL ^ ((1n << hostBits) - 1n);
  return { base: ip & mask, mask };
}

export function ipMatcher(blocks: readonly IpBlock[]): Matcher {
  return (v) => {
    const ip = parseIp(v);
    if (ip === undefined) return false;
    for (const b of blocks) if ((ip & b.mask) === b.base) return true;
    return false;
  };
}
