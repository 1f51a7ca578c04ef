/**
 * Gateway: the selector of the gateway workload and its servers (port, hosts, tls).
 */
import type { FieldReader } from './fields.js';

export type GatewayTlsMode = 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL' | 'PASSTHROUGH' | 'AUTO_PASSTHROUGH' | 'OPTIONAL_MUTUAL';
export type TlsProtocolVersion = 'TLS_AUTO' | 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';

export interface GatewayServerTls {
  readonly mode: GatewayTlsMode;
  readonly credentialName?: string;
  readonly serverCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  readonly subjectAltNames?: readonly string[];
  readonly minProtocolVersion?: TlsProtocolVersion;
  readonly maxProtocolVersion?: TlsProtocolVersion;
  /** Plain HTTP requests on this server get a 301 to https. */
  readonly httpsRedirect?: boolean;
}

export interface GatewayServer {
  readonly name?: string;
  readonly port: { readonly number: number; readonly protocol: string; readonly name: string; readonly targetPort?: number };
  /** As written: `host`, `namespace/host`, `./host` or `*\/host`. */
  readonly hosts: readonly string[];
  readonly tls?: GatewayServerTls;
}

export interface CompiledGateway {
  readonly name: string;
  readonly namespace: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly servers: readonly GatewayServer[];
}

export interface Gateways {
  /** By `namespace/name`. */
  get(ref: string): CompiledGateway | undefined;
  dump(): unknown;
}

const PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS'] as const;
const TLS_MODES = ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'] as const;
const TLS_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const;

export function compileGateway(reader: FieldReader): CompiledGateway | undefined {
  const before = reader.issueCount;
  const spec = reader.object(reader.resource.value.spec, ['spec']);
  if (!spec) {
    reader.report(['spec'], 'spec is required');
    return undefined;
  }
  reader.knownFields(spec, ['spec'], ['selector', 'servers']);
  const selector = reader.stringMap(spec.selector, ['spec', 'selector']) ?? {};
  const servers: GatewayServer[] = [];
  const list = reader.array(spec.servers, ['spec', 'servers']) ?? [];
  if (list.length === 0) reader.report(['spec', 'servers'], 'servers must list at least one server');
  list.forEach((item, i) => {
    const server = readServer(reader, item, ['spec', 'servers', i]);
    if (server) servers.push(server);
  });
  if (reader.issueCount > before) return undefined;
  return { name: reader.resource.name, namespace: reader.namespace, selector, servers };
}

function readServer(reader: FieldReader, value: unknown, path: (string | number)[]): GatewayServer | undefined {
  const before = reader.issueCount;
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['port', 'bind', 'hosts', 'tls', 'defaultEndpoint', 'name']);
  const portData = reader.object(data.port, [...path, 'port']);
  if (!portData) reader.report([...path, 'port'], 'port is required');
  let port: GatewayServer['port'] | undefined;
  if (portData) {
    const p = [...path, 'port'];
    reader.knownFields(portData, p, ['number', 'protocol', 'name', 'targetPort']);
    const number = reader.integer(portData.number, [...p, 'number'], 1, 65535);
    if (portData.number === undefined) reader.report([...p, 'number'], 'port number is required');
    const protocol = reader.enumValue(typeof portData.protocol === 'string' ? portData.protocol.toUpperCase() : portData.protocol, [...p, 'protocol'], PROTOCOLS);
    if (portData.protocol === undefined) reader.report([...p, 'protocol'], 'port protocol is required');
    const name = reader.string(portData.name, [...p, 'name']) ?? '';
    const targetPort = reader.integer(portData.targetPort, [...p, 'targetPort'], 1, 65535);
    if (number !== undefined && protocol !== undefined) port = { number, protocol, name, ...(targetPort !== undefined ? { targetPort } : {}) };
  }
  const hosts = reader.stringList(data.hosts, [...path, 'hosts']) ?? [];
  if (hosts.length === 0) reader.report([...path, 'hosts'], 'hosts must list at least one host');
  hosts.forEach((h, i) => {
    const slash = h.indexOf('/');
    const host = slash < 0 ? h : h.slice(slash + 1);
    if (host === '' || (host.includes('*') && host !== '*' && !(host.startsWith('*.') && !host.slice(2).includes('*')))) {
      reader.report([...path, 'hosts', i], `invalid host '${h}': use host, namespace/host, ./host or */host with at most a leading '*.' wildcard`);
    }
  });
  const tls = readServerTls(reader, data.tls, [...path, 'tls']);
  // Istio: HTTPS and TLS servers must say how TLS is handled.
  if (port && (port.protocol === 'HTTPS' || port.protocol === 'TLS') && !tls) {
    reader.report([...path, 'tls'], `a ${port.protocol} server needs tls settings`);
  }
  const name = reader.string(data.name, [...path, 'name']);
  if (reader.issueCount > before || !port) return undefined;
  return { ...(name ? { name } : {}), port, hosts, ...(tls ? { tls } : {}) };
}

function readServerTls(reader: FieldReader, value: unknown, path: (string | number)[]): GatewayServerTls | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, [
    'httpsRedirect', 'mode', 'serverCertificate', 'privateKey', 'caCertificates', 'caCrl', 'credentialName', 'credentialNames',
    'tlsCertificates', 'subjectAltNames', 'verifyCertificateSpki', 'verifyCertificateHash', 'minProtocolVersion',
    'maxProtocolVersion', 'cipherSuites',
  ]);
  // ServerTLSSettings.mode: PASSTHROUGH is the enum's zero value.
  const mode = data.mode === undefined ? 'PASSTHROUGH' : reader.enumValue(data.mode, [...path, 'mode'], TLS_MODES);
  const s = (name: string) => reader.string(data[name], [...path, name]);
  const serverCertificate = s('serverCertificate');
  const privateKey = s('privateKey');
  const caCertificates = s('caCertificates');
  const credentialName = s('credentialName');
  const subjectAltNames = reader.stringList(data.subjectAltNames, [...path, 'subjectAltNames']);
  const minProtocolVersion = reader.enumValue(data.minProtocolVersion, [...path, 'minProtocolVersion'], TLS_VERSIONS);
  const maxProtocolVersion = reader.enumValue(data.maxProtocolVersion, [...path, 'maxProtocolVersion'], TLS_VERSIONS);
  const httpsRedirect = reader.boolean(data.httpsRedirect, [...path, 'httpsRedirect']);
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && !credentialName && (!serverCertificate || !privateKey)) {
    reader.report([...path, 'mode'], `mode ${mode} needs credentialName, or serverCertificate and privateKey`);
  }
  if (mode === 'MUTUAL' && !credentialName && !caCertificates) {
    reader.report([...path, 'caCertificates'], 'mode MUTUAL needs caCertificates to verify clients');
  }
  if (mode === undefined) return undefined;
  return {
    mode,
    ...(credentialName ? { credentialName } : {}),
    ...(serverCertificate ? { serverCertificate } : {}),
    ...(privateKey ? { privateKey } : {}),
    ...(caCertificates ? { caCertificates } : {}),
    ...(subjectAltNames && subjectAltNames.length > 0 ? { subjectAltNames } : {}),
    ...(minProtocolVersion ? { minProtocolVersion } : {}),
    ...(maxProtocolVersion ? { maxProtocolVersion } : {}),
    ...(httpsRedirect !== undefined ? { httpsRedirect } : {}),
  };
}

export class CompiledGateways implements Gateways {
  private readonly byRef: ReadonlyMap<string, CompiledGateway>;
  constructor(gateways: readonly CompiledGateway[]) {
    this.byRef = new Map(gateways.map((g) => [`${g.namespace}/${g.name}`, g]));
  }
  get(ref: string): CompiledGateway | undefined {
    return this.byRef.get(ref);
  }
  dump(): unknown {
    return { gateways: [...this.byRef.values()] };
  }
}
