/**
 * Connections to upstreams: one undici Pool per endpoint and TLS setting (keep-alive, bounded
 * by the DestinationRule's connection pool; HTTP/1.1 — gRPC goes over h2c.ts), and the TLS a DestinationRule asks for:
 * ISTIO_MUTUAL presents the workload certificate and checks the server's SPIFFE ID, SIMPLE
 * and MUTUAL use the rule's files, DISABLE is plain text.
 */
import { readFileSync } from 'node:fs';
import { checkServerIdentity as defaultCheckServerIdentity, createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import { Pool } from 'undici';
import { uriSans } from '../../pki/tls.js';
import type { ConnectionPoolPolicy, Endpoint, UpstreamTlsPolicy } from '../types.js';

/** The workload's certificate, key and mesh CA as PEM (read once; reread on rotation by the caller). */
export interface WorkloadCredentials {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly principal: string;
  readonly trustDomain: string;
  /** Changes when the certificate is rotated, so pools made with the old one are not reused. */
  readonly generation?: number;
}

/** How to reach one endpoint: the resolved TLS settings, or plain text. */
export interface UpstreamTls {
  /** Part of the pool key: two endpoints share nothing, but two policies for one endpoint may differ. */
  readonly key: string;
  readonly options: Record<string, unknown>;
}

export class UpstreamTlsError extends Error {}

/**
 * TLS options for one endpoint under `policy` (absent: plain text). ISTIO_MUTUAL needs the
 * workload identity; SIMPLE/MUTUAL read the rule's files (Istio's `caCertificates`,
 * `clientCertificate`, `privateKey`).
 */
export function upstreamTls(policy: UpstreamTlsPolicy | undefined, endpoint: Endpoint, workload: WorkloadCredentials | undefined, host: string): UpstreamTls | undefined {
  if (!policy || policy.mode === 'DISABLE') return undefined;
  if (policy.mode === 'ISTIO_MUTUAL') {
    if (!workload) throw new UpstreamTlsError(`ISTIO_MUTUAL to ${host} needs the proxy's workload identity (the config's identity: cert, key, ca)`);
    return istioMutual(policy, endpoint.principal, workload, host);
  }
  const ca = policy.caCertificates ? readPem(policy.caCertificates, 'caCertificates') : undefined;
  const options: Record<string, unknown> = {
    servername: policy.sni ?? host,
    rejectUnauthorized: policy.insecureSkipVerify !== true,
  };
  if (ca) options['ca'] = ca;
  if (policy.mode === 'MUTUAL') {
    if (!policy.clientCertificate || !policy.privateKey) throw new UpstreamTlsError(`TLS mode MUTUAL to ${host} needs clientCertificate and privateKey`);
    options['cert'] = readPem(policy.clientCertificate, 'clientCertificate');
    options['key'] = readPem(policy.privateKey, 'privateKey');
  }
  if (policy.subjectAltNames && policy.subjectAltNames.length > 0) {
    const names = policy.subjectAltNames;
    options['checkServerIdentity'] = (name: string, cert: PeerCertificate) => checkNames(name, cert, names);
  }
  return { key: `${policy.mode}|${policy.sni ?? ''}|${policy.caCertificates ?? ''}|${policy.clientCertificate ?? ''}|${policy.subjectAltNames?.join(',') ?? ''}|${policy.insecureSkipVerify ?? false}`, options };
}

/**
 * ISTIO_MUTUAL settings, made once per workload certificate generation, policy, host and
 * expected principal: one SecureContext per certificate generation (a context per connection
 * would parse the PEM key and chain on every handshake), and the same settings object on every
 * request so the pool lookup finds its pool without building a key.
 */
interface IstioTlsCache {
  readonly context: SecureContext;
  readonly byPolicy: WeakMap<UpstreamTlsPolicy, Map<string, Map<string, UpstreamTls>>>;
}
const istioCaches = new WeakMap<WorkloadCredentials, IstioTlsCache>();
/** Settings objects handed out again and again (safe as Map keys in UpstreamPools). */
const reusedTls = new WeakSet<UpstreamTls>();

function istioMutual(policy: UpstreamTlsPolicy, principal: string | undefined, workload: WorkloadCredentials, host: string): UpstreamTls {
  let cache = istioCaches.get(workload);
  if (!cache) {
    let context: SecureContext;
    try {
      context = createSecureContext({ cert: workload.cert, key: workload.key, ca: workload.ca });
    } catch (error) {
      throw new UpstreamTlsError(`the workload certificate cannot be used for ISTIO_MUTUAL: ${(error as Error).message}`);
    }
    istioCaches.set(workload, (cache = { context, byPolicy: new WeakMap() }));
  }
  let byHost = cache.byPolicy.get(policy);
  if (!byHost) cache.byPolicy.set(policy, (byHost = new Map()));
  let byPrincipal = byHost.get(host);
  if (!byPrincipal) byHost.set(host, (byPrincipal = new Map()));
  const principalKey = principal ?? '';
  let tls = byPrincipal.get(principalKey);
  if (!tls) {
    const expected = policy.subjectAltNames && policy.subjectAltNames.length > 0 ? policy.subjectAltNames : principal ? [principal] : undefined;
    const trustDomain = workload.trustDomain;
    tls = {
      key: `istio|${workload.generation ?? 0}|${expected?.join(',') ?? `td:${trustDomain}`}|${policy.sni ?? ''}`,
      options: {
        secureContext: cache.context,
        rejectUnauthorized: true,
        servername: policy.sni ?? host,
        // Mesh certificates name workloads by SPIFFE URI, not by DNS: the chain is checked by
        // OpenSSL against the mesh CA, and the name here against the endpoint's principal (or,
        // when unknown, the trust domain).
        checkServerIdentity: (_name: string, cert: PeerCertificate) => checkSpiffe(cert, expected, trustDomain),
      },
    };
    byPrincipal.set(principalKey, tls);
    reusedTls.add(tls);
  }
  return tls;
}

function readPem(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UpstreamTlsError(`cannot read the DestinationRule's tls.${field} ${file}: ${(error as Error).message}`);
  }
}

function checkSpiffe(cert: PeerCertificate, expected: readonly string[] | undefined, trustDomain: string): Error | undefined {
  const uris = cert.subjectaltname ? uriSans(cert.subjectaltname) : [];
  if (expected) {
    if (uris.some((uri) => expected.includes(uri))) return undefined;
    return new Error(`upstream certificate SPIFFE ID ${uris.join(', ') || '(none)'} is not the expected ${expected.join(' or ')}`);
  }
  if (uris.some((uri) => uri.startsWith(`spiffe://${trustDomain}/`))) return undefined;
  return new Error(`upstream certificate has no SPIFFE ID in trust domain ${trustDomain} (found ${uris.join(', ') || 'none'})`);
}

function checkNames(name: string, cert: PeerCertificate, names: readonly string[]): Error | undefined {
  const uris = cert.subjectaltname ? uriSans(cert.subjectaltname) : [];
  if (uris.some((uri) => names.includes(uri))) return undefined;
  for (const candidate of names) if (defaultCheckServerIdentity(candidate, cert) === undefined) return undefined;
  return new Error(`upstream certificate for ${name} matches none of subjectAltNames ${names.join(', ')}`);
}

export interface PoolSettings {
  readonly connectionPool: ConnectionPoolPolicy;
  readonly tls: UpstreamTls | undefined;
}

interface PoolEntry {
  readonly pool: Pool;
  lastUsed: number;
}

/** Pools by endpoint and settings. Pools idle for a while are closed so that departed endpoints do not leak. */
export class UpstreamPools {
  readonly #pools = new Map<string, PoolEntry>();
  /**
   * The same pools found without building a key: connection pool policy → TLS settings (both
   * the same objects on every request) → address → port. Cleared when a pool is closed.
   */
  #fast = new WeakMap<ConnectionPoolPolicy, Map<UpstreamTls | undefined, Map<string, Map<number, PoolEntry>>>>();
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(private readonly idleCloseMs = 5 * 60_000) {
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(idleCloseMs, 60_000));
    this.#sweeper.unref();
  }

  /** The pool for `origin` (`http://address:port` or `https://...`). */
  pool(address: string, port: number, settings: PoolSettings): Pool {
    if (this.#closed) throw new Error('the proxy is shutting down');
    // Settings made per request (SIMPLE/MUTUAL read their files each time) go by key.
    if (settings.tls && !reusedTls.has(settings.tls)) {
      const keyed = this.#keyed(address, port, settings);
      keyed.lastUsed = Date.now();
      return keyed.pool;
    }
    let byTls = this.#fast.get(settings.connectionPool);
    if (!byTls) this.#fast.set(settings.connectionPool, (byTls = new Map()));
    let byAddress = byTls.get(settings.tls);
    if (!byAddress) byTls.set(settings.tls, (byAddress = new Map()));
    let byPort = byAddress.get(address);
    if (!byPort) byAddress.set(address, (byPort = new Map()));
    let entry = byPort.get(port);
    if (!entry) byPort.set(port, (entry = this.#keyed(address, port, settings)));
    entry.lastUsed = Date.now();
    return entry.pool;
  }

  #keyed(address: string, port: number, settings: PoolSettings): PoolEntry {
    const scheme = settings.tls ? 'https' : 'http';
    const cp = settings.connectionPool;
    const key = `${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}|${settings.tls?.key ?? ''}|${cp.maxConnections}|${cp.connectTimeoutMs}|${cp.maxRequestsPerConnection}|${cp.idleTimeoutMs ?? ''}`;
    const existing = this.#pools.get(key);
    if (existing) return existing;
    const origin = key.slice(0, key.indexOf('|'));
    const pool = new Pool(origin, {
      connections: cp.maxConnections > 0 ? cp.maxConnections : null,
      pipelining: 1,
      connect: { timeout: cp.connectTimeoutMs, ...(settings.tls?.options ?? {}) },
      ...(cp.maxRequestsPerConnection > 0 ? { maxRequestsPerClient: cp.maxRequestsPerConnection } : {}),
      ...(cp.idleTimeoutMs ? { keepAliveTimeout: cp.idleTimeoutMs, keepAliveMaxTimeout: cp.idleTimeoutMs } : {}),
      // Timeouts are enforced by the forwarder (route timeout, perTryTimeout); undici's own
      // 300 s defaults would otherwise cut long streams (gRPC) short.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    const entry = { pool, lastUsed: Date.now() };
    this.#pools.set(key, entry);
    return entry;
  }

  /** A pool for a fixed plain-HTTP origin (the local application). */
  origin(url: string, connections: number): Pool {
    const key = `origin:${url}`;
    const existing = this.#pools.get(key);
    if (existing) {
      existing.lastUsed = Number.POSITIVE_INFINITY;
      return existing.pool;
    }
    const pool = new Pool(url, { connections, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
    this.#pools.set(key, { pool, lastUsed: Number.POSITIVE_INFINITY });
    return pool;
  }

  #sweep(): void {
    const cutoff = Date.now() - this.idleCloseMs;
    for (const [key, entry] of this.#pools) {
      if (entry.lastUsed < cutoff) {
        this.#pools.delete(key);
        this.#fast = new WeakMap();
        void entry.pool.close().catch(() => {});
      }
    }
  }

  /** Closes every pool, letting requests in flight finish. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((entry) => entry.pool.close().catch(() => {})));
  }

  /** Closes every pool at once, aborting requests in flight. */
  async destroy(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((entry) => entry.pool.destroy().catch(() => {})));
  }
}
