/**
 * The proxy's ServiceRegistry (src/proxy/types.ts) fed by the cluster: Services give hosts
 * (`NAME.NAMESPACE.svc.CLUSTER_DOMAIN`) and ports, EndpointSlices (discovery.k8s.io/v1) give
 * the endpoints behind them.
 *
 * - A slice belongs to the Service named by its `kubernetes.io/service-name` label.
 * - A service port's endpoints are found through the slice port with the same `name` (and
 *   protocol TCP); the slice port's `port` is the endpoint's port (the resolved targetPort).
 * - An endpoint is used when `conditions.ready` is true or unset ("a nil value indicates an
 *   unknown state. In most cases consumers should interpret this unknown state as ready");
 *   terminating endpoints are never ready, so they are dropped.
 * - Only the first address of an endpoint is used ("No semantics are defined for additional
 *   addresses beyond the first"). Duplicate addresses across slices (during a slice handover)
 *   count once.
 * - Port protocol follows Istio's explicit protocol selection: `appProtocol`, else the port
 *   name's `<protocol>[-<suffix>]` prefix; otherwise TCP (Istio's fallback when detection fails).
 * - Pods, when given: an endpoint whose `targetRef` names a Pod gets that Pod's labels (so
 *   DestinationRule subsets select it, as Istio selects subset endpoints by pod labels) and, with a
 *   trust domain, the principal `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT` of its
 *   `spec.serviceAccountName` (checked on upstream ISTIO_MUTUAL). Without Pods (or before the Pod
 *   is seen) an endpoint has no labels: subsets with labels select nothing.
 * - Not modelled yet: locality (a slice endpoint carries its `zone`, but Istio's locality also
 *   needs the region, which lives on the Node), ExternalName Services (skipped).
 *
 * The registry is fed by any source of current objects (the informers of src/k8s/informers.ts
 * expose `objects()` and call back on change): `refresh()` rebuilds the snapshot from the lists,
 * coalescing bursts of changes.
 */
import type { Endpoint, Service, ServicePort, ServiceRegistry } from '../proxy/types.js';
import { SnapshotRegistry, endpointKey, type RegistrySnapshot } from '../proxy/discovery/static-registry.js';

export interface ObjectSource {
  /** The objects as last seen. */
  objects(): readonly unknown[];
}

export interface EndpointSliceRegistryOptions {
  readonly services: ObjectSource;
  readonly endpointSlices: ObjectSource;
  /** Pods, for the labels and service account of the endpoints that name them (optional). */
  readonly pods?: ObjectSource;
  /** The mesh trust domain: with Pods, endpoints get the SPIFFE principal of their service account. */
  readonly trustDomain?: string;
  /** Default `cluster.local`. */
  readonly clusterDomain?: string;
  /** Changes within this window rebuild once (default 20 ms; 0 rebuilds on each refresh). */
  readonly debounceMs?: number;
}

export interface EndpointSliceRegistry extends ServiceRegistry {
  /** The sources changed: rebuild (debounced). */
  refresh(): void;
  /** Rebuild now. */
  rebuild(): void;
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string => (typeof value === 'string' ? value : '');

// Istio's explicit protocol selection names, mapped to the registry's protocol names.
const ISTIO_PROTOCOLS: Readonly<Record<string, string>> = {
  http: 'HTTP',
  http2: 'HTTP2',
  https: 'HTTPS',
  grpc: 'GRPC',
  'grpc-web': 'HTTP',
  tls: 'TLS',
  tcp: 'TCP',
  'kubernetes.io/h2c': 'HTTP2',
  'kubernetes.io/ws': 'HTTP',
  'kubernetes.io/wss': 'HTTPS',
};

export function portProtocol(port: { readonly name?: string; readonly appProtocol?: string }): string {
  const app = port.appProtocol?.toLowerCase();
  if (app && ISTIO_PROTOCOLS[app]) return ISTIO_PROTOCOLS[app]!;
  const name = (port.name ?? '').toLowerCase();
  for (const prefix of ['grpc-web', 'http2', 'https', 'http', 'grpc', 'tls', 'tcp']) {
    if (name === prefix || name.startsWith(`${prefix}-`)) return ISTIO_PROTOCOLS[prefix]!;
  }
  return 'TCP';
}

interface ServiceEntry {
  readonly service: Service;
  readonly namespace: string;
  readonly name: string;
}

function serviceFrom(object: unknown, clusterDomain: string): ServiceEntry | undefined {
  if (!isRecord(object) || !isRecord(object.metadata) || !isRecord(object.spec)) return undefined;
  const name = str(object.metadata.name);
  const namespace = str(object.metadata.namespace) || 'default';
  if (!name || object.spec.type === 'ExternalName') return undefined;
  const ports: ServicePort[] = [];
  for (const p of Array.isArray(object.spec.ports) ? object.spec.ports : []) {
    if (!isRecord(p) || typeof p.port !== 'number') continue;
    if (p.protocol !== undefined && p.protocol !== 'TCP') continue; // the proxy carries TCP only
    const portName = str(p.name);
    ports.push({
      number: p.port,
      name: portName,
      protocol: portProtocol({ name: portName, appProtocol: str(p.appProtocol) }),
      ...(typeof p.targetPort === 'number' && p.targetPort !== p.port ? { targetPort: p.targetPort } : {}),
    });
  }
  const host = `${name}.${namespace}.svc.${clusterDomain}`.toLowerCase();
  return { name, namespace, service: { host, namespace, ports, location: 'MESH_INTERNAL', resolution: 'STATIC' } };
}

/** What an endpoint takes from the Pod its `targetRef` names. */
interface PodFacts {
  readonly labels: Readonly<Record<string, string>>;
  readonly principal?: string;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/** Pods by `namespace/name`. */
function podIndex(pods: readonly unknown[], trustDomain: string | undefined): Map<string, PodFacts> {
  const index = new Map<string, PodFacts>();
  for (const pod of pods) {
    if (!isRecord(pod) || !isRecord(pod.metadata)) continue;
    const name = str(pod.metadata.name);
    const namespace = str(pod.metadata.namespace) || 'default';
    if (!name) continue;
    const labels: Record<string, string> = {};
    if (isRecord(pod.metadata.labels)) for (const [key, value] of Object.entries(pod.metadata.labels)) if (typeof value === 'string') labels[key] = value;
    const serviceAccount = isRecord(pod.spec) ? str(pod.spec.serviceAccountName) : '';
    index.set(`${namespace}/${name}`, {
      labels: Object.freeze(labels),
      ...(trustDomain && serviceAccount ? { principal: `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}` } : {}),
    });
  }
  return index;
}

function podOf(endpoint: Json, sliceNamespace: string, pods: ReadonlyMap<string, PodFacts>): PodFacts | undefined {
  const ref = endpoint.targetRef;
  if (!isRecord(ref) || ref.kind !== 'Pod' || !str(ref.name)) return undefined;
  return pods.get(`${str(ref.namespace) || sliceNamespace}/${str(ref.name)}`);
}

/** Ready endpoints of one slice, per slice port name: `name → endpoints`. */
function sliceEndpoints(slice: Json, namespace: string, pods: ReadonlyMap<string, PodFacts>): Map<string, Endpoint[]> {
  const byPort = new Map<string, Endpoint[]>();
  const addressType = str(slice.addressType);
  if (addressType && !['IPv4', 'IPv6', 'FQDN'].includes(addressType)) return byPort;
  const ports = (Array.isArray(slice.ports) ? slice.ports : []).filter(
    (p): p is Json => isRecord(p) && typeof p.port === 'number' && (p.protocol === undefined || p.protocol === 'TCP'),
  );
  const endpoints = Array.isArray(slice.endpoints) ? slice.endpoints : [];
  for (const port of ports) {
    const list: Endpoint[] = [];
    for (const e of endpoints) {
      if (!isRecord(e)) continue;
      const conditions = isRecord(e.conditions) ? e.conditions : {};
      if (conditions.ready === false) continue;
      const address = Array.isArray(e.addresses) ? str(e.addresses[0]) : '';
      if (!address) continue;
      const portNumber = port.port as number;
      const id = addressType === 'IPv6' ? `[${address}]:${portNumber}` : `${address}:${portNumber}`;
      const pod = podOf(e, namespace, pods);
      list.push({ id, address, port: portNumber, labels: pod?.labels ?? NO_LABELS, weight: 1, ...(pod?.principal ? { principal: pod.principal } : {}) });
    }
    byPort.set(str(port.name), list);
  }
  return byPort;
}

export interface SnapshotOptions {
  /** Pods, for endpoint labels and principals. */
  readonly pods?: readonly unknown[];
  readonly trustDomain?: string;
}

export function snapshotFromObjects(services: readonly unknown[], slices: readonly unknown[], clusterDomain = 'cluster.local', options: SnapshotOptions = {}): RegistrySnapshot {
  const pods = podIndex(options.pods ?? [], options.trustDomain);
  const byName = new Map<string, ServiceEntry>();
  for (const object of services) {
    const entry = serviceFrom(object, clusterDomain);
    if (entry) byName.set(`${entry.namespace}/${entry.name}`, entry);
  }
  // namespace/service → slice port name → endpoints (deduplicated by id)
  const endpointsOf = new Map<string, Map<string, Map<string, Endpoint>>>();
  for (const slice of slices) {
    if (!isRecord(slice) || !isRecord(slice.metadata)) continue;
    const labels = isRecord(slice.metadata.labels) ? slice.metadata.labels : {};
    const serviceName = str(labels[SERVICE_NAME_LABEL]);
    if (!serviceName) continue;
    const namespace = str(slice.metadata.namespace) || 'default';
    const key = `${namespace}/${serviceName}`;
    const ports = endpointsOf.get(key) ?? new Map<string, Map<string, Endpoint>>();
    endpointsOf.set(key, ports);
    for (const [portName, list] of sliceEndpoints(slice, namespace, pods)) {
      const unique = ports.get(portName) ?? new Map<string, Endpoint>();
      ports.set(portName, unique);
      for (const endpoint of list) unique.set(endpoint.id, endpoint);
    }
  }
  const servicesByHost = new Map<string, Service>();
  const endpoints = new Map<string, readonly Endpoint[]>();
  for (const [key, entry] of byName) {
    servicesByHost.set(entry.service.host, entry.service);
    const ports = endpointsOf.get(key);
    for (const port of entry.service.ports) {
      const list = ports?.get(port.name);
      endpoints.set(endpointKey(entry.service.host, port.number), list ? Object.freeze([...list.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) : []);
    }
  }
  return { services: servicesByHost, endpoints };
}

export function createEndpointSliceRegistry(options: EndpointSliceRegistryOptions): EndpointSliceRegistry {
  const clusterDomain = options.clusterDomain ?? 'cluster.local';
  const debounceMs = options.debounceMs ?? 20;
  const build = () =>
    snapshotFromObjects(options.services.objects(), options.endpointSlices.objects(), clusterDomain, {
      ...(options.pods ? { pods: options.pods.objects() } : {}),
      ...(options.trustDomain ? { trustDomain: options.trustDomain } : {}),
    });
  const registry = new SnapshotRegistry(build());
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const rebuild = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (!closed) registry.replace(build());
  };
  return {
    services: () => registry.services(),
    service: (host) => registry.service(host),
    endpoints: (host, port) => registry.endpoints(host, port),
    onChange: (listener) => registry.onChange(listener),
    refresh() {
      if (closed) return;
      if (debounceMs <= 0) return rebuild();
      timer ??= setTimeout(rebuild, debounceMs);
    },
    rebuild,
    close() {
      closed = true;
      clearTimeout(timer);
      registry.close();
    },
  };
}
