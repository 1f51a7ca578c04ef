/**
 * The forwarding core: what happens to a request once a VirtualService route matched it.
 * Istio's order (Envoy's filter chain): CORS, fault injection, then direct response or redirect,
 * then rewrite and header operations, then the weighted destination, its DestinationRule and
 * cluster, the circuit breaker, endpoint choice, and attempts with retries under the route
 * timeout, reporting every outcome to the cluster for outlier detection.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type {
  Cluster,
  ClusterManager,
  CompiledRoute,
  DestinationRules,
  HashKey,
  RouteDestination,
  RouteMatch,
  ServiceRegistry,
  TrafficPolicy,
  UpstreamOutcome,
} from '../types.js';
import { declaredTooLarge, hasBody, limitedBody, readBody, type DownstreamRequest } from './body.js';
import { Abort, type AbortLike } from './abort.js';
import { applyCors } from './cors.js';
import { discard, localReply, relayResponse, sendAttempt, type AttemptResult, type DownstreamResponse, type UpstreamRequest } from './exchange.js';
import { isGrpc, type H2cSessions } from './h2c.js';
import { DEFAULT_RETRY_POLICY, redirectLocation, rewritePath } from '../routing/index.js';
import { applyHeaderOperations, headerValue, type HeaderMap } from './headers.js';
import { backoffMs, retriable } from './retry.js';
import { upstreamTls, UpstreamTlsError, type UpstreamPools, type WorkloadCredentials } from './upstream.js';

/** The routing state of one mesh configuration; replaced as a whole on reload. */
export interface RoutingState {
  readonly registry: ServiceRegistry;
  readonly destinationRules: DestinationRules;
  readonly clusters: ClusterManager;
}

export interface ForwardEnvironment {
  readonly pools: UpstreamPools;
  /** The proxy's namespace: short host names resolve against it. */
  readonly namespace: string;
  readonly workload?: WorkloadCredentials;
  readonly maxRequestBodyBytes: number;
  /** Math.random unless a test pins it. */
  readonly random: () => number;
  readonly sleep?: (ms: number, signal: AbortLike) => Promise<void>;
  /** HTTP/2 prior-knowledge sessions for gRPC to plain-text upstreams. */
  readonly h2c?: H2cSessions;
}

/** A downstream request, prepared by a listener (hop-by-hop headers gone, forwarded headers set). */
export interface ProxyRequest {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  readonly method: string;
  /** Normalised path with the query: the path authorised is the path routed and forwarded. */
  readonly path: string;
  readonly authority: string;
  /** End-to-end request headers (mutable: route and authorization operations apply here). */
  readonly headers: HeaderMap;
  readonly scheme: 'http' | 'https';
  readonly sourceAddress: string;
  readonly http2: boolean;
  /** Aborted when the client goes away. */
  readonly signal: AbortLike;
  /** An authorization decision's route hint (`{subset: 'v2'}`), overriding the destination's subset. */
  readonly routeHint?: Readonly<Record<string, string>> | null;
}

/** What happened, for the access log and metrics. */
export interface ForwardResult {
  readonly status: number;
  readonly route?: string;
  readonly cluster?: string;
  readonly endpoint?: string;
  readonly attempts: number;
  /** Envoy-style response flags: UF (connect failure), UT (timeout), UO (overflow), UH (no healthy), URX (retries exhausted), DI/FI (fault), NR (no route). */
  readonly flags: readonly string[];
  readonly bytesSent: number;
  readonly detail?: string;
}

/** The route used when no VirtualService covers a known service: straight to it, Istio's default retries. */
export function defaultRoute(host: string): RouteMatch {
  return {
    route: {
      name: `default/${host}`,
      virtualService: '',
      destinations: [{ host, weight: 100 }],
      requestHeaders: NO_OPS,
      responseHeaders: NO_OPS,
      retries: DEFAULT_RETRY_POLICY,
    },
  };
}

const NO_OPS = Object.freeze({ set: Object.freeze({}), add: Object.freeze({}), remove: Object.freeze([]) as readonly string[] });

/** The registry's service for an authority (`host[:port]`), trying short names against the namespace. */
export function serviceHostFor(registry: ServiceRegistry, authority: string, namespace: string): string | undefined {
  const host = splitAuthority(authority).host.toLowerCase();
  const candidates = [host, `${host}.${namespace}.svc.cluster.local`, `${host}.svc.cluster.local`, `${host}.cluster.local`];
  return candidates.find((candidate) => registry.service(candidate) !== undefined);
}

export function splitAuthority(authority: string): { host: string; port?: number } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  if (!match) return { host: authority };
  return match[2] ? { host: match[1]!, port: Number(match[2]) } : { host: match[1]! };
}

/** Forwards one request by its matched route, answering the client in every case. Never throws. */
export async function forwardRoute(env: ForwardEnvironment, state: RoutingState, match: RouteMatch, request: ProxyRequest, pickDestination: (route: CompiledRoute, random: number) => RouteDestination): Promise<ForwardResult> {
  const route = match.route;
  const { res } = request;
  const flags: string[] = [];
  const base = { route: route.name, attempts: 0, bytesSent: 0 };
  const reply = (status: number, body: string, headers?: Record<string, string>, detail?: string): ForwardResult => {
    localReply(res, status, body, headers);
    return { ...base, status, flags, detail: detail ?? body };
  };

  // 1. CORS (Istio's filter chain runs cors before fault): an allowed preflight is answered here.
  const cors = applyCors(route.corsPolicy, request.method, request.headers);
  if (cors.kind === 'preflight') {
    localReply(res, 200, '', cors.headers);
    return { ...base, status: 200, flags };
  }

  // 2. Fault injection (Istio HTTPFaultInjection): delay first, then abort.
  const fault = route.fault;
  if (fault?.delay && env.random() * 100 < fault.delay.percentage) {
    flags.push('DI');
    await (env.sleep ?? sleep)(fault.delay.fixedDelayMs, request.signal).catch(() => {});
    if (request.signal.aborted) return { ...base, status: 0, flags, detail: 'client went away during the injected delay' };
  }
  if (fault?.abort && env.random() * 100 < fault.abort.percentage) {
    flags.push('FI');
    return reply(fault.abort.httpStatus, 'fault filter abort');
  }

  // 3. Answers that never reach an upstream.
  if (route.directResponse) {
    const body = route.directResponse.body ?? '';
    const headers: Record<string, string> = {};
    applyHeaderOperations(headers as HeaderMap, route.responseHeaders);
    localReply(res, route.directResponse.status, body, headers);
    return { ...base, status: route.directResponse.status, flags };
  }
  if (route.redirect) {
    return reply(route.redirect.status, '', { location: redirectLocation(match, request) });
  }
  if (!route.destinations || route.destinations.length === 0) return reply(500, `route ${route.name} has no destination`);

  // 4. Rewrite and request header operations.
  const rewritten = rewritePath(match, request.path);
  const headers = request.headers;
  headers['host'] = route.rewrite?.authority ?? request.authority;
  applyHeaderOperations(headers, route.requestHeaders);

  // 5. The destination, its DestinationRule and cluster.
  const picked = pickDestination(route, env.random());
  const hintedSubset = request.routeHint?.['subset'];
  const destination: RouteDestination = hintedSubset ? { ...picked, subset: hintedSubset } : picked;
  const port = destinationPort(state.registry, destination, request.authority);
  let cluster: Cluster;
  try {
    const resolved = state.destinationRules.resolve(destination.host, destination.subset, port, env.namespace);
    cluster = state.clusters.cluster({ ...destination, port }, resolved);
  } catch (error) {
    flags.push('NC');
    return reply(503, 'no healthy upstream', undefined, `${destination.host}: ${(error as Error).message}`);
  }
  const slot = cluster.acquire();
  if (!slot) {
    flags.push('UO');
    return { ...reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', { 'x-envoy-overloaded': 'true' }), cluster: cluster.name };
  }
  try {
    return await attemptAll(env, state, request, route, cluster, destination, rewritten, flags, cors.kind === 'actual' ? cors.headers : undefined);
  } finally {
    slot.release();
  }
}

async function attemptAll(env: ForwardEnvironment, state: RoutingState, request: ProxyRequest, route: CompiledRoute, cluster: Cluster, destination: RouteDestination, path: string, flags: string[], corsHeaders: Record<string, string> | undefined): Promise<ForwardResult> {
  const { res } = request;
  const policy = cluster.policy;
  const retries = route.retries;
  const base = { route: route.name, cluster: cluster.name };
  let attempts = 0;
  const reply = (status: number, body: string, detail?: string, headers?: Record<string, string>, endpoint?: string): ForwardResult => {
    localReply(res, status, body, headers);
    return { ...base, status, flags, attempts, bytesSent: 0, detail: detail ?? body, ...(endpoint ? { endpoint } : {}) };
  };

  // The body: buffered when a retry or the mirror may need it again, streamed otherwise.
  const limit = env.maxRequestBodyBytes;
  let body: Buffer | Readable | undefined;
  if (hasBody(request.req)) {
    if (declaredTooLarge(request.req, limit)) return reply(413, 'payload too large');
    if (retries.attempts > 0 || route.mirror) {
      try {
        body = await readBody(request.req, limit);
      } catch (error) {
        if ((error as { code?: string }).code === 'CELGATE_BODY_TOO_LARGE') return reply(413, 'payload too large');
        return { ...base, status: 0, flags, attempts, bytesSent: 0, detail: (error as Error).message };
      }
    } else {
      body = limitedBody(request.req, limit);
    }
  }

  const hashKey = hashKeyFor(policy, request);
  const extraResponseHeaders = hashKey.setCookie || corsHeaders ? { ...corsHeaders, ...(hashKey.setCookie ? { 'set-cookie': hashKey.setCookie } : {}) } : undefined;
  const upstreamRequest: UpstreamRequest = { method: request.method, path, headers: request.headers, body };

  if (route.mirror && env.random() * 100 < route.mirror.percentage) mirror(env, state, request, route.mirror.destination, upstreamRequest);

  const deadline = route.timeoutMs ? Date.now() + route.timeoutMs : Number.POSITIVE_INFINITY;
  // One signal and at most one timer for the attempts: the client's own signal when the route
  // has no timeout, else one that also fires at the route's deadline.
  let routeTimer: NodeJS.Timeout | undefined;
  let routeAbort: Abort | undefined;
  const onClientGone = () => routeAbort!.abort(new Error('client went away'));
  if (Number.isFinite(deadline)) {
    const timed = (routeAbort = new Abort());
    request.signal.once('abort', onClientGone);
    routeTimer = setTimeout(() => timed.abort(new RouteTimeout()), route.timeoutMs);
  }
  const signal: AbortLike = routeAbort ?? request.signal;
  const tried = new Set<string>();
  let lastFailure: { outcome: UpstreamOutcome; endpoint: string; message: string } | undefined;
  try {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.reason instanceof RouteTimeout) {
        flags.push('UT');
        return reply(504, 'upstream request timeout', undefined, undefined, lastFailure?.endpoint);
      }
      if (request.signal.aborted) return { ...base, status: 0, flags, attempts, bytesSent: 0, detail: 'client went away' };
      const endpoint = cluster.pick({ hashKey: hashKey.value, exclude: tried }) ?? (tried.size > 0 ? cluster.pick({ hashKey: hashKey.value }) : undefined);
      if (!endpoint) {
        if (lastFailure) break;
        flags.push('UH');
        return reply(503, 'no healthy upstream');
      }
      tried.add(endpoint.id);
      let tls;
      try {
        tls = upstreamTls(policy.tls ?? defaultTls(env, state, destination.host), endpoint, env.workload, destination.host);
      } catch (error) {
        if (error instanceof UpstreamTlsError) return reply(503, 'upstream TLS is misconfigured', error.message);
        throw error;
      }
      // The route's timer bounds an attempt to the remaining time; a per-try timer only when it is shorter.
      const perTry = retries.perTryTimeoutMs !== undefined && retries.perTryTimeoutMs < remaining ? retries.perTryTimeoutMs : Number.POSITIVE_INFINITY;
      attempts++;
      cluster.requestStarted(endpoint);
      // gRPC needs HTTP/2 end to end (ALPN over TLS, prior knowledge in plain text); the rest goes over HTTP/1.1.
      const grpc = request.http2 && isGrpc(request.headers);
      const result: AttemptResult =
        grpc && env.h2c
          ? await env.h2c.send(`http://${endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`, tls, upstreamRequest, perTry, signal, policy.connectionPool.connectTimeoutMs)
          : await sendAttempt(env.pools.pool(endpoint.address, endpoint.port, { connectionPool: policy.connectionPool, tls }), upstreamRequest, perTry, signal);
      if (result.kind === 'response') {
        const status = result.response.statusCode;
        cluster.report(endpoint, { kind: 'response', status });
        const grpcStatus = headerOf(result.response.headers, 'grpc-status');
        const canRetry = attempts <= retries.attempts && !(body && !Buffer.isBuffer(body));
        if (canRetry && retriable(retries, { kind: 'response', status }, grpcStatus)) {
          await discard(result.response.body);
          cluster.requestFinished(endpoint);
          lastFailure = { outcome: { kind: 'response', status }, endpoint: endpoint.id, message: `status ${status}` };
          await pause(env, attempts - 1, signal);
          continue;
        }
        // The route timeout covers the whole response (Envoy: until the response is complete).
        const upstreamBody = result.response.body;
        const cut = () => upstreamBody.destroy(signal.reason as Error);
        signal.once('abort', cut);
        try {
          const bytesSent = await relayResponse(res, result.response, route.responseHeaders, extraResponseHeaders);
          return { route: route.name, cluster: cluster.name, status, flags, attempts, bytesSent, endpoint: endpoint.id };
        } catch (error) {
          const timedOut = signal.reason instanceof RouteTimeout;
          if (timedOut) flags.push('UT');
          return { ...base, status, flags, attempts, bytesSent: 0, endpoint: endpoint.id, detail: timedOut ? 'upstream request timeout while streaming the response' : `response stream failed: ${(error as Error).message}` };
        } finally {
          signal.off('abort', cut);
          cluster.requestFinished(endpoint);
        }
      }
      cluster.requestFinished(endpoint);
      if (request.signal.aborted) return { ...base, status: 0, flags, attempts, bytesSent: 0, detail: 'client went away' };
      if (result.bodyTooLarge) return reply(413, 'payload too large');
      if (signal.reason instanceof RouteTimeout) continue; // answered 504 at the top
      cluster.report(endpoint, result.outcome);
      lastFailure = { outcome: result.outcome, endpoint: endpoint.id, message: result.error.message };
      const replayable = body === undefined || Buffer.isBuffer(body);
      if (attempts <= retries.attempts && replayable && retriable(retries, result.outcome)) {
        await pause(env, attempts - 1, signal);
        continue;
      }
      break;
    }
  } finally {
    if (routeTimer) {
      clearTimeout(routeTimer);
      request.signal.off('abort', onClientGone);
    }
  }
  // Retries exhausted (or not allowed) after a failure without a usable response.
  if (attempts > 1) flags.push('URX');
  const failure = lastFailure!;
  switch (failure.outcome.kind) {
    case 'timeout':
      flags.push('UT');
      return reply(504, 'upstream request timeout', failure.message, undefined, failure.endpoint);
    case 'connect-failure':
      flags.push('UF');
      return reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure', failure.message, undefined, failure.endpoint);
    case 'reset':
      flags.push('UR');
      return reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination', failure.message, undefined, failure.endpoint);
    case 'response':
      // Only reached when the last retriable response was drained and no endpoint was left.
      return reply(503, 'no healthy upstream', failure.message, undefined, failure.endpoint);
  }
}

class RouteTimeout extends Error {
  constructor() {
    super('upstream request timeout');
  }
}

/** Waits the retry back-off; false when the wait was cut short. */
async function pause(env: ForwardEnvironment, retry: number, signal: AbortLike): Promise<boolean> {
  try {
    await (env.sleep ?? sleep)(backoffMs(retry, env.random), signal);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number, signal: AbortLike): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.off('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.once('abort', onAbort);
  });
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Istio's default upstream TLS (auto mTLS): ISTIO_MUTUAL to services inside the mesh when this
 * proxy has an identity; plain text to MESH_EXTERNAL services and without an identity.
 */
function defaultTls(env: ForwardEnvironment, state: RoutingState, host: string): TrafficPolicy['tls'] {
  const internal = state.registry.service(host)?.location !== 'MESH_EXTERNAL';
  return env.workload && internal ? ISTIO_MUTUAL : DISABLE;
}
const ISTIO_MUTUAL = Object.freeze({ mode: 'ISTIO_MUTUAL' as const });
const DISABLE = Object.freeze({ mode: 'DISABLE' as const });

/** The service port a destination addresses: its own, the authority's when the service has it, else the service's only (or first) port. */
export function destinationPort(registry: ServiceRegistry, destination: RouteDestination, authority: string): number {
  if (destination.port !== undefined) return destination.port;
  const service = registry.service(destination.host);
  const requested = splitAuthority(authority).port;
  if (service) {
    if (requested !== undefined && service.ports.some((p) => p.number === requested)) return requested;
    if (service.ports.length > 0) return service.ports[0]!.number;
  }
  return requested ?? 80;
}

/** The consistent-hash input of the cluster's load balancer policy (and a cookie to set when Istio's `ttl` asks for one). */
function hashKeyFor(policy: TrafficPolicy, request: ProxyRequest): { value?: string; setCookie?: string } {
  const lb = policy.loadBalancer;
  if (lb.kind !== 'consistentHash') return {};
  return hashInput(lb.key, request);
}

export function hashInput(key: HashKey, request: Pick<ProxyRequest, 'headers' | 'sourceAddress' | 'path'>): { value?: string; setCookie?: string } {
  switch (key.kind) {
    case 'header': {
      const value = headerValue(request.headers, key.name.toLowerCase());
      return value === undefined ? {} : { value };
    }
    case 'sourceIp':
      return { value: request.sourceAddress };
    case 'queryParameter': {
      const q = request.path.indexOf('?');
      if (q < 0) return {};
      const value = new URLSearchParams(request.path.slice(q + 1)).get(key.name);
      return value === null ? {} : { value };
    }
    case 'cookie': {
      const cookies = headerValue(request.headers, 'cookie') ?? '';
      for (const part of cookies.split(/;\s*/)) {
        const eq = part.indexOf('=');
        if (eq > 0 && part.slice(0, eq) === key.name) return { value: part.slice(eq + 1) };
      }
      // Envoy generates the cookie when a ttl is configured, so the next request sticks.
      if (key.ttlMs === undefined) return {};
      const value = randomBytes(8).toString('hex');
      const attributes = [`${key.name}=${value}`, `Max-Age=${Math.floor(key.ttlMs / 1000)}`, `Path=${key.path ?? '/'}`, 'HttpOnly'];
      return { value, setCookie: attributes.join('; ') };
    }
  }
}

/** Mirror (Istio `mirror`): a copy sent fire-and-forget; the Host gets Envoy's `-shadow` suffix. */
function mirror(env: ForwardEnvironment, mirrorState: RoutingState, request: ProxyRequest, destination: RouteDestination, upstream: UpstreamRequest): void {
  if (upstream.body !== undefined && !Buffer.isBuffer(upstream.body)) return;
  void (async () => {
    try {
      const port = destinationPort(mirrorState.registry, destination, request.authority);
      const resolved = mirrorState.destinationRules.resolve(destination.host, destination.subset, port, env.namespace);
      const cluster = mirrorState.clusters.cluster({ ...destination, port }, resolved);
      const endpoint = cluster.pick({});
      if (!endpoint) return;
      const tls = upstreamTls(cluster.policy.tls ?? defaultTls(env, mirrorState, destination.host), endpoint, env.workload, destination.host);
      const pool = env.pools.pool(endpoint.address, endpoint.port, { connectionPool: cluster.policy.connectionPool, tls });
      const { host, port: hostPort } = splitAuthority(headerValue(upstream.headers, 'host') ?? request.authority);
      const headers = { ...upstream.headers, host: `${host}-shadow${hostPort !== undefined ? `:${hostPort}` : ''}` };
      const result = await sendAttempt(pool, { ...upstream, headers }, 30_000, new Abort());
      if (result.kind === 'response') await discard(result.response.body);
    } catch {
      // Mirrored traffic never affects the real request.
    }
  })();
}
