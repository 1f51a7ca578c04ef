/**
 * ServiceEntry and WorkloadEntry (networking.istio.io) → services and endpoints.
 *
 * Hosts are taken as written (lower-cased, DNS being case-insensitive): Istio expands short names
 * only in rules (VirtualService/DestinationRule hosts are read against the rule's namespace), a
 * ServiceEntry's hosts are the names it adds to the registry.
 */
import { isIP } from 'node:net';
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import type { Endpoint, Service, ServicePort } from '../types.js';
import { endpointKey, type RegistrySnapshot } from './static-registry.js';

export interface RegistryOptions {
  /** Trust domain of the SPIFFE IDs made from `serviceAccount` (default `cluster.local`). */
  readonly trustDomain?: string;
}

const GROUP = 'networking.istio.io';
const PROTOCOLS = new Set(['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TLS', 'TCP', 'MONGO', 'MYSQL', 'REDIS', 'UDP']);
const LOCATIONS = new Set(['MESH_EXTERNAL', 'MESH_INTERNAL']);
const RESOLUTIONS = new Set(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']);

type Path = (string | number)[];

/** One workload as both ServiceEntry endpoints and WorkloadEntry specs describe it. */
interface Workload {
  readonly address: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number;
  readonly locality?: string;
  readonly serviceAccount?: string;
}

interface NamedWorkload extends Workload {
  readonly namespace: string;
}

/** Checks field shapes and reports problems at the field's line. */
class Reader {
  constructor(
    private readonly resource: PolicyResource,
    private readonly issues: PolicyIssue[],
  ) {}

  issue(path: Path, message: string): void {
    const { line, column } = this.resource.document.positionOf(path);
    const field = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
    this.issues.push({ file: this.resource.document.file, line, column, message: `${this.resource.type.kind} ${this.name}: ${message}`, ...(field ? { field } : {}) });
  }

  get name(): string {
    return `${this.resource.namespace ?? 'default'}/${this.resource.name}`;
  }

  string(value: unknown, path: Path, required: boolean): string | undefined {
    if (value === undefined || value === null) {
      if (required) this.issue(path, `${last(path)} is required`);
      return undefined;
    }
    if (typeof value !== 'string') {
      this.issue(path, `${last(path)} must be a string`);
      return undefined;
    }
    return value;
  }

  integer(value: unknown, path: Path, min: number, max: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    const n = typeof value === 'bigint' ? Number(value) : typeof value === 'number' && Number.isInteger(value) ? value : NaN;
    if (!Number.isFinite(n) || n < min || n > max) {
      this.issue(path, `${last(path)} must be an integer from ${min} to ${max}`);
      return undefined;
    }
    return n;
  }

  map(value: unknown, path: Path): Record<string, unknown> | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.issue(path, `${last(path)} must be a mapping`);
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  stringMap(value: unknown, path: Path): Record<string, string> {
    const map = this.map(value, path);
    const out: Record<string, string> = {};
    if (!map) return out;
    for (const [key, v] of Object.entries(map)) {
      if (typeof v === 'string') out[key] = v;
      else if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
      else this.issue([...path, key], `label ${key} must be a string`);
    }
    return out;
  }

  list(value: unknown, path: Path): unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      this.issue(path, `${last(path)} must be a list`);
      return undefined;
    }
    return value;
  }

  /** The fields shared by ServiceEntry endpoints and WorkloadEntry specs. */
  workload(value: unknown, path: Path): Workload | undefined {
    const spec = this.map(value, path);
    if (!spec) {
      if (value === undefined || value === null) this.issue(path, `${last(path)} is required`);
      return undefined;
    }
    const address = this.string(spec.address, [...path, 'address'], true);
    if (address?.startsWith('unix://')) this.issue([...path, 'address'], 'unix domain socket endpoints are not supported yet');
    const ports: Record<string, number> = {};
    const portMap = this.map(spec.ports, [...path, 'ports']);
    for (const [name, v] of Object.entries(portMap ?? {})) {
      const n = this.integer(v, [...path, 'ports', name], 1, 65535);
      if (n !== undefined) ports[name] = n;
    }
    // Istio: weight 0 or absent means the default weight, 1.
    const weight = this.integer(spec.weight, [...path, 'weight'], 0, 0xffffffff) || 1;
    const locality = this.string(spec.locality, [...path, 'locality'], false);
    const serviceAccount = this.string(spec.serviceAccount, [...path, 'serviceAccount'], false);
    const labels = this.stringMap(spec.labels, [...path, 'labels']);
    // Every field is checked before giving up, so that one load reports every problem.
    if (address === undefined || address.startsWith('unix://')) return undefined;
    return {
      address,
      ports,
      labels,
      weight,
      ...(locality ? { locality } : {}),
      ...(serviceAccount ? { serviceAccount } : {}),
    };
  }
}

function last(path: Path): string {
  const p = path[path.length - 1];
  return typeof p === 'number' ? String(path[path.length - 2] ?? '') : String(p ?? 'document');
}

function isKind(resource: PolicyResource, kind: string): boolean {
  return resource.type.group === GROUP && resource.type.kind === kind;
}

function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const key in selector) if (labels[key] !== selector[key]) return false;
  return true;
}

/**
 * Builds the registry snapshot of every ServiceEntry and WorkloadEntry in `resources` (other kinds
 * are ignored). Problems become issues at their file:line; an entry with problems is left out.
 */
export function snapshotFromResources(resources: readonly PolicyResource[], issues: PolicyIssue[], options: RegistryOptions = {}): RegistrySnapshot {
  const trustDomain = options.trustDomain ?? 'cluster.local';
  const workloads: NamedWorkload[] = [];
  for (const resource of resources) {
    if (!isKind(resource, 'WorkloadEntry')) continue;
    const reader = new Reader(resource, issues);
    const spec = resource.value.spec;
    const workload = reader.workload(spec, ['spec']);
    if (workload) workloads.push({ ...workload, namespace: resource.namespace ?? 'default' });
  }

  const services = new Map<string, Service>();
  const declaredBy = new Map<string, string>();
  const endpoints = new Map<string, Endpoint[]>();
  for (const resource of resources) {
    if (!isKind(resource, 'ServiceEntry')) continue;
    const entry = readServiceEntry(resource, issues, workloads);
    if (!entry) continue;
    const reader = new Reader(resource, issues);
    entry.hosts.forEach((host, hostIndex) => {
      const previous = declaredBy.get(host);
      if (previous) {
        reader.issue(['spec', 'hosts', hostIndex], `host ${host} is already declared by ServiceEntry ${previous}`);
        return;
      }
      declaredBy.set(host, reader.name);
      services.set(host, { host, namespace: entry.namespace, ports: entry.ports, location: entry.location, resolution: entry.resolution });
      for (const port of entry.ports) {
        endpoints.set(endpointKey(host, port.number), entry.endpointsFor(host, port, trustDomain));
      }
    });
  }
  return { services, endpoints };
}

interface ReadEntry {
  readonly namespace: string;
  readonly hosts: string[];
  readonly ports: ServicePort[];
  readonly location: Service['location'];
  readonly resolution: Service['resolution'];
  endpointsFor(host: string, port: ServicePort, trustDomain: string): Endpoint[];
}

function readServiceEntry(resource: PolicyResource, issues: PolicyIssue[], workloads: readonly NamedWorkload[]): ReadEntry | undefined {
  const reader = new Reader(resource, issues);
  const before = issues.length;
  const namespace = resource.namespace ?? 'default';
  const spec = reader.map(resource.value.spec, ['spec']);
  if (!spec) {
    if (resource.value.spec === undefined) reader.issue([], 'spec is required');
    return undefined;
  }

  const hosts: string[] = [];
  const hostList = reader.list(spec.hosts, ['spec', 'hosts']);
  if (!hostList || hostList.length === 0) reader.issue(['spec', 'hosts'], 'hosts must list at least one host');
  hostList?.forEach((h, i) => {
    const host = reader.string(h, ['spec', 'hosts', i], true);
    if (host === undefined) return;
    if (host === '' || host === '*' || /\s|\//.test(host)) reader.issue(['spec', 'hosts', i], `'${host}' is not a valid host`);
    else hosts.push(host.toLowerCase());
  });

  // Istio defaults: location MESH_EXTERNAL and resolution NONE (the enums' zero values).
  const location = (reader.string(spec.location, ['spec', 'location'], false) ?? 'MESH_EXTERNAL') as Service['location'];
  if (!LOCATIONS.has(location)) reader.issue(['spec', 'location'], `location must be MESH_EXTERNAL or MESH_INTERNAL, not '${location}'`);
  let resolution = (reader.string(spec.resolution, ['spec', 'resolution'], false) ?? 'NONE') as string;
  if (!RESOLUTIONS.has(resolution)) reader.issue(['spec', 'resolution'], `resolution must be NONE, STATIC or DNS, not '${resolution}'`);
  // DNS_ROUND_ROBIN only changes how Envoy uses the answers; the upstream client resolves either way.
  if (resolution === 'DNS_ROUND_ROBIN') resolution = 'DNS';

  const ports: ServicePort[] = [];
  const portList = reader.list(spec.ports, ['spec', 'ports']);
  if (!portList || portList.length === 0) reader.issue(['spec', 'ports'], 'ports must list at least one port');
  const seenNumbers = new Set<number>();
  const seenNames = new Set<string>();
  portList?.forEach((p, i) => {
    const path = ['spec', 'ports', i];
    const port = reader.map(p, path);
    if (!port) return;
    const number = reader.integer(port.number, [...path, 'number'], 1, 65535);
    if (port.number === undefined) reader.issue(path, 'ports[].number is required');
    const name = reader.string(port.name, [...path, 'name'], true);
    const protocol = reader.string(port.protocol, [...path, 'protocol'], true)?.toUpperCase();
    if (protocol !== undefined && !PROTOCOLS.has(protocol)) reader.issue([...path, 'protocol'], `unknown protocol '${port.protocol}' (known: ${[...PROTOCOLS].join(', ')})`);
    const targetPort = reader.integer(port.targetPort, [...path, 'targetPort'], 1, 65535);
    if (number === undefined || name === undefined || protocol === undefined) return;
    if (seenNumbers.has(number)) reader.issue([...path, 'number'], `port ${number} is listed twice`);
    if (seenNames.has(name)) reader.issue([...path, 'name'], `port name '${name}' is used twice`);
    seenNumbers.add(number);
    seenNames.add(name);
    ports.push({ number, protocol, name, ...(targetPort !== undefined ? { targetPort } : {}) });
  });

  const endpointList = reader.list(spec.endpoints, ['spec', 'endpoints']);
  const selectorSpec = reader.map(spec.workloadSelector, ['spec', 'workloadSelector']);
  if (endpointList && endpointList.length > 0 && selectorSpec) {
    reader.issue(['spec', 'workloadSelector'], 'only one of endpoints or workloadSelector may be set');
  }
  const written: Workload[] = [];
  endpointList?.forEach((e, i) => {
    const workload = reader.workload(e, ['spec', 'endpoints', i]);
    if (!workload) return;
    if (resolution === 'STATIC' && isIP(workload.address) === 0) {
      reader.issue(['spec', 'endpoints', i, 'address'], `resolution STATIC needs IP addresses; '${workload.address}' is a name (use resolution DNS)`);
      return;
    }
    for (const portName of Object.keys(workload.ports)) {
      if (!portList?.some((p) => (p as Record<string, unknown> | null)?.name === portName)) {
        reader.issue(['spec', 'endpoints', i, 'ports', portName], `port name '${portName}' is not one of the entry's ports`);
      }
    }
    written.push(workload);
  });

  let selected: readonly Workload[] | undefined;
  if (selectorSpec) {
    const selector = reader.stringMap(selectorSpec.labels, ['spec', 'workloadSelector', 'labels']);
    // WorkloadEntries are selected in the ServiceEntry's own namespace.
    selected = workloads.filter((w) => w.namespace === namespace && selects(selector, w.labels));
  }

  const wildcard = hosts.some((h) => h.startsWith('*'));
  if (resolution === 'STATIC' && written.length === 0 && !selectorSpec) {
    reader.issue(['spec', 'resolution'], 'resolution STATIC needs endpoints or a workloadSelector');
  }
  if (resolution === 'DNS' && written.length === 0 && !selectorSpec && wildcard) {
    reader.issue(['spec', 'hosts'], 'resolution DNS without endpoints resolves the hosts themselves, which cannot be wildcards');
  }
  if (issues.length > before) return undefined;

  const sources = selected ?? written;
  return {
    namespace,
    hosts,
    ports,
    location,
    resolution: resolution as Service['resolution'],
    endpointsFor(host, port, trustDomain) {
      // Resolution NONE forwards to the address the caller asked for: there are no endpoints.
      if (resolution === 'NONE') return [];
      const list: readonly Workload[] =
        resolution === 'DNS' && sources.length === 0 && !selectorSpec
          ? [{ address: host, ports: {}, labels: {}, weight: 1 }] // Istio: DNS without endpoints resolves the host itself.
          : sources;
      const out: Endpoint[] = [];
      const seen = new Set<string>();
      for (const w of list) {
        const targetPort = w.ports[port.name] ?? port.targetPort ?? port.number;
        const id = hostPort(w.address, targetPort);
        if (seen.has(id)) continue;
        seen.add(id);
        const ns = 'namespace' in w ? (w as NamedWorkload).namespace : namespace;
        out.push(
          Object.freeze({
            id,
            address: w.address,
            port: targetPort,
            labels: w.labels,
            weight: w.weight,
            ...(w.locality ? { locality: w.locality } : {}),
            ...(w.serviceAccount ? { principal: `spiffe://${trustDomain}/ns/${ns}/sa/${w.serviceAccount}` } : {}),
          }),
        );
      }
      return out;
    },
  };
}
