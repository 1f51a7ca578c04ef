/**
 * One request's facts, computed once: the normalised path and the identities every matcher
 * reads, and (only when some CEL condition needs it) the CEL activation named after
 * Envoy's AttributeContext.
 */
import { randomUUID } from 'node:crypto';
import { fromJson } from '../../cel/index.js';
import { normalizePath, splitPathAndQuery, type PathNormalization } from './paths.js';
import type { AccessRequest, AuthAttributes } from './types.js';

const SPIFFE = 'spiffe://';

export interface ViewOptions {
  readonly pathNormalization: PathNormalization;
  /** Envoy's xff_num_trusted_hops: which X-Forwarded-For entry is the client (0 = the last). */
  readonly xffNumTrustedHops: number;
}

/** The per-request facts the compiled matchers read. Plain fields: matching allocates nothing. */
export class RequestView {
  readonly id: string;
  readonly method: string;
  /** Normalised path without the query string. */
  readonly urlPath: string;
  readonly query: string;
  readonly host: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Source principal without `spiffe://` (`cluster.local/ns/foo/sa/bar`), '' when none. */
  readonly sourcePrincipal: string;
  readonly sourceNamespace: string;
  readonly sourceIp: string;
  readonly remoteIp: string;
  readonly destinationIp: string;
  readonly destinationPort: string;
  readonly destinationNamespace: string;
  readonly destinationLabels: Readonly<Record<string, string>>;
  readonly destinationService: string;
  readonly sni: string;
  readonly mtls: boolean;
  /** Set by request authentication before policies run. */
  auth: AuthAttributes | undefined = undefined;
  #activation: Record<string, unknown> | undefined;

  constructor(
    readonly request: AccessRequest,
    options: ViewOptions,
  ) {
    const r = request.request;
    const headers = r.headers ?? {};
    this.headers = headers;
    this.id = r.id || ownString(headers, 'x-request-id') || randomUUID();
    this.method = typeof r.method === 'string' ? r.method : '';
    const { path, query } = splitPathAndQuery(r.path);
    this.urlPath = normalizePath(path, options.pathNormalization);
    this.query = query;
    this.host = (typeof r.host === 'string' ? r.host : undefined) ?? ownString(headers, ':authority') ?? ownString(headers, 'host') ?? '';
    this.sourcePrincipal = stripSpiffe(request.source?.principal ?? request.connection?.uri_san_peer_certificate ?? '');
    this.sourceNamespace = namespaceOfPrincipal(this.sourcePrincipal);
    this.sourceIp = request.source?.address ?? '';
    this.remoteIp = remoteAddress(ownString(headers, 'x-forwarded-for'), this.sourceIp, options.xffNumTrustedHops);
    this.destinationIp = request.destination?.address ?? '';
    this.destinationPort = request.destination?.port === undefined ? '' : String(request.destination.port);
    this.destinationNamespace = request.destination?.namespace || 'default';
    this.destinationLabels = request.destination?.labels ?? {};
    this.destinationService = request.destination?.service ?? '';
    this.sni = request.connection?.requested_server_name ?? '';
    this.mtls = request.connection?.mtls ?? this.sourcePrincipal !== '';
  }

  /** A request header by lower-case name ('' when absent; never an inherited property). */
  header(name: string): string | undefined {
    return ownString(this.headers, name);
  }

  /** The request principal (`iss/sub`) of a verified JWT, '' when there is none. */
  get requestPrincipal(): string {
    return this.auth?.principal ?? '';
  }

  /** The CEL activation, built on first use and shared by every expression of the decision. */
  get activation(): Record<string, unknown> {
    if (!this.#activation) this.#activation = this.#buildActivation();
    return this.#activation;
  }

  /**
   * Built by hand rather than through fromJson: only the parts that can hold arbitrary JSON
   * (claims, context) need converting, the rest are strings we already have.
   */
  #buildActivation(): Record<string, unknown> {
    const req = this.request;
    const r = req.request;
    const auth = this.auth;
    return {
      source: {
        address: this.sourceIp,
        port: BigInt(req.source?.port ?? 0),
        principal: req.source?.principal ?? '',
        labels: stringMap(req.source?.labels),
        namespace: this.sourceNamespace,
      },
      destination: {
        address: this.destinationIp,
        port: BigInt(req.destination?.port ?? 0),
        principal: req.destination?.principal ?? '',
        labels: stringMap(this.destinationLabels),
        namespace: this.destinationNamespace,
        service: this.destinationService,
      },
      request: {
        id: this.id,
        time: requestTime(r.time),
        method: this.method,
        path: this.query ? `${this.urlPath}?${this.query}` : this.urlPath,
        url_path: this.urlPath,
        host: this.host,
        scheme: r.scheme ?? '',
        protocol: r.protocol ?? '',
        headers: stringMap(this.headers),
        query: stringMap(parseQuery(this.query)),
        body: r.body ?? '',
      },
      connection: {
        mtls: this.mtls,
        requested_server_name: this.sni,
        uri_san_peer_certificate: req.connection?.uri_san_peer_certificate ?? req.source?.principal ?? '',
      },
      auth: auth
        ? { principal: auth.principal, claims: fromJson(auth.claims), audiences: auth.audiences, presenter: auth.presenter ?? '' }
        : EMPTY_AUTH,
      context: req.context ? stringMap(req.context) : EMPTY_MAP,
    };
  }
}

const EMPTY_MAP = Object.freeze({});
const EMPTY_AUTH = Object.freeze({ principal: '', claims: EMPTY_MAP, audiences: Object.freeze([]), presenter: '' });

/**
 * A string map as CEL reads it: the plain object itself, unless a key (`__proto__`,
 * `constructor`) would be mistaken for structure, in which case fromJson makes it a Map.
 */
function stringMap(map: Readonly<Record<string, string>> | undefined): unknown {
  if (!map) return EMPTY_MAP;
  if (Object.prototype.hasOwnProperty.call(map, 'constructor') || Object.prototype.hasOwnProperty.call(map, '__proto__')) return fromJson(map);
  return map;
}

function requestTime(text: string | undefined): Date {
  const d = text ? new Date(text) : new Date();
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

function ownString(map: Readonly<Record<string, string>>, key: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(map, key)) return undefined;
  const v = map[key];
  return typeof v === 'string' ? v : undefined;
}

export function stripSpiffe(principal: string): string {
  return principal.startsWith(SPIFFE) ? principal.slice(SPIFFE.length) : principal;
}

/** `cluster.local/ns/foo/sa/bar` → `foo`; '' when the principal has no `/ns/` part. */
export function namespaceOfPrincipal(principal: string): string {
  const at = principal.indexOf('/ns/');
  if (at < 0) return '';
  const rest = principal.slice(at + 4);
  const end = rest.indexOf('/');
  return end < 0 ? rest : rest.slice(0, end);
}

/**
 * Envoy's trusted client address: with xff_num_trusted_hops N, the (N+1)-th address from the
 * right of X-Forwarded-For; the connection's address when the header has too few entries.
 */
function remoteAddress(xff: string | undefined, fallback: string, trustedHops: number): string {
  if (!xff) return fallback;
  const entries = xff.split(',');
  const index = entries.length - 1 - trustedHops;
  if (index < 0) return fallback;
  const candidate = entries[index]!.trim();
  return candidate || fallback;
}

/** `a=1&b=2&a=3` → `{a: '1', b: '2'}` (first value wins, as Envoy's query matchers read it). */
export function parseQuery(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!query) return out;
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    const key = safeDecode(rawKey);
    if (Object.prototype.hasOwnProperty.call(out, key)) continue;
    // defineProperty so that a `__proto__` parameter is data, not the prototype.
    Object.defineProperty(out, key, { value: safeDecode(rawValue), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
