/**
 * The proxy config file (`celgate proxy --config FILE`): kind ProxyConfig, apiVersion
 * celgate.dev/v1alpha1. `loadProxyConfig` reads and validates the whole file in one pass and
 * either returns a complete ProxyConfig (defaults applied, relative paths resolved against the
 * file's directory) or throws ProxyConfigError listing every problem as `file:line:col: field: message`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { AuthorizationConfig, DiscoveryConfig, HealthCheckPolicy, IdentityFiles, ListenerConfig, ProxyConfig, WorkloadIdentity } from './types.js';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../engine/access/index.js';
import { Reader, formatConfigIssue, type ConfigIssue, type Field } from './config/reader.js';

export { parseDuration, parseSize } from './config/units.js';
export { formatConfigIssue, type ConfigIssue } from './config/reader.js';

export const PROXY_CONFIG_API_VERSION = 'celgate.dev/v1alpha1';
export const PROXY_CONFIG_KIND = 'ProxyConfig';

/** Defaults, in the units of ProxyConfig (milliseconds, bytes). */
export const PROXY_CONFIG_DEFAULTS = {
  trustDomain: 'cluster.local',
  serviceAccount: 'default',
  listenerAddress: '127.0.0.1',
  adminAddress: '127.0.0.1',
  remoteAuthzTimeoutMs: 200,
  accessLog: 'stdout',
  maxRequestBodyBytes: 10 * 2 ** 20,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  clusterDomain: 'cluster.local',
  healthCheck: { path: '/healthz', intervalMs: 5_000, timeoutMs: 1_000, healthyThreshold: 1, unhealthyThreshold: 3 },
} as const;

export class ProxyConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join('\n'));
    this.name = 'ProxyConfigError';
  }
}

/** Reads and validates a proxy config file. Throws ProxyConfigError. */
export function loadProxyConfig(file: string): ProxyConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file (pass an existing ProxyConfig YAML file to --config)'
      : code === 'EISDIR' ? 'is a directory; --config takes a ProxyConfig YAML file'
      : `cannot read the config file: ${(error as Error).message}`;
    throw new ProxyConfigError([{ file, line: 1, column: 1, field: '', message: why }]);
  }
  return parseProxyConfig(file, text);
}

/** Validates config text; `file` names it in errors and anchors its relative paths. */
export function parseProxyConfig(file: string, text: string): ProxyConfig {
  const lines = new LineCounter();
  const fail = (message: string, line = 1, column = 1): never => {
    throw new ProxyConfigError([{ file, line, column, field: '', message }]);
  };
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const all = Array.isArray(docs) ? docs : [];
  const syntax: ConfigIssue[] = [];
  for (const doc of all) {
    for (const error of doc.errors) {
      const { line, col } = lines.linePos(error.pos[0]);
      syntax.push({ file, line, column: col, field: '', message: `not valid YAML: ${error.message.split('\n')[0]}` });
    }
  }
  if (syntax.length > 0) throw new ProxyConfigError(syntax);
  const nonEmpty = all.filter((d) => d.contents !== null);
  if (nonEmpty.length === 0) fail(`the file is empty; expected a ${PROXY_CONFIG_KIND} (apiVersion ${PROXY_CONFIG_API_VERSION})`);
  if (nonEmpty.length > 1) {
    const { line, col } = lines.linePos(nonEmpty[1]!.contents?.range?.[0] ?? nonEmpty[1]!.range[0]);
    fail(`expected one ${PROXY_CONFIG_KIND} document, found ${nonEmpty.length}`, line, col);
  }
  const reader = new Reader(file, nonEmpty[0]!, lines);
  const config = readConfig(reader, file);
  if (reader.issues.length > 0 || !config) {
    if (reader.issues.length === 0) fail('invalid config');
    throw new ProxyConfigError([...reader.issues].sort((a, b) => a.line - b.line || a.column - b.column));
  }
  return config;
}

// ---------------------------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;

function readConfig(r: Reader, file: string): ProxyConfig | undefined {
  const root = r.root();
  if (root.node === undefined) return undefined;
  const top = r.fields(root, ['apiVersion', 'kind', 'metadata', 'spec']);
  if (!top) return undefined;
  const apiVersion = r.string(top.apiVersion, { required: true });
  if (apiVersion !== undefined && apiVersion !== PROXY_CONFIG_API_VERSION) r.problem(top.apiVersion, `must be ${PROXY_CONFIG_API_VERSION}, found "${apiVersion}"`);
  const kind = r.string(top.kind, { required: true });
  if (kind !== undefined && kind !== PROXY_CONFIG_KIND) r.problem(top.kind, `must be ${PROXY_CONFIG_KIND}, found "${kind}"`);
  const metadata = r.fields(top.metadata, ['name', 'namespace', 'labels', 'annotations']);
  if (metadata) {
    r.string(metadata.name);
    r.string(metadata.namespace);
    r.stringMap(metadata.labels);
    r.stringMap(metadata.annotations);
  }
  if (top.spec.node === undefined) {
    r.problem(top.spec, 'is required');
    return undefined;
  }
  const spec = r.fields(top.spec, ['workload', 'mesh', 'identity', 'listeners', 'authorization', 'healthChecks', 'admin', 'accessLog', 'limits', 'discovery']);
  if (!spec) return undefined;
  const base = dirname(resolve(file));

  const workload = readWorkload(r, spec.workload);
  const mesh = readMesh(r, spec.mesh, base);
  const identity = readIdentity(r, spec.identity, base);
  const listeners = readListeners(r, spec.listeners);
  const authorization = readAuthorization(r, spec.authorization);
  const healthChecks = readHealthChecks(r, spec.healthChecks);
  const admin = readAdmin(r, spec.admin, listeners);
  const accessLog = readAccessLog(r, spec.accessLog, base);
  const limits = readLimits(r, spec.limits);
  const discovery = readDiscovery(r, spec.discovery, base);
  if (!workload || !listeners || !authorization || !limits || accessLog === undefined) return undefined;
  return {
    file,
    workload,
    meshPaths: mesh.paths,
    watch: mesh.watch,
    ...(mesh.pathNormalization ? { pathNormalization: mesh.pathNormalization } : {}),
    ...(mesh.rootNamespace ? { rootNamespace: mesh.rootNamespace } : {}),
    ...(identity ? { identity } : {}),
    listeners,
    authorization,
    healthChecks,
    ...(admin ? { admin } : {}),
    accessLog,
    limits,
    ...(discovery ? { discovery } : {}),
  };
}

function readWorkload(r: Reader, field: Field): WorkloadIdentity | undefined {
  if (field.node === undefined) {
    r.problem(field, 'is required (name and namespace of the workload this proxy runs beside)');
    return undefined;
  }
  const f = r.fields(field, ['name', 'namespace', 'serviceAccount', 'labels', 'trustDomain']);
  if (!f) return undefined;
  const name = r.string(f.name, { required: true, pattern: DNS_SUBDOMAIN, patternHint: 'is not a valid name (lower-case DNS subdomain)' });
  const namespace = r.string(f.namespace, { required: true, pattern: DNS_LABEL, patternHint: 'is not a valid namespace (lower-case DNS label)' });
  const serviceAccount =
    r.string(f.serviceAccount, { pattern: DNS_SUBDOMAIN, patternHint: 'is not a valid service account name (lower-case DNS subdomain)' }) ??
    (f.serviceAccount.node === undefined ? PROXY_CONFIG_DEFAULTS.serviceAccount : undefined);
  const trustDomain =
    r.string(f.trustDomain, { pattern: TRUST_DOMAIN, patternHint: 'is not a valid SPIFFE trust domain (lower-case letters, digits, ".", "-", "_")' }) ??
    (f.trustDomain.node === undefined ? PROXY_CONFIG_DEFAULTS.trustDomain : undefined);
  const labels = r.stringMap(f.labels) ?? {};
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const local = key.slice(slash + 1);
    if (!LABEL_NAME.test(local) || (prefix !== undefined && !DNS_SUBDOMAIN.test(prefix))) r.problem({ ...f.labels, path: `${f.labels.path}.${key}` }, `"${key}" is not a valid label key`);
    if (!LABEL_VALUE.test(value)) r.problem({ ...f.labels, path: `${f.labels.path}.${key}` }, `"${value}" is not a valid label value (63 characters at most: letters, digits, "-", "_", ".")`);
  }
  if (!name || !namespace || !serviceAccount || !trustDomain) return undefined;
  return { name, namespace, serviceAccount, labels, trustDomain, principal: `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}` };
}

function readMesh(r: Reader, field: Field, base: string): { paths: string[]; watch: boolean; pathNormalization?: PathNormalization; rootNamespace?: string } {
  const f = r.fields(field, ['paths', 'watch', 'pathNormalization', 'rootNamespace']);
  if (!f) return { paths: [], watch: true };
  const paths: string[] = [];
  for (const item of r.items(f.paths) ?? []) {
    const path = r.string(item, { required: true });
    if (path === undefined) continue;
    const absolute = resolve(base, path);
    if (!existsSync(absolute)) r.problem(item, `no such file or directory: ${absolute}`);
    else paths.push(absolute);
  }
  // Istio meshConfig names: the path normalisation applied before authorising (and routing), and
  // the namespace whose policies apply mesh-wide.
  const pathNormalization = r.oneOf(f.pathNormalization, PATH_NORMALIZATIONS);
  const rootNamespace = r.string(f.rootNamespace, { pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, patternHint: 'a namespace name' });
  return {
    paths,
    watch: r.boolean(f.watch) ?? true,
    ...(pathNormalization !== undefined ? { pathNormalization } : {}),
    ...(rootNamespace !== undefined ? { rootNamespace } : {}),
  };
}

function readIdentity(r: Reader, field: Field, base: string): IdentityFiles | undefined {
  const f = r.fields(field, ['cert', 'key', 'ca']);
  if (!f) return undefined;
  const file = (which: Field): string | undefined => {
    const path = r.string(which, { required: true });
    if (path === undefined) return undefined;
    const absolute = resolve(base, path);
    if (!existsSync(absolute)) {
      r.problem(which, `no such file: ${absolute} (create workload certificates with \`celgate certs\`)`);
      return undefined;
    }
    return absolute;
  };
  const cert = file(f.cert);
  const key = file(f.key);
  const ca = file(f.ca);
  return cert && key && ca ? { cert, key, ca } : undefined;
}

const LISTENER_FIELDS = ['name', 'mode', 'address', 'port', 'application', 'gateway'] as const;
const GATEWAY_REF = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function readListeners(r: Reader, field: Field): ListenerConfig[] | undefined {
  if (field.node === undefined) {
    r.problem(field, 'is required: at least one listener (inbound, outbound or gateway)');
    return undefined;
  }
  const items = r.items(field);
  if (!items) return undefined;
  if (items.length === 0) r.problem(field, 'must list at least one listener');
  const listeners: ListenerConfig[] = [];
  const names = new Map<string, string>();
  const bound: { address: string; port: number; path: string }[] = [];
  let ok = true;
  for (const item of items) {
    const f = r.fields(item, LISTENER_FIELDS);
    if (!f) {
      if (item.node === undefined) r.problem(item, 'must be a listener mapping');
      ok = false;
      continue;
    }
    const name = r.string(f.name, { required: true, pattern: /^[A-Za-z0-9][-A-Za-z0-9_.]*$/, patternHint: 'is not a valid listener name (letters, digits, "-", "_", ".")' });
    const mode = r.oneOf(f.mode, ['inbound', 'outbound', 'gateway'] as const, { required: true });
    const address = readAddress(r, f.address) ?? (f.address.node === undefined ? PROXY_CONFIG_DEFAULTS.listenerAddress : undefined);
    // Port 0 asks the system for a free port (tests); it never clashes with another listener.
    const port = r.integer(f.port, { required: true, min: 0, max: 65535 });
    if (name !== undefined) {
      if (names.has(name)) r.problem(f.name, `duplicate listener name "${name}" (first at ${names.get(name)})`);
      else names.set(name, item.path);
    }
    if (port !== undefined && port !== 0 && address !== undefined) {
      const clash = bound.find((b) => b.port === port && (b.address === address || isWildcard(b.address) || isWildcard(address)));
      if (clash) r.problem(f.port, `port ${port} is already used by ${clash.path}`);
      else bound.push({ address, port, path: item.path });
    }
    let application: string | undefined;
    let gateway: string | undefined;
    if (mode === 'inbound') {
      application = r.string(f.application, { required: true });
      if (application !== undefined) application = checkApplicationUrl(r, f.application, application);
    } else if (f.application.node !== undefined) r.problem(f.application, 'is only for inbound listeners');
    if (mode === 'gateway') {
      gateway = r.string(f.gateway, { required: true, pattern: GATEWAY_REF, patternHint: 'must name an Istio Gateway as namespace/name' });
    } else if (f.gateway.node !== undefined) r.problem(f.gateway, 'is only for gateway listeners');
    if (!name || !mode || address === undefined || port === undefined) {
      ok = false;
      continue;
    }
    if (mode === 'inbound' && application) listeners.push({ mode, name, address, port, application });
    else if (mode === 'outbound') listeners.push({ mode, name, address, port });
    else if (mode === 'gateway' && gateway) listeners.push({ mode, name, address, port, gateway });
    else ok = false;
  }
  return ok ? listeners : undefined;
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

function readAddress(r: Reader, field: Field): string | undefined {
  const address = r.string(field);
  if (address === undefined) return undefined;
  if (address !== 'localhost' && isIP(address) === 0) {
    r.problem(field, `"${address}" is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)`);
    return undefined;
  }
  return address;
}

function checkApplicationUrl(r: Reader, field: Field, text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    r.problem(field, `"${text}" is not a URL (write e.g. http://127.0.0.1:8080)`);
    return undefined;
  }
  if (url.protocol !== 'http:') {
    r.problem(field, `"${text}": the local application must be reached over plain http:// (the proxy terminates TLS)`);
    return undefined;
  }
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    r.problem(field, `"${text}" must be only scheme, host and port (no path, query or credentials)`);
    return undefined;
  }
  return `http://${url.host}`;
}

function readAuthorization(r: Reader, field: Field): AuthorizationConfig | undefined {
  if (field.node === undefined) return { mode: 'in-process', failOpen: false };
  const f = r.fields(field, ['mode', 'failOpen', 'url', 'timeout', 'pathPrefix']);
  if (!f) return undefined;
  const mode = r.oneOf(f.mode, ['in-process', 'http', 'grpc', 'none'] as const, { required: true });
  const failOpen = r.boolean(f.failOpen) ?? false;
  if (mode === undefined) return undefined;
  const remote = mode === 'http' || mode === 'grpc';
  if (!remote) {
    for (const name of ['url', 'timeout', 'pathPrefix'] as const) if (f[name].node !== undefined) r.problem(f[name], `is only for mode http or grpc`);
  }
  if (mode === 'none') {
    if (f.failOpen.node !== undefined) r.problem(f.failOpen, 'has no meaning with mode none (every request is allowed)');
    return { mode };
  }
  if (mode === 'in-process') return { mode, failOpen };
  if (mode === 'grpc' && f.pathPrefix.node !== undefined) r.problem(f.pathPrefix, 'is only for mode http');
  const url = r.string(f.url, { required: true });
  let urlOk = url !== undefined;
  if (url !== undefined) {
    const httpUrl = /^https?:\/\/[^/?#\s]+(\/[^\s]*)?$/.test(url) && canParseUrl(url);
    const hostPort = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(url);
    if (mode === 'http' && !httpUrl) {
      r.problem(f.url, `"${url}" must be an http:// or https:// URL of the ext_authz HTTP server`);
      urlOk = false;
    } else if (mode === 'grpc' && !httpUrl && !hostPort) {
      r.problem(f.url, `"${url}" must be host:port or an http:// or https:// URL of the ext_authz gRPC server`);
      urlOk = false;
    }
  }
  const timeoutMs = r.duration(f.timeout) ?? PROXY_CONFIG_DEFAULTS.remoteAuthzTimeoutMs;
  const pathPrefix = r.string(f.pathPrefix, { pattern: /^\//, patternHint: 'must start with "/"' });
  if (!urlOk || !url) return undefined;
  return { mode, url, timeoutMs, failOpen, ...(pathPrefix !== undefined ? { pathPrefix } : {}) };
}

function canParseUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

function readHealthChecks(r: Reader, field: Field): Map<string, HealthCheckPolicy> {
  const checks = new Map<string, HealthCheckPolicy>();
  const d = PROXY_CONFIG_DEFAULTS.healthCheck;
  for (const item of r.items(field) ?? []) {
    const f = r.fields(item, ['host', 'path', 'interval', 'timeout', 'healthyThreshold', 'unhealthyThreshold']);
    if (!f) {
      if (item.node === undefined) r.problem(item, 'must be a health check mapping');
      continue;
    }
    const host = r.string(f.host, { required: true, pattern: DNS_SUBDOMAIN, patternHint: 'is not a host name (fully qualified, lower-case)' });
    const path = r.string(f.path, { pattern: /^\/[^\s]*$/, patternHint: 'must be a path starting with "/"' }) ?? d.path;
    const intervalMs = r.duration(f.interval) ?? d.intervalMs;
    const timeoutMs = r.duration(f.timeout) ?? d.timeoutMs;
    const healthyThreshold = r.integer(f.healthyThreshold, { min: 1, max: 1000 }) ?? d.healthyThreshold;
    const unhealthyThreshold = r.integer(f.unhealthyThreshold, { min: 1, max: 1000 }) ?? d.unhealthyThreshold;
    // A check still running when the next one is due would make checks overlap and pile up.
    if (timeoutMs > intervalMs) r.problem(f.timeout.node ? f.timeout : f.interval, `timeout (${timeoutMs}ms) must not exceed interval (${intervalMs}ms)`);
    if (host === undefined) continue;
    if (checks.has(host)) {
      r.problem(f.host, `duplicate health check for ${host}`);
      continue;
    }
    checks.set(host, { path, intervalMs, timeoutMs, healthyThreshold, unhealthyThreshold });
  }
  return checks;
}

function readAdmin(r: Reader, field: Field, listeners: readonly ListenerConfig[] | undefined): { address: string; port: number } | undefined {
  const f = r.fields(field, ['address', 'port']);
  if (!f) return undefined;
  const address = readAddress(r, f.address) ?? (f.address.node === undefined ? PROXY_CONFIG_DEFAULTS.adminAddress : undefined);
  const port = r.integer(f.port, { required: true, min: 0, max: 65535 });
  if (port !== undefined && port !== 0) {
    const clash = listeners?.find((l) => l.port === port);
    if (clash) r.problem(f.port, `port ${port} is already used by listener "${clash.name}"`);
  }
  return address !== undefined && port !== undefined ? { address, port } : undefined;
}

function readAccessLog(r: Reader, field: Field, base: string): string | undefined {
  if (field.node === undefined) return PROXY_CONFIG_DEFAULTS.accessLog;
  const value = r.string(field);
  if (value === undefined) return undefined;
  if (value === 'stdout' || value === 'off') return value;
  const absolute = resolve(base, value);
  if (!existsSync(dirname(absolute))) {
    r.problem(field, `directory ${dirname(absolute)} does not exist (accessLog is stdout, off, or a file path)`);
    return undefined;
  }
  return absolute;
}

function readDiscovery(r: Reader, field: Field, base: string): DiscoveryConfig | undefined {
  const f = r.fields(field, ['kubernetes']);
  if (!f) return undefined;
  const k = r.fields(f.kubernetes, ['kubeconfig', 'clusterDomain', 'namespaces', 'pods']);
  if (!k) return undefined;
  let kubeconfig: string | undefined;
  const path = r.string(k.kubeconfig);
  if (path !== undefined) {
    kubeconfig = resolve(base, path);
    if (!existsSync(kubeconfig)) r.problem(k.kubeconfig, `no such file: ${kubeconfig} (leave kubeconfig out to use KUBECONFIG or the Pod's service account)`);
  }
  const clusterDomain = r.string(k.clusterDomain, { pattern: DNS_SUBDOMAIN, patternHint: 'is not a valid cluster domain (lower-case DNS name, e.g. cluster.local)' }) ?? PROXY_CONFIG_DEFAULTS.clusterDomain;
  let namespaces: string[] | undefined;
  const items = r.items(k.namespaces);
  if (items) {
    if (items.length === 0) r.problem(k.namespaces, 'must list at least one namespace (leave namespaces out to watch all of them)');
    namespaces = [];
    const seen = new Map<string, string>();
    for (const item of items) {
      const namespace = r.string(item, { required: true, pattern: DNS_LABEL, patternHint: 'is not a valid namespace (lower-case DNS label)' });
      if (namespace === undefined) continue;
      if (seen.has(namespace)) r.problem(item, `duplicate namespace "${namespace}" (first at ${seen.get(namespace)})`);
      else {
        seen.set(namespace, item.path);
        namespaces.push(namespace);
      }
    }
  }
  const pods = r.boolean(k.pods) ?? true;
  return { kubernetes: { ...(kubeconfig ? { kubeconfig } : {}), clusterDomain, ...(namespaces ? { namespaces } : {}), pods } };
}

function readLimits(r: Reader, field: Field): ProxyConfig['limits'] | undefined {
  const d = PROXY_CONFIG_DEFAULTS;
  const f = r.fields(field, ['maxRequestBody', 'requestTimeout', 'headersTimeout']);
  if (!f) {
    if (field.node !== undefined) return undefined;
    return { maxRequestBodyBytes: d.maxRequestBodyBytes, requestTimeoutMs: d.requestTimeoutMs, headersTimeoutMs: d.headersTimeoutMs };
  }
  const size = r.size(f.maxRequestBody);
  const requestTimeout = r.duration(f.requestTimeout);
  const headersTimeout = r.duration(f.headersTimeout);
  const bad = (f.maxRequestBody.node !== undefined && size === undefined) || (f.requestTimeout.node !== undefined && requestTimeout === undefined) || (f.headersTimeout.node !== undefined && headersTimeout === undefined);
  if (bad) return undefined;
  return {
    maxRequestBodyBytes: size ?? d.maxRequestBodyBytes,
    requestTimeoutMs: requestTimeout ?? d.requestTimeoutMs,
    headersTimeoutMs: headersTimeout ?? d.headersTimeoutMs,
  };
}
