/**
 * The proxy's contracts between its rooms: routing (VirtualService, DestinationRule, Gateway),
 * discovery (ServiceEntry, WorkloadEntry), clusters (balancing, health, outlier detection,
 * connection limits) and the data plane that forwards. Durations are milliseconds throughout.
 */

// ---------------------------------------------------------------------------------------------
// Discovery

export interface Endpoint {
  /** `address:port`, unique within a service; the key for balancing, health and ejection. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Relative weight (ServiceEntry/WorkloadEntry `weight`, default 1). */
  readonly weight: number;
  /** `region/zone/subzone`, when given. */
  readonly locality?: string;
  /** SPIFFE ID expected of the endpoint's certificate (from `serviceAccount`), when known. */
  readonly principal?: string;
}

export interface ServicePort {
  readonly number: number;
  /** HTTP, HTTPS, HTTP2, GRPC, TLS, TCP (Istio port protocol names). */
  readonly protocol: string;
  readonly name: string;
  /** Port on the endpoints, when different from `number`. */
  readonly targetPort?: number;
}

export interface Service {
  /** Fully qualified host, e.g. `inventory.shop.svc.cluster.local`. */
  readonly host: string;
  readonly namespace: string;
  readonly ports: readonly ServicePort[];
  readonly location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  readonly resolution: 'STATIC' | 'DNS' | 'NONE';
}

/** Where services and endpoints come from: ServiceEntry/WorkloadEntry files, Kubernetes EndpointSlices, or both merged. */
export interface ServiceRegistry {
  services(): readonly Service[];
  service(host: string): Service | undefined;
  /** Endpoints of a service for one service port (already mapped to the endpoint's port). */
  endpoints(host: string, port: number): readonly Endpoint[];
  /** Called after every change (a file edited, an entry added or removed). Returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Routing

/** What the router sees of one request. */
export interface RouteRequest {
  readonly method: string;
  /** Normalised path, with the query. */
  readonly path: string;
  /** Host header or :authority, port included when the client sent one. */
  readonly authority: string;
  /** Lower-case names; repeated headers joined with `,`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The port the request arrived on (for `match.port`). */
  readonly port: number;
  readonly sourceLabels: Readonly<Record<string, string>>;
  readonly sourceNamespace?: string;
  /** `namespace/name` of the Gateway the request came through, or `mesh` for sidecars. */
  readonly gateway: string;
  /** The namespace the proxy runs in: short host names resolve against it. */
  readonly namespace: string;
}

export interface RouteDestination {
  /** Fully qualified host. */
  readonly host: string;
  readonly subset?: string;
  readonly port?: number;
}

export interface WeightedDestination extends RouteDestination {
  readonly weight: number;
}

export interface HeaderOperations {
  readonly set: Readonly<Record<string, string>>;
  readonly add: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

export interface RetryPolicy {
  /** Attempts after the first (Istio `attempts`). 0 disables retries. */
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  /** 5xx, gateway-error, connect-failure, reset, retriable-4xx, retriable-status-codes, and status numbers. */
  readonly retryOn: ReadonlySet<string>;
  readonly retriableStatusCodes: ReadonlySet<number>;
  readonly retryRemoteLocalities?: boolean;
}

export interface FaultPolicy {
  readonly delay?: { readonly fixedDelayMs: number; readonly percentage: number };
  readonly abort?: { readonly httpStatus: number; readonly percentage: number };
}

export interface CompiledRoute {
  /** `namespace/virtualService` plus the route's name or index, for logs and metrics. */
  readonly name: string;
  readonly virtualService: string;
  /** Exactly one of destinations, redirect or directResponse is set. */
  readonly destinations?: readonly WeightedDestination[];
  readonly redirect?: { readonly uri?: string; readonly authority?: string; readonly scheme?: string; readonly port?: number; readonly status: number };
  readonly directResponse?: { readonly status: number; readonly body?: string };
  readonly rewrite?: { readonly uri?: string; readonly uriRegex?: { readonly match: RegExp; readonly rewrite: string }; readonly authority?: string };
  readonly requestHeaders: HeaderOperations;
  readonly responseHeaders: HeaderOperations;
  readonly timeoutMs?: number;
  readonly retries: RetryPolicy;
  readonly fault?: FaultPolicy;
  readonly mirror?: { readonly destination: RouteDestination; readonly percentage: number };
  readonly corsPolicy?: unknown;
}

export interface RouteMatch {
  readonly route: CompiledRoute;
  /** The prefix or regex the uri matched, for `rewrite.uri` (Istio replaces the matched prefix). */
  readonly matchedPrefix?: string;
}

export interface RouteTable {
  /** First matching route of the VirtualServices bound to the request's host and gateway; undefined when none. */
  route(request: RouteRequest): RouteMatch | undefined;
  /** Picks one destination by weight; `random` in [0, 1). */
  pickDestination(route: CompiledRoute, random: number): WeightedDestination;
  /** For `/config_dump`. */
  dump(): unknown;
}

// ---------------------------------------------------------------------------------------------
// DestinationRule traffic policy, resolved for one host, subset and port

export type SimpleLoadBalancer = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH';

export type HashKey =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string; readonly path?: string; readonly ttlMs?: number }
  | { readonly kind: 'sourceIp' }
  | { readonly kind: 'queryParameter'; readonly name: string };

export type LoadBalancerPolicy =
  | { readonly kind: 'simple'; readonly simple: SimpleLoadBalancer }
  | { readonly kind: 'consistentHash'; readonly key: HashKey; readonly algorithm: 'ringHash' | 'maglev'; readonly minimumRingSize?: number; readonly tableSize?: number };

export interface ConnectionPoolPolicy {
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  readonly http1MaxPendingRequests: number;
  readonly http2MaxRequests: number;
  /** 0: unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly idleTimeoutMs?: number;
}

export interface OutlierDetectionPolicy {
  readonly consecutive5xxErrors: number;
  readonly consecutiveGatewayErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  /** Percent of endpoints that may be ejected at once. */
  readonly maxEjectionPercent: number;
  /** Below this percent of healthy endpoints, ejection is off (panic). */
  readonly minHealthPercent: number;
}

export type TlsMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface UpstreamTlsPolicy {
  readonly mode: TlsMode;
  readonly sni?: string;
  readonly subjectAltNames?: readonly string[];
  readonly caCertificates?: string;
  readonly clientCertificate?: string;
  readonly privateKey?: string;
  readonly insecureSkipVerify?: boolean;
}

export interface TrafficPolicy {
  readonly loadBalancer: LoadBalancerPolicy;
  readonly connectionPool: ConnectionPoolPolicy;
  /** Absent: no outlier detection. */
  readonly outlierDetection?: OutlierDetectionPolicy;
  /** Absent: the proxy's default (ISTIO_MUTUAL inside the mesh unless PeerAuthentication says otherwise). */
  readonly tls?: UpstreamTlsPolicy;
}

export interface ResolvedDestination {
  /** `namespace/name` of the DestinationRule that applied, if any. */
  readonly rule?: string;
  /** Labels an endpoint must carry to be in the subset (empty: every endpoint). */
  readonly subsetLabels: Readonly<Record<string, string>>;
  readonly trafficPolicy: TrafficPolicy;
}

export interface DestinationRules {
  /** Merges the rule's trafficPolicy with the subset's and the port's (the more specific wins). Throws UnknownSubsetError. */
  resolve(host: string, subset: string | undefined, port: number | undefined, namespace: string): ResolvedDestination;
  dump(): unknown;
}

// ---------------------------------------------------------------------------------------------
// Clusters: one per host, subset and port

export interface PickContext {
  /** The hash input for consistentHash (header value, cookie, source IP or query parameter). */
  readonly hashKey?: string;
  /** Endpoints already tried by this request (retries prefer others). */
  readonly exclude?: ReadonlySet<string>;
}

export type UpstreamOutcome =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'connect-failure' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'timeout' };

export interface EndpointState {
  readonly endpoint: Endpoint;
  readonly healthy: boolean;
  readonly ejected: boolean;
  readonly ejectedUntil?: number;
  readonly ejections: number;
  readonly activeRequests: number;
}

export interface Cluster {
  /** `outbound|PORT|SUBSET|HOST`, Envoy's cluster naming. */
  readonly name: string;
  readonly policy: TrafficPolicy;
  /** A healthy, not ejected endpoint, or undefined when none is available. */
  pick(context: PickContext): Endpoint | undefined;
  /** Circuit breaker: a slot for one request, or undefined when the pool is full (answer 503 with `x-envoy-overloaded`). */
  acquire(): { release(): void } | undefined;
  /** Outcome of one attempt, for outlier detection and least-request accounting. */
  report(endpoint: Endpoint, outcome: UpstreamOutcome): void;
  requestStarted(endpoint: Endpoint): void;
  requestFinished(endpoint: Endpoint): void;
  states(): readonly EndpointState[];
}

export interface HealthCheckPolicy {
  /** HTTP GET path; 2xx is healthy. */
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export interface ClusterEvents {
  onEjection?(cluster: string, endpoint: Endpoint): void;
  onOverflow?(cluster: string): void;
  onHealthChange?(cluster: string, endpoint: Endpoint, healthy: boolean): void;
}

/** Builds clusters from the registry and keeps them in step with it (endpoints come and go; state survives). */
export interface ClusterManager {
  cluster(destination: RouteDestination & { readonly port: number }, resolved: ResolvedDestination): Cluster;
  clusters(): readonly Cluster[];
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// The proxy config file (`celgate proxy --config FILE`, kind ProxyConfig, celgate.dev/v1alpha1)

export interface WorkloadIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly trustDomain: string;
  /** `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`. */
  readonly principal: string;
}

export interface IdentityFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export type ListenerConfig =
  /** mTLS (or plaintext when PeerAuthentication allows) → authorize → the local application. */
  | { readonly mode: 'inbound'; readonly name: string; readonly address: string; readonly port: number; readonly application: string }
  /** Plain listener for the local application → route → the destination's inbound proxy. */
  | { readonly mode: 'outbound'; readonly name: string; readonly address: string; readonly port: number }
  /** An Istio Gateway (`namespace/name`); its servers' TLS settings apply. */
  | { readonly mode: 'gateway'; readonly name: string; readonly address: string; readonly port: number; readonly gateway: string };

export type AuthorizationConfig =
  | { readonly mode: 'in-process'; readonly failOpen: boolean }
  | { readonly mode: 'http' | 'grpc'; readonly url: string; readonly timeoutMs: number; readonly failOpen: boolean; readonly pathPrefix?: string }
  | { readonly mode: 'none' };

/** `spec.discovery.kubernetes`: services and endpoints from the cluster (Services, EndpointSlices, Pods). */
export interface KubernetesDiscoveryConfig {
  /** A kubeconfig file; absent: KUBECONFIG, else the Pod's service account, else ~/.kube/config. */
  readonly kubeconfig?: string;
  /** Hosts are `NAME.NAMESPACE.svc.CLUSTER_DOMAIN`. Default cluster.local. */
  readonly clusterDomain: string;
  /** Watch only these namespaces (namespaced list/watch calls); absent: all namespaces. */
  readonly namespaces?: readonly string[];
  /** Watch Pods too, so endpoints carry their Pod's labels (subsets) and service account (principal). Default true. */
  readonly pods: boolean;
}

/** Services found outside the mesh files (e.g. a cluster's), served beside them. */
export interface ServiceDiscovery {
  readonly registry: ServiceRegistry;
  /** False until the first full listing is in the registry (the proxy reports not ready meanwhile). */
  isSynced(): boolean;
  stop(): Promise<void>;
}

export interface DiscoveryConfig {
  readonly kubernetes?: KubernetesDiscoveryConfig;
}

export interface ProxyConfig {
  /** The config file, for error messages. */
  readonly file: string;
  readonly workload: WorkloadIdentity;
  /** Files and directories of Istio networking/security resources and AccessPolicies. */
  readonly meshPaths: readonly string[];
  readonly watch: boolean;
  /** Istio meshConfig pathNormalization (NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES); default BASE. */
  readonly pathNormalization?: 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
  /** Istio root namespace: policies there apply mesh-wide. Default istio-system. */
  readonly rootNamespace?: string;
  /** Absent: plaintext only (no mTLS listener or upstream can be configured). */
  readonly identity?: IdentityFiles;
  readonly listeners: readonly ListenerConfig[];
  readonly authorization: AuthorizationConfig;
  /** Active health checks by service host. */
  readonly healthChecks: ReadonlyMap<string, HealthCheckPolicy>;
  readonly admin?: { readonly address: string; readonly port: number };
  /** `stdout`, a file path, or `off`. */
  readonly accessLog: string;
  readonly limits: { readonly maxRequestBodyBytes: number; readonly requestTimeoutMs: number; readonly headersTimeoutMs: number };
  /** Where services come from besides the mesh files' ServiceEntries/WorkloadEntries. */
  readonly discovery?: DiscoveryConfig;
}
