/**
 * DestinationRule TrafficPolicy: reading it, Istio's defaults, and merging the levels.
 *
 * Istio documents two merge rules, and istiod implements them field group by field group
 * (loadBalancer, connectionPool, outlierDetection, tls):
 * - a subset's trafficPolicy overrides the rule's: "Settings specified at the subset level
 *   will override the corresponding settings specified at the DestinationRule level";
 * - a matching portLevelSettings entry replaces all four groups of its level: "Traffic settings
 *   specified at the destination-level will not be inherited when overridden by port-level
 *   settings, i.e. default values will be applied to fields omitted in port-level traffic policies."
 * So: rule (or the rule's port entry) → then each group the subset sets → then, if the subset
 * has an entry for the port, that entry's groups (absent groups fall back to defaults).
 */
import type {
  ConnectionPoolPolicy,
  HashKey,
  LoadBalancerPolicy,
  OutlierDetectionPolicy,
  SimpleLoadBalancer,
  TrafficPolicy,
  UpstreamTlsPolicy,
} from '../types.js';
import type { FieldPath, FieldReader } from './fields.js';
import { readDuration } from './durations.js';

export interface PolicyGroups {
  readonly loadBalancer?: LoadBalancerPolicy;
  readonly connectionPool?: ConnectionPoolPolicy;
  /** null: explicitly absent at a port level (no outlier detection). */
  readonly outlierDetection?: OutlierDetectionPolicy;
  readonly tls?: UpstreamTlsPolicy;
}

export interface ParsedTrafficPolicy extends PolicyGroups {
  readonly portLevel: ReadonlyMap<number, PolicyGroups>;
}

const UNLIMITED = 2 ** 32 - 1;

/**
 * Istio's defaults: LEAST_REQUEST balancing (LoadBalancerSettings: UNSPECIFIED means "Istio
 * will select an appropriate default", and ROUND_ROBIN's doc says "prefer to use
 * LEAST_REQUEST"); connection limits 2^32-1 with a 10s connect timeout; idle timeout 1h;
 * no outlier detection; tls left to the proxy (ISTIO_MUTUAL in the mesh).
 */
export const DEFAULT_LOAD_BALANCER: LoadBalancerPolicy = Object.freeze({ kind: 'simple', simple: 'LEAST_REQUEST' });
export const DEFAULT_CONNECTION_POOL: ConnectionPoolPolicy = Object.freeze({
  maxConnections: UNLIMITED,
  connectTimeoutMs: 10_000,
  http1MaxPendingRequests: UNLIMITED,
  http2MaxRequests: UNLIMITED,
  maxRequestsPerConnection: 0,
  idleTimeoutMs: 3_600_000,
});
export const DEFAULT_TRAFFIC_POLICY: TrafficPolicy = Object.freeze({
  loadBalancer: DEFAULT_LOAD_BALANCER,
  connectionPool: DEFAULT_CONNECTION_POOL,
});

export function withDefaults(groups: PolicyGroups): TrafficPolicy {
  return {
    loadBalancer: groups.loadBalancer ?? DEFAULT_LOAD_BALANCER,
    connectionPool: groups.connectionPool ?? DEFAULT_CONNECTION_POOL,
    ...(groups.outlierDetection ? { outlierDetection: groups.outlierDetection } : {}),
    ...(groups.tls ? { tls: groups.tls } : {}),
  };
}

/** The policy for one subset (or none) and port, from the rule's and the subset's policies. */
export function mergeTrafficPolicy(rule: ParsedTrafficPolicy | undefined, subset: ParsedTrafficPolicy | undefined, port: number | undefined): TrafficPolicy {
  let groups: PolicyGroups = rule ? ((port !== undefined && rule.portLevel.get(port)) || rule) : {};
  if (subset) {
    const subsetPort = port !== undefined ? subset.portLevel.get(port) : undefined;
    if (subsetPort) groups = subsetPort;
    else {
      groups = {
        loadBalancer: subset.loadBalancer ?? groups.loadBalancer,
        connectionPool: subset.connectionPool ?? groups.connectionPool,
        outlierDetection: subset.outlierDetection ?? groups.outlierDetection,
        tls: subset.tls ?? groups.tls,
      } as PolicyGroups;
    }
  }
  return withDefaults(groups);
}

const GROUP_FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'];

export function readTrafficPolicy(reader: FieldReader, value: unknown, path: FieldPath): ParsedTrafficPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, [...GROUP_FIELDS, 'portLevelSettings', 'tunnel', 'proxyProtocol']);
  for (const unsupported of ['tunnel', 'proxyProtocol']) {
    if (data[unsupported] !== undefined) reader.report([...path, unsupported], `${unsupported} is not supported yet by celgate`);
  }
  const groups = readGroups(reader, data, path);
  const portLevel = new Map<number, PolicyGroups>();
  (reader.array(data.portLevelSettings, [...path, 'portLevelSettings']) ?? []).forEach((item, i) => {
    const p = [...path, 'portLevelSettings', i];
    const entry = reader.object(item, p);
    if (!entry) return;
    reader.knownFields(entry, p, ['port', ...GROUP_FIELDS]);
    const portData = reader.object(entry.port, [...p, 'port']);
    const port = portData ? reader.integer(portData.number, [...p, 'port', 'number'], 1, 65535) : undefined;
    if (!portData) reader.report([...p, 'port'], 'port.number is required');
    const entryGroups = readGroups(reader, entry, p);
    if (port === undefined) return;
    if (portLevel.has(port)) reader.report([...p, 'port', 'number'], `port ${port} already has settings in this list`);
    else portLevel.set(port, entryGroups);
  });
  return { ...groups, portLevel };
}

function readGroups(reader: FieldReader, data: Readonly<Record<string, unknown>>, path: FieldPath): PolicyGroups {
  const loadBalancer = readLoadBalancer(reader, data.loadBalancer, [...path, 'loadBalancer']);
  const connectionPool = readConnectionPool(reader, data.connectionPool, [...path, 'connectionPool']);
  const outlierDetection = readOutlierDetection(reader, data.outlierDetection, [...path, 'outlierDetection']);
  const tls = readTls(reader, data.tls, [...path, 'tls']);
  return {
    ...(loadBalancer ? { loadBalancer } : {}),
    ...(connectionPool ? { connectionPool } : {}),
    ...(outlierDetection ? { outlierDetection } : {}),
    ...(tls ? { tls } : {}),
  };
}

const SIMPLE = ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'] as const;

function readLoadBalancer(reader: FieldReader, value: unknown, path: FieldPath): LoadBalancerPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['simple', 'consistentHash', 'localityLbSetting', 'warmupDurationSecs', 'warmup']);
  if (data.simple !== undefined && data.consistentHash !== undefined) {
    reader.report(path, 'set only one of simple or consistentHash');
    return undefined;
  }
  if (data.consistentHash !== undefined) return readConsistentHash(reader, data.consistentHash, [...path, 'consistentHash']);
  const simple = reader.enumValue(data.simple, [...path, 'simple'], SIMPLE);
  if (simple === undefined) return data.simple === undefined ? DEFAULT_LOAD_BALANCER : undefined;
  // LEAST_CONN is Istio's deprecated name for LEAST_REQUEST.
  const resolved: SimpleLoadBalancer = simple === 'UNSPECIFIED' || simple === 'LEAST_CONN' ? 'LEAST_REQUEST' : simple;
  return { kind: 'simple', simple: resolved };
}

function readConsistentHash(reader: FieldReader, value: unknown, path: FieldPath): LoadBalancerPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  const before = reader.issueCount;
  reader.knownFields(data, path, ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName', 'ringHash', 'maglev', 'minimumRingSize']);
  const keys = (['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const).filter((k) => data[k] !== undefined);
  let key: HashKey | undefined;
  if (keys.length !== 1) {
    reader.report(path, keys.length === 0 ? 'consistentHash needs one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName' : `set only one hash key (found ${keys.join(' and ')})`);
  } else if (keys[0] === 'httpHeaderName') {
    const name = reader.string(data.httpHeaderName, [...path, 'httpHeaderName']);
    if (name) key = { kind: 'header', name: name.toLowerCase() };
  } else if (keys[0] === 'httpQueryParameterName') {
    const name = reader.string(data.httpQueryParameterName, [...path, 'httpQueryParameterName']);
    if (name) key = { kind: 'queryParameter', name };
  } else if (keys[0] === 'useSourceIp') {
    if (reader.boolean(data.useSourceIp, [...path, 'useSourceIp']) === true) key = { kind: 'sourceIp' };
    else reader.report([...path, 'useSourceIp'], 'useSourceIp must be true when it is the hash key');
  } else {
    const p = [...path, 'httpCookie'];
    const cookie = reader.object(data.httpCookie, p);
    if (cookie) {
      reader.knownFields(cookie, p, ['name', 'path', 'ttl', 'attributes']);
      const name = reader.string(cookie.name, [...p, 'name']);
      if (!name) reader.report([...p, 'name'], 'cookie name is required');
      const cookiePath = reader.string(cookie.path, [...p, 'path']);
      const ttlMs = cookie.ttl === undefined ? undefined : readDuration(reader, cookie.ttl, [...p, 'ttl'], 0);
      if (name) key = { kind: 'cookie', name, ...(cookiePath ? { path: cookiePath } : {}), ...(ttlMs !== undefined ? { ttlMs } : {}) };
    }
  }
  if (data.ringHash !== undefined && data.maglev !== undefined) reader.report(path, 'set only one of ringHash or maglev');
  const maglev = reader.object(data.maglev, [...path, 'maglev']);
  const ring = reader.object(data.ringHash, [...path, 'ringHash']);
  if (reader.issueCount > before || !key) return undefined;
  if (maglev) {
    reader.knownFields(maglev, [...path, 'maglev'], ['tableSize']);
    // Istio: "If it is not specified, the default is 65537" (a prime below 5000011).
    const tableSize = reader.integer(maglev.tableSize, [...path, 'maglev', 'tableSize'], 1, 5_000_010) ?? 65537;
    return { kind: 'consistentHash', key, algorithm: 'maglev', tableSize };
  }
  if (ring) reader.knownFields(ring, [...path, 'ringHash'], ['minimumRingSize']);
  // Istio: RingHash.minimumRingSize "Defaults to 1024"; the top-level minimumRingSize is its deprecated spelling.
  const size = ring
    ? reader.integer(ring.minimumRingSize, [...path, 'ringHash', 'minimumRingSize'], 1, 8_388_608)
    : reader.integer(data.minimumRingSize, [...path, 'minimumRingSize'], 1, 8_388_608);
  return { kind: 'consistentHash', key, algorithm: 'ringHash', minimumRingSize: size || 1024 };
}

function readConnectionPool(reader: FieldReader, value: unknown, path: FieldPath): ConnectionPoolPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['tcp', 'http']);
  const tcp = reader.object(data.tcp, [...path, 'tcp']) ?? {};
  const http = reader.object(data.http, [...path, 'http']) ?? {};
  reader.knownFields(tcp, [...path, 'tcp'], ['maxConnections', 'connectTimeout', 'tcpKeepalive', 'maxConnectionDuration', 'idleTimeout']);
  reader.knownFields(http, [...path, 'http'], [
    'http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'idleTimeout',
    'h2UpgradePolicy', 'useClientProtocol', 'maxConcurrentStreams',
  ]);
  const max = 2 ** 31 - 1;
  // Istio's int32 limits: 0 (unset in proto3) keeps the default of 2^32-1.
  const limit = (v: unknown, p: FieldPath): number => reader.integer(v, p, 0, max) || UNLIMITED;
  const idle = http.idleTimeout === undefined ? undefined : readDuration(reader, http.idleTimeout, [...path, 'http', 'idleTimeout'], 0);
  return {
    maxConnections: limit(tcp.maxConnections, [...path, 'tcp', 'maxConnections']),
    connectTimeoutMs: (tcp.connectTimeout === undefined ? undefined : readDuration(reader, tcp.connectTimeout, [...path, 'tcp', 'connectTimeout'])) ?? DEFAULT_CONNECTION_POOL.connectTimeoutMs,
    http1MaxPendingRequests: limit(http.http1MaxPendingRequests, [...path, 'http', 'http1MaxPendingRequests']),
    http2MaxRequests: limit(http.http2MaxRequests, [...path, 'http', 'http2MaxRequests']),
    maxRequestsPerConnection: reader.integer(http.maxRequestsPerConnection, [...path, 'http', 'maxRequestsPerConnection'], 0, max) ?? 0,
    // Istio: idleTimeout "If not set, the default is 1 hour"; 0s disables it.
    ...(idle === 0 ? {} : { idleTimeoutMs: idle ?? 3_600_000 }),
  };
}

function readOutlierDetection(reader: FieldReader, value: unknown, path: FieldPath): OutlierDetectionPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, [
    'consecutiveErrors', 'splitExternalLocalOriginErrors', 'consecutiveLocalOriginFailures', 'consecutiveGatewayErrors',
    'consecutive5xxErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent', 'minHealthPercent',
  ]);
  const count = (name: string) => reader.integer(data[name], [...path, name], 0, 2 ** 31 - 1);
  const duration = (name: string) => (data[name] === undefined ? undefined : readDuration(reader, data[name], [...path, name]));
  const percent = (name: string) => reader.integer(data[name], [...path, name], 0, 100);
  // Istio OutlierDetection defaults: consecutive5xxErrors 5 (0 disables), consecutiveGatewayErrors
  // off, interval 10s, baseEjectionTime 30s, maxEjectionPercent 10, minHealthPercent 0.
  return {
    consecutive5xxErrors: count('consecutive5xxErrors') ?? count('consecutiveErrors') ?? 5,
    consecutiveGatewayErrors: count('consecutiveGatewayErrors') ?? 0,
    intervalMs: duration('interval') ?? 10_000,
    baseEjectionTimeMs: duration('baseEjectionTime') ?? 30_000,
    maxEjectionPercent: percent('maxEjectionPercent') ?? 10,
    minHealthPercent: percent('minHealthPercent') ?? 0,
  };
}

const TLS_MODES = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] as const;

function readTls(reader: FieldReader, value: unknown, path: FieldPath): UpstreamTlsPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['mode', 'clientCertificate', 'privateKey', 'caCertificates', 'credentialName', 'subjectAltNames', 'sni', 'insecureSkipVerify', 'caCrl']);
  // ClientTLSSettings.mode: DISABLE is the enum's zero value.
  const mode = data.mode === undefined ? 'DISABLE' : reader.enumValue(data.mode, [...path, 'mode'], TLS_MODES);
  const s = (name: string) => reader.string(data[name], [...path, name]);
  const clientCertificate = s('clientCertificate');
  const privateKey = s('privateKey');
  const caCertificates = s('caCertificates');
  const credentialName = s('credentialName');
  const sni = s('sni');
  const subjectAltNames = reader.stringList(data.subjectAltNames, [...path, 'subjectAltNames']);
  const insecureSkipVerify = reader.boolean(data.insecureSkipVerify, [...path, 'insecureSkipVerify']);
  if (credentialName !== undefined) reader.report([...path, 'credentialName'], 'credentialName (Kubernetes secrets) is not supported yet; use clientCertificate, privateKey and caCertificates files');
  if (mode === 'MUTUAL' && (!clientCertificate || !privateKey)) {
    reader.report([...path, 'mode'], 'mode MUTUAL needs clientCertificate and privateKey');
  }
  if (mode === 'ISTIO_MUTUAL' && (clientCertificate || privateKey || caCertificates || sni || subjectAltNames)) {
    reader.report([...path, 'mode'], 'with mode ISTIO_MUTUAL the other tls fields must be empty (the proxy uses its own identity)');
  }
  if (mode === undefined) return undefined;
  return {
    mode,
    ...(sni ? { sni } : {}),
    ...(subjectAltNames && subjectAltNames.length > 0 ? { subjectAltNames } : {}),
    ...(caCertificates ? { caCertificates } : {}),
    ...(clientCertificate ? { clientCertificate } : {}),
    ...(privateKey ? { privateKey } : {}),
    ...(insecureSkipVerify !== undefined ? { insecureSkipVerify } : {}),
  };
}
