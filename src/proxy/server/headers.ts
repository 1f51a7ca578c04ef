/**
 * Header handling shared by every listener: hop-by-hop removal (RFC 9110 7.6.1), the
 * VirtualService header operations, and the headers a proxy adds (x-forwarded-*,
 * x-forwarded-client-cert; trace headers come from src/telemetry/trace.ts).
 */
import type { HeaderOperations } from '../types.js';

/** Header values as the proxy keeps them: lower-case names, repeated headers as arrays. */
export type HeaderMap = Record<string, string | string[]>;

/** Connection-specific headers: never forwarded (RFC 9110 7.6.1, plus HTTP/2 pseudo-headers). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
  // The proxy answers 100-continue itself (node does, as Envoy does); the upstream gets the body.
  'expect',
]);

/**
 * The end-to-end headers of a request or response (node's lower-case header object), without
 * hop-by-hop headers, the ones `Connection` names, and HTTP/2 pseudo-headers. `te: trailers`
 * is the one hop-by-hop value kept: gRPC requires it end to end.
 */
export function endToEndHeaders(raw: Readonly<Record<string, string | string[] | undefined>>): HeaderMap {
  const out: HeaderMap = {};
  const connection = raw['connection'];
  const named = connection ? String(connection).toLowerCase().split(/\s*,\s*/) : [];
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* : */) continue;
    if (HOP_BY_HOP.has(name) || named.includes(name)) {
      if (name === 'te' && String(value).toLowerCase().includes('trailers')) out['te'] = 'trailers';
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** One header's value as a single string (repeated values joined the way RFC 9110 allows). */
export function headerValue(headers: Readonly<HeaderMap>, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
}

/** A flat view (lower-case names, repeated values joined) for routing and authorization. */
export function flatHeaders(headers: Readonly<HeaderMap>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) out[name] = headerValue(headers, name)!;
  return out;
}

/**
 * The same flat view without a copy when no header repeats (the common case): for readers that
 * are done before the headers change again (route matching).
 */
export function flatView(headers: Readonly<HeaderMap>): Readonly<Record<string, string>> {
  for (const name in headers) if (typeof headers[name] !== 'string') return flatHeaders(headers);
  return headers as Readonly<Record<string, string>>;
}

/** Istio's header operations: `set` overwrites, `add` appends, `remove` deletes (in that order, as Envoy applies them). */
export function applyHeaderOperations(headers: HeaderMap, operations: HeaderOperations | undefined): void {
  if (!operations) return;
  for (const name in operations.set) headers[name.toLowerCase()] = operations.set[name]!;
  for (const name in operations.add) {
    const key = name.toLowerCase();
    const existing = headers[key];
    const value = operations.add[name]!;
    headers[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  for (const name of operations.remove) delete headers[name.toLowerCase()];
}

/** Appends the downstream address to x-forwarded-for, as Envoy does with use_remote_address. */
export function appendForwardedFor(headers: HeaderMap, address: string | undefined): void {
  if (!address) return;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  const existing = headerValue(headers, 'x-forwarded-for');
  headers['x-forwarded-for'] = existing ? `${existing}, ${plain}` : plain;
}

/**
 * Envoy's x-forwarded-client-cert in SANITIZE_SET style (what Istio configures for inbound
 * traffic): whatever the client sent is replaced by one element describing the verified peer
 * certificate: `By=<our SPIFFE ID>;Hash=<SHA-256 of the peer's DER>;URI=<the peer's SPIFFE ID>`.
 * Without a verified peer certificate the header is removed.
 */
export function setForwardedClientCert(headers: HeaderMap, by: string | undefined, peer: { uri?: string; hash?: string } | undefined): void {
  delete headers['x-forwarded-client-cert'];
  if (!peer?.uri && !peer?.hash) return;
  const parts: string[] = [];
  if (by) parts.push(`By=${quoteXfcc(by)}`);
  if (peer.hash) parts.push(`Hash=${peer.hash}`);
  if (peer.uri) parts.push(`URI=${quoteXfcc(peer.uri)}`);
  headers['x-forwarded-client-cert'] = parts.join(';');
}

function quoteXfcc(value: string): string {
  return /[,;="]/.test(value) ? `"${value.replace(/"/g, '\\"')}"` : value;
}

/** Response headers as node's writeHead takes them (HTTP/2 refuses connection-specific ones). */
export function responseHeaders(raw: Readonly<Record<string, string | string[] | undefined>>): HeaderMap {
  const out = endToEndHeaders(raw);
  delete out['te'];
  return out;
}
