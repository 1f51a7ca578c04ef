/**
 * What a gateway listener serves, from its Istio Gateway's servers: plain HTTP (optionally
 * redirecting to https, `tls.httpsRedirect`), or TLS termination (`SIMPLE` with the server's
 * certificate files, `MUTUAL` verifying clients against `caCertificates`, `OPTIONAL_MUTUAL`,
 * `ISTIO_MUTUAL` with the proxy's workload identity). Several TLS servers on one port are told
 * apart by SNI against their `hosts`.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { createTlsContextSource, type TlsContextSource } from '../../pki/tls.js';
import type { CompiledGateway, GatewayServer } from '../routing/index.js';
import type { IdentityFiles } from '../types.js';

export class GatewayConfigError extends Error {}

export type GatewayPlan =
  | { readonly kind: 'plain'; readonly port: number; readonly httpsRedirect: boolean }
  | { readonly kind: 'tls'; readonly port: number; readonly sites: readonly GatewaySite[]; readonly requestCert: boolean; readonly rejectUnauthorized: boolean; readonly minVersion?: 'TLSv1.2' | 'TLSv1.3'; readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3' };

export interface GatewaySite {
  /** Host patterns (without the `namespace/` part); `*` matches every SNI. */
  readonly hosts: readonly string[];
  readonly source: TlsContextSource;
}

const PLAIN_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);
const VERSIONS: Record<string, 'TLSv1.2' | 'TLSv1.3' | undefined> = { TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3' };

/**
 * The servers this listener serves: those on the listener's port, or, when none is (the
 * listener was given another port, e.g. 0 in tests), all servers if they share one port.
 */
export function serversFor(gateway: CompiledGateway, listenerPort: number): readonly GatewayServer[] {
  const onPort = gateway.servers.filter((s) => s.port.number === listenerPort);
  if (onPort.length > 0) return onPort;
  const ports = new Set(gateway.servers.map((s) => s.port.number));
  if (ports.size === 1) return gateway.servers;
  throw new GatewayConfigError(`Gateway ${gateway.namespace}/${gateway.name} has servers on ports ${[...ports].join(', ')} and none on the listener's port ${listenerPort}: give the listener one of those ports`);
}

export function planGateway(gateway: CompiledGateway, listenerPort: number, identity: IdentityFiles | undefined): GatewayPlan {
  const servers = serversFor(gateway, listenerPort);
  const port = servers[0]!.port.number;
  const where = `Gateway ${gateway.namespace}/${gateway.name} port ${port}`;
  const plain = servers.filter((s) => PLAIN_PROTOCOLS.has(s.port.protocol.toUpperCase()));
  const secure = servers.filter((s) => !PLAIN_PROTOCOLS.has(s.port.protocol.toUpperCase()));
  if (plain.length > 0 && secure.length > 0) throw new GatewayConfigError(`${where} mixes plain (${plain[0]!.port.protocol}) and TLS (${secure[0]!.port.protocol}) servers on one port`);
  if (secure.length === 0) return { kind: 'plain', port, httpsRedirect: plain.some((s) => s.tls?.httpsRedirect === true) };

  const sites: GatewaySite[] = [];
  let requestCert = false;
  let rejectUnauthorized = false;
  let minVersion: 'TLSv1.2' | 'TLSv1.3' | undefined;
  let maxVersion: 'TLSv1.2' | 'TLSv1.3' | undefined;
  for (const server of secure) {
    const tls = server.tls;
    const protocol = server.port.protocol.toUpperCase();
    if (protocol !== 'HTTPS') throw new GatewayConfigError(`${where}: protocol ${protocol} (TCP/TLS routing) is not supported yet; celgate gateways serve HTTP and HTTPS`);
    if (!tls) throw new GatewayConfigError(`${where}: an HTTPS server needs tls settings`);
    if (tls.mode === 'PASSTHROUGH' || tls.mode === 'AUTO_PASSTHROUGH') throw new GatewayConfigError(`${where}: tls mode ${tls.mode} is not supported yet (celgate terminates TLS)`);
    if (tls.credentialName) throw new GatewayConfigError(`${where}: credentialName (a Kubernetes Secret) is not supported yet; give serverCertificate and privateKey files`);
    let source: TlsContextSource;
    if (tls.mode === 'ISTIO_MUTUAL') {
      if (!identity) throw new GatewayConfigError(`${where}: tls mode ISTIO_MUTUAL needs the proxy's identity (cert, key, ca) in the config`);
      source = createTlsContextSource({ certFile: identity.cert, keyFile: identity.key, clientCaFile: identity.ca });
    } else {
      const clientCaFile = tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL' ? tls.caCertificates : undefined;
      source = createTlsContextSource({ certFile: tls.serverCertificate!, keyFile: tls.privateKey!, ...(clientCaFile ? { clientCaFile } : {}) });
    }
    if (tls.mode === 'MUTUAL' || tls.mode === 'ISTIO_MUTUAL') {
      requestCert = true;
      rejectUnauthorized = true;
    } else if (tls.mode === 'OPTIONAL_MUTUAL') {
      requestCert = true;
    }
    minVersion = VERSIONS[tls.minProtocolVersion ?? ''] ?? minVersion;
    maxVersion = VERSIONS[tls.maxProtocolVersion ?? ''] ?? maxVersion;
    sites.push({ hosts: server.hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase()), source });
  }
  // One port, one client-certificate policy: a listener cannot both require and not require one per SNI here.
  return { kind: 'tls', port, sites, requestCert, rejectUnauthorized, ...(minVersion ? { minVersion } : {}), ...(maxVersion ? { maxVersion } : {}) };
}

function hostMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
  return pattern === name;
}

/** SNI → the site's current secure context (rebuilt when its files were reloaded). */
export function sniCallback(sites: readonly GatewaySite[]): (servername: string, callback: (error: Error | null, context?: SecureContext) => void) => void {
  const cache = new Map<GatewaySite, { options: object; context: SecureContext }>();
  const contextOf = (site: GatewaySite): SecureContext => {
    const cached = cache.get(site);
    if (cached && cached.options === site.source.options) return cached.context;
    const context = createSecureContext(site.source.options);
    cache.set(site, { options: site.source.options, context });
    return context;
  };
  return (servername, callback) => {
    const name = (servername ?? '').toLowerCase();
    const site = sites.find((s) => s.hosts.some((h) => hostMatches(h, name))) ?? sites[0]!;
    try {
      callback(null, contextOf(site));
    } catch (error) {
      callback(error as Error);
    }
  };
}
