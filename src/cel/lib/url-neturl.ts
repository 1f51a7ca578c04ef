/**
 * The parts of Go's net/url that Kubernetes' URL library and `uri` format use:
 * `url.Parse`, `url.ParseRequestURI`, and the URL accessors Hostname, Port,
 * EscapedPath and Query. Same acceptance rules (including Go's newer checks that a
 * bracketed host is an IPv6 literal at the start of the host) and the same error
 * messages, e.g. `parse "https://a:b:c/": invalid port ":c" after host`.
 *
 * Go works on bytes; here strings are JavaScript strings and non-ASCII characters are
 * treated as their UTF-8 bytes wherever Go escapes or unescapes them.
 */
import { goQuote } from './ip-go-quote.js';
import { NetipError, parseAddr } from './ip-netip.js';

export interface GoUserinfo {
  readonly username: string;
  /** Undefined when the userinfo has no `:`. */
  readonly password?: string;
}

export interface GoURL {
  readonly scheme: string;
  /** Text after `scheme:` when it does not start with `/` (e.g. `mailto:a@b`). */
  readonly opaque: string;
  readonly user?: GoUserinfo;
  /** `host` or `host:port`; IPv6 literals keep their brackets. */
  readonly host: string;
  /** `scheme:/path`: a scheme and a path but no authority at all. */
  readonly omitHost: boolean;
  /** The decoded path. */
  readonly path: string;
  /** The path as written, kept only when it differs from the default encoding of `path`. */
  readonly rawPath: string;
  /** A lone trailing `?`: the query is present but empty. */
  readonly forceQuery: boolean;
  readonly rawQuery: string;
  readonly fragment: string;
  /** The fragment as written, kept only when it differs from the default encoding. */
  readonly rawFragment: string;
}

/** A parse failure; the message is Go's, word for word. */
export class NetURLError extends Error {}

/** Which part of a URL is being escaped or unescaped (Go's `encoding` modes). */
type Mode = 'path' | 'host' | 'zone' | 'userPassword' | 'queryComponent' | 'fragment';

// ---------------------------------------------------------------------------------------
// Escaping (Go's shouldEscape, escape, unescape)

const isAlphanumeric = (c: string): boolean => /^[A-Za-z0-9]$/.test(c);
const HOST_ALLOWED = new Set("!$&'()*+,;=:[]<>\"");
const RESERVED = new Set('$&+,/:;=?@');

/** Whether the ASCII character `c` must be percent-encoded in `mode`. */
function shouldEscape(c: string, mode: Mode): boolean {
  if (isAlphanumeric(c)) return false;
  if ((mode === 'host' || mode === 'zone') && HOST_ALLOWED.has(c)) return false;
  if (c === '-' || c === '_' || c === '.' || c === '~') return false;
  if (RESERVED.has(c)) {
    switch (mode) {
      case 'path':
        return c === '?';
      case 'userPassword':
        return c === '@' || c === '/' || c === '?' || c === ':';
      case 'queryComponent':
        return true;
      case 'fragment':
        return false;
      default:
    }
  }
  if (mode === 'fragment' && (c === '!' || c === '(' || c === ')' || c === '*')) return false;
  return true;
}

const isAscii = (c: string): boolean => c.charCodeAt(0) < 0x80;
const hexDigit = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

const escapeError = (s: string): NetURLError => new NetURLError(`invalid URL escape ${goQuote(s)}`);

/** Checks `%XX` sequences and host characters, then decodes (Go's unescape). */
function unescape(s: string, mode: Mode): string {
  let escapes = 0;
  let hasPlus = false;
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === '%') {
      escapes++;
      if (!hexDigit(s[i + 1]) || !hexDigit(s[i + 2])) throw escapeError(s.slice(i, i + 3));
      checkHostEscape(s.slice(i, i + 3), mode);
      i += 3;
    } else {
      if (c === '+') hasPlus = mode === 'queryComponent';
      else if ((mode === 'host' || mode === 'zone') && isAscii(c) && shouldEscape(c, mode)) {
        throw new NetURLError(`invalid character ${goQuote(c)} in host name`);
      }
      i++;
    }
  }
  if (escapes === 0 && !hasPlus) return s;
  return decodePercents(s, mode === 'queryComponent');
}

/** Hosts may only %-encode non-ASCII bytes (and %25); zones only bytes a host may hold. */
function checkHostEscape(triplet: string, mode: Mode): void {
  if (triplet === '%25') return;
  const byte = parseInt(triplet.slice(1), 16);
  if (mode === 'host' && byte < 0x80) throw escapeError(triplet);
  const hostMayHold = byte < 0x80 && !shouldEscape(String.fromCharCode(byte), 'host');
  if (mode === 'zone' && byte !== 0x20 && !hostMayHold) throw escapeError(triplet);
}

function decodePercents(s: string, plusIsSpace: boolean): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '+' && plusIsSpace) {
      bytes.push(0x20);
    } else {
      bytes.push(...utf8.encode(c));
    }
  }
  return utf8Decoder.decode(new Uint8Array(bytes));
}

/** Percent-encodes what `mode` does not allow (Go's escape). */
function escape(s: string, mode: Mode): string {
  let out = '';
  for (const c of s) {
    if (c === ' ' && mode === 'queryComponent') out += '+';
    else if (!isAscii(c)) out += [...utf8.encode(c)].map(percentByte).join('');
    else out += shouldEscape(c, mode) ? percentByte(c.charCodeAt(0)) : c;
  }
  return out;
}

const percentByte = (byte: number): string => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;

// ---------------------------------------------------------------------------------------
// Parsing (Go's parse, parseAuthority, parseHost)

/** `scheme` and the rest when the text starts with `scheme:`; else no scheme. */
function splitScheme(raw: string): { scheme: string; rest: string } {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (/^[A-Za-z]$/.test(c)) continue;
    if (/^[0-9+.-]$/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) throw new NetURLError('missing protocol scheme');
      return { scheme: raw.slice(0, i), rest: raw.slice(i + 1) };
    }
    break;
  }
  return { scheme: '', rest: raw };
}

const hasControlCharacter = (s: string): boolean => /[\x00-\x1f\x7f]/.test(s);

/** Empty, or `:` followed by digits only. */
export function validOptionalPort(port: string): boolean {
  return port === '' || /^:[0-9]*$/.test(port);
}

function validUserinfo(s: string): boolean {
  return /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(s);
}

function parseAuthority(authority: string): { user?: GoUserinfo; host: string } {
  const at = authority.lastIndexOf('@');
  const host = parseHost(authority.slice(at + 1));
  if (at < 0) return { host };
  const userinfo = authority.slice(0, at);
  if (!validUserinfo(userinfo)) throw new NetURLError('net/url: invalid userinfo');
  const colon = userinfo.indexOf(':');
  if (colon < 0) return { user: { username: unescape(userinfo, 'userPassword') }, host };
  const username = unescape(userinfo.slice(0, colon), 'userPassword');
  const password = unescape(userinfo.slice(colon + 1), 'userPassword');
  return { user: { username, password }, host };
}

/** `host[:port]`, unescaped; a bracketed host must be an IPv6 literal at the start. */
function parseHost(host: string): string {
  const openBracket = host.lastIndexOf('[');
  if (openBracket > 0) throw new NetURLError('invalid IP-literal');
  if (openBracket === 0) return parseIPLiteralHost(host);
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    const colonPort = host.slice(colon);
    if (!validOptionalPort(colonPort)) throw new NetURLError(`invalid port ${goQuote(colonPort)} after host`);
  }
  return unescape(host, 'host');
}

function parseIPLiteralHost(host: string): string {
  const closeBracket = host.lastIndexOf(']');
  if (closeBracket < 0) throw new NetURLError("missing ']' in host");
  const colonPort = host.slice(closeBracket + 1);
  if (!validOptionalPort(colonPort)) throw new NetURLError(`invalid port ${goQuote(colonPort)} after host`);

  // RFC 6874: %25 starts a zone, which may use more escapes than the address may.
  const literal = host.slice(1, closeBracket);
  const zoneStart = literal.indexOf('%25');
  const address =
    zoneStart < 0
      ? unescape(literal, 'host')
      : unescape(literal.slice(0, zoneStart), 'host') + unescape(literal.slice(zoneStart), 'zone');
  try {
    if (parseAddr(address).family === 4) throw new NetURLError('invalid IP-literal');
  } catch (error) {
    if (error instanceof NetipError) throw new NetURLError(`invalid host: ${error.message}`);
    throw error;
  }
  return `[${address}]${colonPort}`;
}

type MutableURL = { -readonly [K in keyof GoURL]: GoURL[K] };

/** Go's parse(rawURL, viaRequest). */
function parseWithoutFragment(raw: string, viaRequest: boolean): MutableURL {
  if (hasControlCharacter(raw)) throw new NetURLError('net/url: invalid control character in URL');
  if (raw === '' && viaRequest) throw new NetURLError('empty url');
  const url: MutableURL = {
    scheme: '',
    opaque: '',
    host: '',
    omitHost: false,
    path: '',
    rawPath: '',
    forceQuery: false,
    rawQuery: '',
    fragment: '',
    rawFragment: '',
  };
  if (raw === '*') {
    url.path = '*';
    return url;
  }

  const split = splitScheme(raw);
  url.scheme = split.scheme.toLowerCase();
  let rest = split.rest;
  if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
    url.forceQuery = true;
    rest = rest.slice(0, -1);
  } else {
    const question = rest.indexOf('?');
    if (question >= 0) {
      url.rawQuery = rest.slice(question + 1);
      rest = rest.slice(0, question);
    }
  }

  if (!rest.startsWith('/')) {
    if (url.scheme !== '') {
      url.opaque = rest; // rootless paths are opaque (RFC 3986)
      return url;
    }
    if (viaRequest) throw new NetURLError('invalid URI for request');
    if (rest.split('/', 1)[0]!.includes(':')) throw new NetURLError('first path segment in URL cannot contain colon');
  }

  if ((url.scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const parsed = parseAuthority(authority);
    url.host = parsed.host;
    if (parsed.user) url.user = parsed.user;
  } else if (url.scheme !== '' && rest.startsWith('/')) {
    url.omitHost = true;
  }
  setPath(url, rest);
  return url;
}

function setPath(url: MutableURL, escaped: string): void {
  url.path = unescape(escaped, 'path');
  url.rawPath = escape(url.path, 'path') === escaped ? '' : escaped;
}

const parseError = (raw: string, error: unknown): unknown =>
  error instanceof NetURLError ? new NetURLError(`parse ${goQuote(raw)}: ${error.message}`) : error;

/** url.ParseRequestURI: an absolute URI or an absolute path; a `#` is not special. */
export function parseRequestURI(raw: string): GoURL {
  try {
    return parseWithoutFragment(raw, true);
  } catch (error) {
    throw parseError(raw, error);
  }
}

/** url.Parse: any URI reference, with its fragment split off. */
export function parseURL(raw: string): GoURL {
  const hash = raw.indexOf('#');
  const beforeHash = hash < 0 ? raw : raw.slice(0, hash);
  let url: MutableURL;
  try {
    url = parseWithoutFragment(beforeHash, false);
  } catch (error) {
    throw parseError(beforeHash, error);
  }
  if (hash >= 0) {
    try {
      const written = raw.slice(hash + 1);
      url.fragment = unescape(written, 'fragment');
      url.rawFragment = escape(url.fragment, 'fragment') === written ? '' : written;
    } catch (error) {
      throw parseError(raw, error);
    }
  }
  return url;
}

// ---------------------------------------------------------------------------------------
// Accessors (URL.Hostname, Port, EscapedPath, Query)

function splitHostPort(hostPort: string): { hostname: string; port: string } {
  let hostname = hostPort;
  let port = '';
  const colon = hostname.lastIndexOf(':');
  if (colon !== -1 && validOptionalPort(hostname.slice(colon))) {
    port = hostname.slice(colon + 1);
    hostname = hostname.slice(0, colon);
  }
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1);
  return { hostname, port };
}

/** The host without port or IPv6 brackets. */
export const urlHostname = (url: GoURL): string => splitHostPort(url.host).hostname;

export const urlPort = (url: GoURL): string => splitHostPort(url.host).port;

/** Whether `s` holds only characters that need no escaping in `mode` (Go's validEncoded). */
function validEncoded(s: string, mode: Mode): boolean {
  for (const c of s) {
    if ("!$&'()*+,;=:@[]%".includes(c)) continue;
    if (!isAscii(c) || shouldEscape(c, mode)) return false;
  }
  return true;
}

/** `written` when it is a valid encoding of `decoded` in `mode`. */
function writtenIfValid(written: string, decoded: string, mode: Mode): string | undefined {
  if (written === '' || !validEncoded(written, mode)) return undefined;
  try {
    return unescape(written, mode) === decoded ? written : undefined;
  } catch {
    return undefined;
  }
}

/** The path as written when that is a valid encoding of it, else Go's default encoding. */
export function urlEscapedPath(url: GoURL): string {
  const written = writtenIfValid(url.rawPath, url.path, 'path');
  if (written !== undefined) return written;
  if (url.path === '*') return '*'; // Go leaves a lone '*' unescaped
  return escape(url.path, 'path');
}

function escapedFragment(url: GoURL): string {
  return writtenIfValid(url.rawFragment, url.fragment, 'fragment') ?? escape(url.fragment, 'fragment');
}

function userinfoString(user: GoUserinfo): string {
  const name = escape(user.username, 'userPassword');
  return user.password === undefined ? name : `${name}:${escape(user.password, 'userPassword')}`;
}

/** Go's URL.String: the URL reassembled from its parts, which is how Kubernetes compares URLs. */
export function urlString(url: GoURL): string {
  let out = url.scheme === '' ? '' : `${url.scheme}:`;
  if (url.opaque !== '') {
    out += url.opaque;
  } else {
    const hasAuthority = url.scheme !== '' || url.host !== '' || url.user !== undefined;
    if (hasAuthority && !(url.omitHost && url.host === '' && url.user === undefined)) {
      if (url.host !== '' || url.path !== '' || url.user !== undefined) out += '//';
      if (url.user !== undefined) out += `${userinfoString(url.user)}@`;
      out += escape(url.host, 'host');
    }
    const path = urlEscapedPath(url);
    if (path !== '' && path[0] !== '/' && url.host !== '') out += '/';
    // A first segment with a colon would read as a scheme (RFC 3986 §4.2).
    if (out === '' && path.split('/', 1)[0]!.includes(':')) out += './';
    out += path;
  }
  if (url.forceQuery || url.rawQuery !== '') out += `?${url.rawQuery}`;
  if (url.fragment !== '') out += `#${escapedFragment(url)}`;
  return out;
}

/** Query parameters, each key with all its values; malformed pairs are skipped (url.ParseQuery). */
export function urlQuery(url: GoURL): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const pair of url.rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const equals = pair.indexOf('=');
    const rawKey = equals < 0 ? pair : pair.slice(0, equals);
    const rawValue = equals < 0 ? '' : pair.slice(equals + 1);
    let key: string;
    let value: string;
    try {
      key = unescape(rawKey, 'queryComponent');
      value = unescape(rawValue, 'queryComponent');
    } catch (error) {
      if (error instanceof NetURLError) continue;
      throw error;
    }
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return values;
}
