/** Who is calling: the SPIFFE identity of a verified TLS peer, or of Envoy's x-forwarded-client-cert. */
import type { TLSSocket } from 'node:tls';

export interface PeerIdentity {
  /** The SPIFFE URI SAN, when there is one. */
  readonly principal?: string;
  /** True when the identity came from a client certificate verified on this connection. */
  readonly mtls: boolean;
}

const NO_PEER: PeerIdentity = { mtls: false };
const cache = new WeakMap<object, PeerIdentity>();

/** The verified peer certificate's first `spiffe://` URI SAN; computed once per connection. */
export function peerIdentity(socket: object): PeerIdentity {
  const cached = cache.get(socket);
  if (cached) return cached;
  const tls = socket as Partial<TLSSocket>;
  let identity = NO_PEER;
  if (tls.encrypted && tls.authorized && typeof tls.getPeerCertificate === 'function') {
    const certificate = tls.getPeerCertificate();
    identity = { mtls: true, principal: spiffeUriSan(certificate?.subjectaltname) };
  }
  cache.set(socket, identity);
  return identity;
}

/** `URI:spiffe://td/ns/a/sa/b, DNS:x` → the first spiffe URI. */
export function spiffeUriSan(subjectAltName: string | undefined): string | undefined {
  if (!subjectAltName) return undefined;
  for (const entry of subjectAltName.split(/,\s*/)) {
    if (entry.startsWith('URI:spiffe://')) return entry.slice(4);
  }
  return undefined;
}

export interface ForwardedClientCert {
  /** `URI=`: the client certificate's URI SAN (the source). */
  readonly uri?: string;
  /** `By=`: the proxy's own certificate URI SAN (the destination). */
  readonly by?: string;
}

/**
 * Parses Envoy's x-forwarded-client-cert and returns its last element, the one added by
 * the proxy nearest to us. Elements are comma-separated, pairs `;`-separated, and values
 * may be double-quoted (with `\"` escapes) when they contain `,` `;` or `=`.
 */
export function parseForwardedClientCert(header: string | undefined): ForwardedClientCert | undefined {
  if (!header) return undefined;
  const elements: Array<Record<string, string>> = [];
  let current: Record<string, string> = {};
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && header[i] === ' ') i++;
    const eq = header.indexOf('=', i);
    if (eq < 0) return undefined;
    const key = header.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < n && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < n) i++;
        value += header[i];
        i++;
      }
      if (i >= n) return undefined;
      i++;
    } else {
      const start = i;
      while (i < n && header[i] !== ';' && header[i] !== ',') i++;
      value = header.slice(start, i).trim();
    }
    if (!(key in current)) current[key] = value;
    if (header[i] === ',') {
      elements.push(current);
      current = {};
    }
    if (i < n) i++;
  }
  elements.push(current);
  const last = elements[elements.length - 1]!;
  return { uri: last['uri'], by: last['by'] };
}

/** The namespace in a SPIFFE id of Istio's form `spiffe://td/ns/NS/sa/SA`. */
export function namespaceOfPrincipal(principal: string | undefined): string | undefined {
  if (!principal) return undefined;
  const match = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\//.exec(principal);
  return match?.[1];
}
