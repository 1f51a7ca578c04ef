/**
 * The RouteTable: finds the VirtualServices bound to a request's host and gateway, then the
 * first matching http route.
 *
 * Host selection follows Envoy's virtual-host choice as Istio programs it: an exact host
 * wins over any wildcard, and the longest wildcard wins among wildcards. When several
 * VirtualServices name the same host, Istio merges them only on gateways (and calls the
 * result undefined for sidecars); celgate concatenates their http routes in file order for
 * every gateway, so the first file's routes are tried first.
 */
import type { CompiledRoute, RouteMatch, RouteRequest, RouteTable, WeightedDestination } from '../types.js';
import { HostIndex, requestHostCandidates, stripPort } from './hosts.js';
import { type MatchInput, describeHttpMatch, parseQuery, testHttpMatch } from './http-match.js';
import type { RoutingRoute } from './http-route.js';
import { pickIndex } from './destinations.js';
import { PathIndex } from './path-index.js';
import type { CompiledVirtualService } from './virtual-service.js';

/** RouteRequest may carry the scheme (`http`/`https`) for `match.scheme`; else `:scheme` or `x-forwarded-proto`, else http. */
export type RoutingRequest = RouteRequest & { readonly scheme?: string };

/** Distinct authorities remembered per route table before the host cache starts over. */
const MAX_CACHED_HOSTS = 4096;

export class CompiledRouteTable implements RouteTable {
  /** One host index per gateway, so a host bound only on other gateways never hides a wildcard bound on this one. */
  private readonly byGateway = new Map<string, HostIndex<readonly CompiledVirtualService[]>>();
  /** Each VirtualService's http routes by the path's first segment. */
  private readonly paths = new Map<CompiledVirtualService, PathIndex>();
  /** Host lookups by gateway, namespace and authority (bounded: cleared when full). */
  private readonly boundCache = new Map<string, Map<string, Map<string, readonly CompiledVirtualService[] | null>>>();
  private boundCacheSize = 0;

  constructor(private readonly virtualServices: readonly CompiledVirtualService[]) {
    const hostsByGateway = new Map<string, Map<string, CompiledVirtualService[]>>();
    for (const vs of virtualServices) {
      for (const gateway of vs.boundGateways) {
        let byHost = hostsByGateway.get(gateway);
        if (!byHost) hostsByGateway.set(gateway, (byHost = new Map()));
        for (const host of vs.hosts) {
          let list = byHost.get(host);
          if (!list) byHost.set(host, (list = []));
          list.push(vs);
        }
      }
    }
    for (const [gateway, byHost] of hostsByGateway) this.byGateway.set(gateway, new HostIndex(byHost));
    for (const vs of virtualServices) this.paths.set(vs, new PathIndex(vs.http));
  }

  /** The VirtualServices bound to the request's host on its gateway. */
  private bound(request: RoutingRequest): readonly CompiledVirtualService[] | undefined {
    let byNamespace = this.boundCache.get(request.gateway);
    if (!byNamespace) this.boundCache.set(request.gateway, (byNamespace = new Map()));
    let byAuthority = byNamespace.get(request.namespace);
    if (!byAuthority) byNamespace.set(request.namespace, (byAuthority = new Map()));
    const cached = byAuthority.get(request.authority);
    if (cached !== undefined) return cached ?? undefined;
    const index = this.byGateway.get(request.gateway);
    const found = index?.lookup(requestHostCandidates(stripPort(request.authority), request.namespace));
    if (this.boundCacheSize >= MAX_CACHED_HOSTS) {
      for (const namespaces of this.boundCache.values()) for (const authorities of namespaces.values()) authorities.clear();
      this.boundCacheSize = 0;
    }
    byAuthority.set(request.authority, found ?? null);
    this.boundCacheSize++;
    return found;
  }

  route(request: RoutingRequest): RouteMatch | undefined {
    const bound = this.bound(request);
    if (!bound) return undefined;
    const input = matchInput(request);
    for (const vs of bound) {
      const http = vs.http;
      const candidates = this.paths.get(vs)!.candidates(input.path);
      for (let c = 0; c < candidates.length; c++) {
        const { matches, route } = http[candidates[c]!]!;
        if (matches.length === 0) {
          if (!vs.gateways.has(request.gateway)) continue;
          return input.path.startsWith('/') ? { route, matchedPrefix: '/' } : { route };
        }
        for (const m of matches) {
          const result = testHttpMatch(m, input, vs.gateways);
          if (result === false) continue;
          return result === null ? { route } : { route, matchedPrefix: result };
        }
      }
    }
    return undefined;
  }

  pickDestination(route: CompiledRoute, random: number): WeightedDestination {
    const destinations = route.destinations;
    if (!destinations || destinations.length === 0) throw new Error(`route ${route.name} has no destinations`);
    const weights = (route as RoutingRoute).weights;
    return destinations[weights ? pickIndex(weights, random) : 0]!;
  }

  dump(): unknown {
    return {
      virtualServices: this.virtualServices.map((vs) => ({
        name: vs.ref,
        hosts: vs.hosts,
        gateways: [...vs.gateways],
        http: vs.http.map(({ matches, route }) => ({
          name: route.name,
          match: matches.map(describeHttpMatch),
          ...describeRoute(route as RoutingRoute),
        })),
      })),
    };
  }
}

function matchInput(request: RoutingRequest): MatchInput {
  const q = request.path.indexOf('?');
  const path = q < 0 ? request.path : request.path.slice(0, q);
  const scheme = request.scheme ?? request.headers[':scheme'] ?? request.headers['x-forwarded-proto'] ?? 'http';
  let query: ReadonlyMap<string, string> | undefined;
  return { request, path, scheme, query: () => (query ??= parseQuery(request.path)) };
}

function describeRoute(route: RoutingRoute): Record<string, unknown> {
  return {
    destinations: route.destinations?.map((d) => ({ host: d.host, subset: d.subset, port: d.port, weight: d.weight })),
    redirect: route.redirect,
    directResponse: route.directResponse,
    rewrite: route.rewrite && {
      uri: route.rewrite.uri,
      authority: route.rewrite.authority,
      uriRegexRewrite: route.rewrite.uriRegex && { match: route.rewrite.uriRegex.match.source, rewrite: route.rewrite.uriRegex.rewrite },
    },
    requestHeaders: route.requestHeaders,
    responseHeaders: route.responseHeaders,
    timeoutMs: route.timeoutMs,
    retries: {
      attempts: route.retries.attempts,
      perTryTimeoutMs: route.retries.perTryTimeoutMs,
      retryOn: [...route.retries.retryOn],
      retriableStatusCodes: [...route.retries.retriableStatusCodes],
    },
    fault: route.fault,
    mirror: route.mirror,
    corsPolicy: route.corsPolicy,
  };
}
