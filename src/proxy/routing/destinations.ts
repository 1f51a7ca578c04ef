/**
 * Route destinations and their weights (HTTPRouteDestination), and the weighted pick.
 *
 * Istio: "The proportion of traffic to be forwarded to the service version. (0-100). Sum of
 * weights across destinations SHOULD BE == 100. If there is only one destination in a rule,
 * the weight value is assumed to be 100." SHOULD, not MUST: weights are proportions of their
 * sum (as Envoy's weighted clusters are), a destination with weight 0 is never chosen, and a
 * rule whose weights add up to 0 is an error.
 */
import type { HeaderOperations, RouteDestination, WeightedDestination } from '../types.js';
import type { Data, FieldPath, FieldReader } from './fields.js';
import { resolveHost } from './hosts.js';

/** A weighted destination with the header operations HTTPRouteDestination.headers adds for it. */
export interface RoutingDestination extends WeightedDestination {
  readonly requestHeaders?: HeaderOperations;
  readonly responseHeaders?: HeaderOperations;
}

/** Weights folded into running sums, so a pick is a scan (or binary search) with no allocation. */
export interface WeightTable {
  readonly cumulative: Float64Array;
  readonly total: number;
}

export function buildWeightTable(destinations: readonly WeightedDestination[]): WeightTable {
  const cumulative = new Float64Array(destinations.length);
  let total = 0;
  destinations.forEach((d, i) => {
    total += d.weight;
    cumulative[i] = total;
  });
  return { cumulative, total };
}

/** The index whose weight range holds `random * total`; zero-weight entries are never chosen. */
export function pickIndex(table: WeightTable, random: number): number {
  const { cumulative, total } = table;
  const n = cumulative.length;
  if (n <= 1) return 0;
  const target = Math.min(Math.max(random, 0), 0.9999999999999999) * total;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (target < cumulative[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Reads a Destination {host, subset, port.number}; short hosts resolve in `namespace`. */
export function readDestination(reader: FieldReader, value: unknown, path: FieldPath, namespace: string): RouteDestination | undefined {
  const data = reader.object(value, path);
  if (!data) {
    if (value === undefined) reader.report(path, 'destination is required');
    return undefined;
  }
  reader.knownFields(data, path, ['host', 'subset', 'port']);
  const host = reader.string(data.host, [...path, 'host']);
  if (host === undefined || host === '') {
    if (data.host === undefined || host === '') reader.report([...path, 'host'], 'host is required');
    return undefined;
  }
  const subset = reader.string(data.subset, [...path, 'subset']);
  let port: number | undefined;
  const portData = reader.object(data.port, [...path, 'port']);
  if (portData) {
    reader.knownFields(portData, [...path, 'port'], ['number']);
    port = reader.integer(portData.number, [...path, 'port', 'number'], 1, 65535);
  }
  return {
    host: resolveHost(host, namespace),
    ...(subset ? { subset } : {}),
    ...(port !== undefined ? { port } : {}),
  };
}

export const NO_HEADER_OPERATIONS: HeaderOperations = Object.freeze({ set: {}, add: {}, remove: [] });

/** Headers.HeaderOperations {set, add, remove}; header names lower-cased. */
export function readHeaderOperations(reader: FieldReader, value: unknown, path: FieldPath): HeaderOperations | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['set', 'add', 'remove']);
  const lower = (m: Record<string, string> | undefined): Record<string, string> =>
    Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    set: lower(reader.stringMap(data.set, [...path, 'set'])),
    add: lower(reader.stringMap(data.add, [...path, 'add'])),
    remove: (reader.stringList(data.remove, [...path, 'remove']) ?? []).map((h) => h.toLowerCase()),
  };
}

/** Headers {request, response}. */
export function readHeaders(
  reader: FieldReader,
  value: unknown,
  path: FieldPath,
): { request?: HeaderOperations; response?: HeaderOperations } {
  const data = reader.object(value, path);
  if (!data) return {};
  reader.knownFields(data, path, ['request', 'response']);
  const request = readHeaderOperations(reader, data.request, [...path, 'request']);
  const response = readHeaderOperations(reader, data.response, [...path, 'response']);
  return { ...(request ? { request } : {}), ...(response ? { response } : {}) };
}

/** HTTPRoute.route[]: at least one destination, weights 0..100 with a positive sum. */
export function readRouteDestinations(
  reader: FieldReader,
  list: readonly unknown[],
  path: FieldPath,
  namespace: string,
): RoutingDestination[] | undefined {
  const before = reader.issueCount;
  if (list.length === 0) {
    reader.report(path, 'route must list at least one destination');
    return undefined;
  }
  const out: RoutingDestination[] = [];
  list.forEach((item, i) => {
    const itemPath = [...path, i];
    const data = reader.object(item, itemPath) as Data | undefined;
    if (!data) return;
    reader.knownFields(data, itemPath, ['destination', 'weight', 'headers']);
    const destination = readDestination(reader, data.destination, [...itemPath, 'destination'], namespace);
    const weight = reader.integer(data.weight, [...itemPath, 'weight'], 0, 100);
    const headers = readHeaders(reader, data.headers, [...itemPath, 'headers']);
    if (!destination) return;
    out.push({
      ...destination,
      weight: list.length === 1 ? 100 : (weight ?? 0),
      ...(headers.request ? { requestHeaders: headers.request } : {}),
      ...(headers.response ? { responseHeaders: headers.response } : {}),
    });
  });
  if (reader.issueCount > before) return undefined;
  if (out.length > 1 && out.every((d) => d.weight === 0)) {
    reader.report(path, 'the destinations\' weights add up to 0; give at least one destination a weight');
    return undefined;
  }
  return out;
}
