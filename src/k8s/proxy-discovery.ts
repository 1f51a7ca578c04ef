/**
 * The proxy's Kubernetes discovery (`spec.discovery.kubernetes` of a ProxyConfig): informers on
 * Services (v1), EndpointSlices (discovery.k8s.io/v1) and, optionally, Pods (v1), cluster-wide or
 * one set per listed namespace, feeding the EndpointSlice registry (./endpoint-slices.ts). It is
 * synced once the first full list of every watched kind has arrived; before that the proxy
 * reports not ready. Failed lists and broken watches retry with backoff (./informers.ts).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesDiscoveryConfig, ProxyConfig, ServiceDiscovery, ServiceRegistry } from '../proxy/types.js';
import { KubeClient } from './client.js';
import type { ServedKind } from './discovery.js';
import { createEndpointSliceRegistry, type ObjectSource } from './endpoint-slices.js';
import { KindInformer } from './informers.js';
import { loadKubeConfig } from './kube-config.js';

export const SERVICE_KIND: ServedKind = { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true };
export const ENDPOINT_SLICE_KIND: ServedKind = { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true };
export const POD_KIND: ServedKind = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };

export interface ProxyDiscoveryOptions {
  readonly config: KubeConfig;
  /** Default cluster.local. */
  readonly clusterDomain?: string;
  /** Watch only these namespaces; absent: all. */
  readonly namespaces?: readonly string[];
  /** Watch Pods for endpoint labels and principals (default true). */
  readonly pods?: boolean;
  /** The mesh trust domain, for endpoint principals. */
  readonly trustDomain?: string;
  /** Coalesces bursts of changes into one rebuild (default 20 ms). */
  readonly debounceMs?: number;
  /** A list or watch failed and will be retried. */
  readonly onError?: (message: string, fields: { kind: string; namespace?: string; retryInMs: number }) => void;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface KubernetesDiscovery extends ServiceDiscovery {
  /** Services and endpoints as last seen (empty until synced). */
  readonly registry: ServiceRegistry;
  /** Resolves when every watched kind has been listed once and the registry holds those lists. */
  readonly synced: Promise<void>;
  isSynced(): boolean;
  /** The API server's address, for logs. */
  readonly server: string;
  stop(): Promise<void>;
}

/** The objects of several informers of one kind (one per namespace) as one source. */
function joined(informers: readonly KindInformer[]): ObjectSource {
  if (informers.length === 1) return informers[0]!;
  return { objects: () => informers.flatMap((informer) => informer.objects()) };
}

export function startKubernetesDiscovery(options: ProxyDiscoveryOptions): KubernetesDiscovery {
  const client = new KubeClient(options.config);
  const scopes: (string | undefined)[] = options.namespaces && options.namespaces.length > 0 ? [...options.namespaces] : [undefined];
  let refresh = (): void => undefined;
  let stopped = false;
  let synced = false;

  const watch = (kind: ServedKind): KindInformer[] =>
    scopes.map(
      (namespace) =>
        new KindInformer(options.config, client, kind, {
          ...(namespace !== undefined ? { namespace } : {}),
          onChange: () => refresh(),
          onError: (error, retryInMs) =>
            options.onError?.(error instanceof Error ? error.message : String(error), { kind: kind.kind, ...(namespace ? { namespace } : {}), retryInMs }),
          ...(options.initialBackoffMs !== undefined ? { initialBackoffMs: options.initialBackoffMs } : {}),
          ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
        }),
    );
  const services = watch(SERVICE_KIND);
  const slices = watch(ENDPOINT_SLICE_KIND);
  const pods = options.pods === false ? [] : watch(POD_KIND);
  const all = [...services, ...slices, ...pods];

  const registry = createEndpointSliceRegistry({
    services: joined(services),
    endpointSlices: joined(slices),
    ...(pods.length > 0 ? { pods: joined(pods) } : {}),
    ...(options.clusterDomain ? { clusterDomain: options.clusterDomain } : {}),
    ...(options.trustDomain ? { trustDomain: options.trustDomain } : {}),
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
  });
  // Until every kind is listed, a partial view (Services without their slices) must not serve.
  const ready = Promise.all(all.map((informer) => informer.synced)).then(() => {
    if (stopped) return;
    registry.rebuild();
    synced = true;
    refresh = () => registry.refresh();
  });
  for (const informer of all) informer.start();

  return {
    registry,
    synced: ready,
    isSynced: () => synced,
    server: client.server,
    async stop() {
      stopped = true;
      refresh = () => undefined;
      await Promise.all(all.map((informer) => informer.stop()));
      registry.close();
    },
  };
}

/**
 * Discovery as a ProxyConfig's `spec.discovery.kubernetes` asks: its kubeconfig (else KUBECONFIG,
 * else the Pod's service account). Throws KubeConfigError when no cluster is configured.
 */
export function startDiscoveryFromConfig(
  config: KubernetesDiscoveryConfig,
  options: Omit<ProxyDiscoveryOptions, 'config' | 'clusterDomain' | 'namespaces' | 'pods'> = {},
): KubernetesDiscovery {
  const kubeConfig = loadKubeConfig(config.kubeconfig !== undefined ? { file: config.kubeconfig } : {});
  return startKubernetesDiscovery({
    ...options,
    config: kubeConfig,
    clusterDomain: config.clusterDomain,
    pods: config.pods,
    ...(config.namespaces ? { namespaces: config.namespaces } : {}),
  });
}

/** What `celgate proxy` passes to startProxy (its `discovery` option): discovery logged through the proxy's log. */
export async function discoverForProxy(config: ProxyConfig, log: { info(message: string, fields?: Record<string, unknown>): void; warn(message: string, fields?: Record<string, unknown>): void }): Promise<KubernetesDiscovery> {
  const discovery = startDiscoveryFromConfig(config.discovery!.kubernetes!, {
    trustDomain: config.workload.trustDomain,
    onError: (message, fields) => log.warn(`kubernetes discovery: list/watch failed; retrying: ${message}`, fields),
  });
  void discovery.synced.then(() => log.info('kubernetes discovery synced', { server: discovery.server, services: discovery.registry.services().length }));
  return discovery;
}
