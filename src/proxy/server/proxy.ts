/**
 * The whole proxy: loads the mesh resources, compiles access policies and routing, builds the
 * registry and clusters, starts the listeners and the admin server, and reloads the mesh
 * configuration on change (all or nothing: a set with problems is logged with file:line and
 * the previous set keeps serving).
 */
import { compileAccessPolicies, type PathNormalization } from '../../engine/access/index.js';
import { formatIssue, loadResources, watchPaths, type PolicyIssue, type Watching } from '../../policy/index.js';
import { readCertificates } from '../../pki/files.js';
import { createTlsContextSource, type TlsContextSource } from '../../pki/tls.js';
import { createAccessLog, type AccessLog } from '../../telemetry/access-log.js';
import { createProxyMetrics, type ProxyMetrics } from '../../telemetry/proxy-metrics.js';
import { decidingRule } from '../../telemetry/decision-log.js';
import { startAdminServer, type AdminServer } from '../admin.js';
import { createClusterManager } from '../cluster/index.js';
import { mergeRegistries, snapshotFromResources, SnapshotRegistry } from '../discovery/index.js';
import { compileRouting, type Gateways } from '../routing/index.js';
import type { ClusterManager, ProxyConfig, ServiceDiscovery, ServiceRegistry } from '../types.js';
import { createAuthorizer, type Authorizer } from './authorize.js';
import { startListener, type ListenerContext, type MeshState, type RequestRecord, type RunningListener } from './listeners.js';
import { H2cSessions } from './h2c.js';
import { UpstreamPools, type WorkloadCredentials } from './upstream.js';
import { readFileSync } from 'node:fs';

export interface ProxyLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface StartProxyOptions {
  readonly log?: ProxyLog;
  /** The policy set's path normalisation (Istio meshConfig pathNormalization). Default BASE. */
  readonly pathNormalization?: PathNormalization;
  /** Istio's root namespace for mesh-wide policies. Default istio-system. */
  readonly rootNamespace?: string;
  /** How long close() waits for requests in flight. Default 10 s. */
  readonly drainMs?: number;
  /** Access log destination override (tests pass a sink). */
  readonly accessLog?: AccessLog;
  /** Deterministic randomness for tests (weights, fault percentages, retry back-off). */
  readonly random?: () => number;
  /**
   * Starts the discovery a config's `discovery.kubernetes` asks for. The proxy does not import
   * src/k8s itself (DESIGN.md: adapters do not import each other); `celgate proxy` passes
   * src/k8s/proxy-discovery.ts's `discoverForProxy`.
   */
  readonly discovery?: (config: ProxyConfig, log: ProxyLog) => Promise<ServiceDiscovery>;
}

export interface RunningProxy {
  /** Bound ports by listener name (port 0 in the config reports the chosen one). */
  readonly ports: Readonly<Record<string, number>>;
  readonly adminPort?: number;
  readonly metrics: ProxyMetrics;
  /** Reloads the mesh configuration now; resolves false (and logs why) when it was refused. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

export class ProxyStartError extends Error {}

const SILENT: ProxyLog = { info() {}, warn() {}, error() {} };

interface LoadedMesh {
  readonly state: Omit<MeshState, 'registry' | 'clusters'>;
  readonly gateways: Gateways;
  readonly snapshot: ReturnType<typeof snapshotFromResources>;
}

export async function startProxy(config: ProxyConfig, options: StartProxyOptions = {}): Promise<RunningProxy> {
  const log = options.log ?? SILENT;
  const load = async (): Promise<{ mesh: LoadedMesh } | { issues: readonly PolicyIssue[] }> => {
    const { resources, issues } = await loadResources(config.meshPaths);
    // Command-line options win over the config file's mesh settings.
    const rootNamespace = options.rootNamespace ?? config.rootNamespace;
    const pathNormalization = options.pathNormalization ?? config.pathNormalization;
    const policies = compileAccessPolicies(resources, issues, {
      ...(rootNamespace ? { rootNamespace } : {}),
      ...(pathNormalization ? { pathNormalization } : {}),
    });
    const routing = compileRouting(resources, issues);
    const snapshot = snapshotFromResources(resources, issues, { trustDomain: config.workload.trustDomain });
    if (issues.length > 0) return { issues };
    return { mesh: { state: { routes: routing.routes, destinationRules: routing.destinationRules, policies }, gateways: routing.gateways, snapshot } };
  };

  const first = await load();
  if ('issues' in first) throw new ProxyStartError(`the mesh configuration has problems:\n${first.issues.map(formatIssue).join('\n')}`);

  let workload = config.identity ? workloadCredentials(config, 0) : undefined;
  const metrics = createProxyMetrics();
  const registry = new SnapshotRegistry(first.mesh.snapshot);
  // Cluster services first: a Kubernetes Service wins over a ServiceEntry of the same host (merged-registry.ts).
  const kubernetes = config.discovery?.kubernetes ? await startDiscovery(config, options, log) : undefined;
  const serving: ServiceRegistry = kubernetes ? mergeRegistries([kubernetes.registry, registry]) : registry;
  const clusters: ClusterManager = createClusterManager({
    registry: serving,
    healthChecks: config.healthChecks,
    events: metrics.clusterEvents,
    ...(workload ? { tls: { cert: workload.cert, key: workload.key, ca: workload.ca, rejectUnauthorized: true, checkServerIdentity: () => undefined } } : {}),
  });
  let state: MeshState = { ...first.mesh.state, registry: serving, clusters };
  let gateways = first.mesh.gateways;
  const authorizer: Authorizer = createAuthorizer(config.authorization, config.workload, state.policies);
  const pools = new UpstreamPools();
  const h2c = new H2cSessions();
  const accessLog = options.accessLog ?? createAccessLog(config.accessLog);

  let serverTls: TlsContextSource | undefined;
  if (config.identity) {
    serverTls = createTlsContextSource(
      { certFile: config.identity.cert, keyFile: config.identity.key, clientCaFile: config.identity.ca },
      {
        onError: (error) => log.error(`workload certificate reload failed: ${error.message}`),
        onReload: (event) => {
          // Upstream mTLS presents the rotated certificate from now on (new pools; old ones idle out).
          try {
            workload = workloadCredentials(config, (workload?.generation ?? 0) + 1);
          } catch (error) {
            log.error(`workload certificate reload for upstream TLS failed: ${(error as Error).message}`);
          }
          log.info('workload certificate reloaded', { serial: event.serial });
        },
      },
    );
  }

  const record = (entry: RequestRecord): void => {
    const { forward, decision, destination } = entry;
    const rule = decision ? decidingRule(decision) : undefined;
    // Absent fields stay undefined (the log writes null): no spread copies on the request path.
    accessLog.write({
      time: entry.startedAt,
      listener: entry.listener,
      method: entry.method,
      path: entry.path,
      authority: entry.authority,
      status: entry.status,
      route: forward?.route || undefined,
      upstream: forward?.endpoint || undefined,
      cluster: forward?.cluster || undefined,
      attempts: forward?.attempts ?? 0,
      durationMs: Math.round(entry.durationMs * 1000) / 1000,
      bytesReceived: entry.bytesReceived,
      bytesSent: forward?.bytesSent ?? 0,
      decisionId: decision?.id,
      decision: decision ? (rule ? { allowed: decision.allowed, policy: rule.policy } : { allowed: decision.allowed }) : undefined,
      traceId: entry.traceId,
      requestId: entry.requestId,
      peer: entry.peer || undefined,
    });
    metrics.requestFinished({ listener: entry.listener, route: forward?.route ?? 'none', destination: destination?.host ?? 'none', subset: destination?.subset ?? '' }, entry.status, entry.durationMs / 1000);
    if (forward && forward.attempts > 1 && destination) for (let i = 1; i < forward.attempts; i++) metrics.retry(destination.host);
    if (decision) metrics.authzDecision(decision.allowed);
  };

  const context: ListenerContext = {
    workload: config.workload,
    limits: config.limits,
    env: {
      pools,
      namespace: config.workload.namespace,
      get workload() {
        return workload;
      },
      maxRequestBodyBytes: config.limits.maxRequestBodyBytes,
      random: options.random ?? Math.random,
      h2c,
    },
    state: () => state,
    authorizer: () => authorizer,
    ...(serverTls ? { serverTls } : {}),
    ...(config.identity ? { identity: config.identity } : {}),
    gateways: () => gateways,
    record,
    log: (level, message, fields) => log[level](message, fields),
  };

  const listeners: RunningListener[] = [];
  try {
    for (const listener of config.listeners) listeners.push(await startListener(listener, context));
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close(0)));
    clusters.close();
    await kubernetes?.stop();
    await pools.destroy();
    h2c.close();
    serverTls?.stop();
    throw new ProxyStartError(`cannot start the listeners: ${(error as Error).message}`);
  }

  let admin: AdminServer | undefined;
  if (config.admin) {
    admin = await startAdminServer({
      address: config.admin.address,
      port: config.admin.port,
      ready: () => kubernetes?.isSynced() ?? true,
      configDump: () => ({ workload: config.workload, listeners: config.listeners, routes: state.routes.dump(), destinationRules: state.destinationRules.dump(), gateways: gateways.dump() }),
      clusters: () => clusters.clusters().map((c) => ({ name: c.name, endpoints: c.states() })),
      metrics: metrics.registry,
    });
  }

  let reloading: Promise<boolean> | undefined;
  const reload = (): Promise<boolean> => {
    reloading ??= (async () => {
      try {
        const next = await load();
        if ('issues' in next) {
          for (const issue of next.issues) log.error(formatIssue(issue));
          log.error(`mesh configuration reload refused (${next.issues.length} problems); the previous configuration keeps serving`);
          return false;
        }
        // One synchronous step: no request sees a half-applied configuration.
        registry.replace(next.mesh.snapshot);
        state = { ...next.mesh.state, registry: serving, clusters };
        gateways = next.mesh.gateways;
        authorizer.setPolicies(next.mesh.state.policies);
        log.info('mesh configuration reloaded');
        return true;
      } catch (error) {
        log.error(`mesh configuration reload failed: ${(error as Error).message}; the previous configuration keeps serving`);
        return false;
      } finally {
        reloading = undefined;
      }
    })();
    return reloading;
  };

  let watching: Watching | undefined;
  if (config.watch) {
    watching = watchPaths(config.meshPaths, () => void reload(), (path, error) => log.warn(`cannot watch ${path}; changes there need a restart: ${error.message}`));
  }

  const ports: Record<string, number> = {};
  for (const listener of listeners) ports[listener.name] = listener.port;
  log.info('proxy started', { ports, ...(admin ? { admin: admin.port } : {}) });

  let closing: Promise<void> | undefined;
  return {
    ports,
    ...(admin ? { adminPort: admin.port } : {}),
    metrics,
    reload,
    close() {
      closing ??= (async () => {
        watching?.close();
        await Promise.all(listeners.map((l) => l.close(options.drainMs ?? 10_000)));
        await admin?.close();
        clusters.close();
        if (serving !== registry) serving.close();
        await kubernetes?.stop();
        registry.close();
        await pools.close();
        h2c.close();
        await authorizer.close();
        serverTls?.stop();
        await accessLog.close();
      })();
      return closing;
    },
  };
}

/** Services from the cluster, through the discovery the embedder passed in. */
async function startDiscovery(config: ProxyConfig, options: StartProxyOptions, log: ProxyLog): Promise<ServiceDiscovery> {
  if (!options.discovery) throw new ProxyStartError(`${config.file}: discovery.kubernetes: this proxy was started without Kubernetes discovery (celgate proxy provides it)`);
  try {
    return await options.discovery(config, log);
  } catch (error) {
    throw new ProxyStartError(`${config.file}: discovery.kubernetes: ${(error as Error).message}`);
  }
}

/** The workload's files as PEM for upstream mutual TLS. */
function workloadCredentials(config: ProxyConfig, generation: number): WorkloadCredentials {
  const identity = config.identity!;
  try {
    return {
      cert: readFileSync(identity.cert, 'utf8'),
      key: readFileSync(identity.key, 'utf8'),
      ca: readCertificates(identity.ca, 'mesh CA file').pem,
      principal: config.workload.principal,
      trustDomain: config.workload.trustDomain,
      generation,
    };
  } catch (error) {
    throw new ProxyStartError(`${config.file}: identity: ${(error as Error).message}`);
  }
}
