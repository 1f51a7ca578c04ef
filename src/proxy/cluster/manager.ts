/**
 * The cluster manager: one cluster per (host, subset, port), named as Envoy names them
 * (`outbound|PORT|SUBSET|HOST`), kept in step with the registry (endpoints come and go, state stays)
 * and with DestinationRule reloads (a different ResolvedDestination rebuilds the balancer and limits).
 */
import { Agent, type buildConnector } from 'undici';
import type { ClusterEvents, ClusterManager, Endpoint, HealthCheckPolicy, ResolvedDestination, RouteDestination, Service, ServiceRegistry, TrafficPolicy } from '../types.js';
import { UpstreamCluster } from './cluster.js';
import { HealthChecker } from './health-check.js';

export interface ClusterManagerOptions {
  readonly registry: ServiceRegistry;
  /** Active health checks by service host. */
  readonly healthChecks?: ReadonlyMap<string, HealthCheckPolicy>;
  readonly events?: ClusterEvents;
  /** TLS options for health checks of TLS/mTLS endpoints (cert, key, ca, servername...). */
  readonly tls?: buildConnector.BuildOptions;
  /** Clock in milliseconds (default Date.now); tests inject one. */
  readonly now?: () => number;
  /** Uniform in [0, 1) (default Math.random). */
  readonly random?: () => number;
}

const MULTIPLEXED = new Set(['HTTP2', 'GRPC', 'GRPC-WEB']);

export function clusterName(host: string, subset: string | undefined, port: number): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

interface Entry {
  readonly cluster: UpstreamCluster;
  readonly host: string;
  readonly port: number;
  resolved: ResolvedDestination;
  checker?: HealthChecker;
  scheme?: 'http' | 'https';
}

function inSubset(endpoint: Endpoint, labels: Readonly<Record<string, string>>): boolean {
  for (const key in labels) if (endpoint.labels[key] !== labels[key]) return false;
  return true;
}

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}

/** Structural equality of plain data (policies are small; called only when the reference changed). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof RegExp || b instanceof RegExp) return a instanceof RegExp && b instanceof RegExp && a.source === b.source && a.flags === b.flags;
  if (a instanceof Set || b instanceof Set || a instanceof Map || b instanceof Map) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let count = 0;
  for (const key in ao) {
    if (ao[key] === undefined) continue;
    count++;
    if (!same(ao[key], bo[key])) return false;
  }
  for (const key in bo) if (bo[key] !== undefined) count--;
  return count === 0;
}

function multiplexed(service: Service | undefined, port: number): boolean {
  const protocol = service?.ports.find((p) => p.number === port)?.protocol;
  return protocol !== undefined && MULTIPLEXED.has(protocol.toUpperCase());
}

/** https when the policy's TLS mode asks for it, or by default inside the mesh when the proxy has TLS material. */
function healthCheckScheme(service: Service | undefined, policy: TrafficPolicy, haveTls: boolean): 'http' | 'https' {
  const mode = policy.tls?.mode;
  if (mode === 'DISABLE') return 'http';
  if (mode !== undefined) return 'https';
  return haveTls && service?.location === 'MESH_INTERNAL' ? 'https' : 'http';
}

/** The ClusterManager contract, with the concrete cluster type (circuit-breaker gauges for the admin). */
export interface UpstreamClusterManager extends ClusterManager {
  cluster(destination: RouteDestination & { readonly port: number }, resolved: ResolvedDestination): UpstreamCluster;
  clusters(): readonly UpstreamCluster[];
}

export function createClusterManager(options: ClusterManagerOptions): UpstreamClusterManager {
  const { registry } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const entries = new Map<string, Entry>();
  let agent: Agent | undefined;
  let closed = false;

  const dispatcher = (): Agent => (agent ??= new Agent({ connect: options.tls ?? {}, keepAliveTimeout: 10_000, connections: 2 }));

  const endpointsFor = (host: string, port: number, resolved: ResolvedDestination): readonly Endpoint[] => {
    const all = registry.endpoints(host, port);
    return hasKeys(resolved.subsetLabels) ? all.filter((e) => inSubset(e, resolved.subsetLabels)) : all;
  };

  const startHealthChecks = (entry: Entry): void => {
    const policy = options.healthChecks?.get(entry.host);
    if (!policy || closed) return;
    const scheme = healthCheckScheme(registry.service(entry.host), entry.resolved.trafficPolicy, options.tls !== undefined);
    if (entry.checker && entry.scheme === scheme) return;
    entry.checker?.stop();
    entry.scheme = scheme;
    entry.checker = new HealthChecker(policy, entry.cluster, dispatcher(), scheme);
    entry.checker.start();
  };

  const unsubscribe = registry.onChange(() => {
    for (const entry of entries.values()) {
      entry.cluster.setLimits(multiplexed(registry.service(entry.host), entry.port));
      entry.cluster.setEndpoints(endpointsFor(entry.host, entry.port, entry.resolved));
    }
  });

  return {
    cluster(destination, resolved) {
      const name = clusterName(destination.host, destination.subset, destination.port);
      const entry = entries.get(name);
      if (entry !== undefined) {
        if (entry.resolved === resolved) return entry.cluster;
        const labelsChanged = !same(entry.resolved.subsetLabels, resolved.subsetLabels);
        const policyChanged = !same(entry.resolved.trafficPolicy, resolved.trafficPolicy);
        entry.resolved = resolved;
        if (labelsChanged) entry.cluster.setEndpoints(endpointsFor(entry.host, entry.port, resolved));
        if (policyChanged) {
          entry.cluster.setPolicy(resolved.trafficPolicy, multiplexed(registry.service(entry.host), entry.port));
          startHealthChecks(entry);
        }
        return entry.cluster;
      }
      const cluster = new UpstreamCluster({
        name,
        host: destination.host,
        policy: resolved.trafficPolicy,
        multiplexed: multiplexed(registry.service(destination.host), destination.port),
        endpoints: endpointsFor(destination.host, destination.port, resolved),
        ...(options.events ? { events: options.events } : {}),
        now,
        random,
      });
      const created: Entry = { cluster, host: destination.host, port: destination.port, resolved };
      entries.set(name, created);
      startHealthChecks(created);
      return cluster;
    },
    clusters() {
      return [...entries.values()].map((e) => e.cluster);
    },
    close() {
      closed = true;
      unsubscribe();
      for (const entry of entries.values()) entry.checker?.stop();
      void agent?.close().catch(() => undefined);
      agent = undefined;
    },
  };
}
