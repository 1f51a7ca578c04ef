/**
 * HTTPMatchRequest: the conditions of one `match` entry (all must hold; entries are ORed by
 * the route). Compiled once; testing a request allocates nothing except, for routes that
 * match on query parameters, the request's parsed query (parsed once per request).
 */
import type { RouteRequest } from '../types.js';
import type { FieldPath, FieldReader } from './fields.js';
import { type StringMatcher, describeMatcher, readStringMatch } from './string-match.js';
import { resolveGatewayName } from './gateway-names.js';

export interface HttpMatch {
  readonly name?: string;
  readonly uri?: StringMatcher;
  readonly scheme?: StringMatcher;
  readonly method?: StringMatcher;
  readonly authority?: StringMatcher;
  readonly headers: ReadonlyArray<readonly [string, StringMatcher]>;
  readonly withoutHeaders: ReadonlyArray<readonly [string, StringMatcher]>;
  readonly queryParams: ReadonlyArray<readonly [string, StringMatcher]>;
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly sourceNamespace?: string;
  /** When set, replaces the VirtualService's gateways for this match. */
  readonly gateways?: ReadonlySet<string>;
}

/** What one request offers the matchers, derived once per request. */
export interface MatchInput {
  readonly request: RouteRequest;
  /** Path without the query. */
  readonly path: string;
  readonly scheme: string;
  query(): ReadonlyMap<string, string>;
}

const MATCH_FIELDS = [
  'name', 'uri', 'scheme', 'method', 'authority', 'headers', 'port', 'sourceLabels', 'gateways',
  'queryParams', 'ignoreUriCase', 'withoutHeaders', 'sourceNamespace', 'statPrefix',
];

/** Header names Istio ignores in `headers` (they are matched through their own fields). */
const PSEUDO_HEADER_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

export function readHttpMatch(reader: FieldReader, value: unknown, path: FieldPath, namespace: string): HttpMatch | undefined {
  const before = reader.issueCount;
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, MATCH_FIELDS);
  const ignoreUriCase = reader.boolean(data.ignoreUriCase, [...path, 'ignoreUriCase']) ?? false;
  const field = (name: string, ignoreCase = false): StringMatcher | undefined =>
    data[name] === undefined ? undefined : readStringMatch(reader, data[name], [...path, name], ignoreCase);
  const uri = field('uri', ignoreUriCase);
  const scheme = field('scheme');
  const method = field('method');
  const authority = field('authority');
  const headerMap = (name: string, lower: boolean): Array<readonly [string, StringMatcher]> => {
    const map = reader.object(data[name], [...path, name]);
    const out: Array<readonly [string, StringMatcher]> = [];
    for (const [key, v] of Object.entries(map ?? {})) {
      const k = lower ? key.toLowerCase() : key;
      if (lower && PSEUDO_HEADER_KEYS.has(k)) continue;
      const m = readStringMatch(reader, v ?? {}, [...path, name, key]);
      if (m) out.push([k, m]);
    }
    return out;
  };
  const headers = headerMap('headers', true);
  const withoutHeaders = headerMap('withoutHeaders', true);
  const queryParams = headerMap('queryParams', false);
  const port = reader.integer(data.port, [...path, 'port'], 1, 65535);
  const sourceLabels = reader.stringMap(data.sourceLabels, [...path, 'sourceLabels']);
  const sourceNamespace = reader.string(data.sourceNamespace, [...path, 'sourceNamespace']);
  const gatewayList = reader.stringList(data.gateways, [...path, 'gateways']);
  const name = reader.string(data.name, [...path, 'name']);
  if (reader.issueCount > before) return undefined;
  return {
    ...(name ? { name } : {}),
    ...(uri ? { uri } : {}),
    ...(scheme ? { scheme } : {}),
    ...(method ? { method } : {}),
    ...(authority ? { authority } : {}),
    headers,
    withoutHeaders,
    queryParams,
    ...(port !== undefined ? { port } : {}),
    ...(sourceLabels && Object.keys(sourceLabels).length > 0 ? { sourceLabels } : {}),
    ...(sourceNamespace ? { sourceNamespace } : {}),
    ...(gatewayList && gatewayList.length > 0 ? { gateways: new Set(gatewayList.map((g) => resolveGatewayName(g, namespace))) } : {}),
  };
}

/**
 * Whether `m` matches; returns false, or the matched uri prefix (for `rewrite.uri`), or
 * null when matched without a prefix. A match without `uri` counts as prefix `/`: Istio
 * programs Envoy with prefix "/" there, so `rewrite.uri` replaces that leading slash.
 */
export function testHttpMatch(m: HttpMatch, input: MatchInput, vsGateways: ReadonlySet<string>): string | null | false {
  const request = input.request;
  if (!(m.gateways ?? vsGateways).has(request.gateway)) return false;
  if (m.port !== undefined && m.port !== request.port) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== request.sourceNamespace) return false;
  if (m.sourceLabels) {
    for (const key in m.sourceLabels) if (request.sourceLabels[key] !== m.sourceLabels[key]) return false;
  }
  if (m.method && !m.method.test(request.method)) return false;
  if (m.scheme && !m.scheme.test(input.scheme)) return false;
  if (m.authority && !m.authority.test(request.authority)) return false;
  for (const [name, matcher] of m.headers) {
    const v = request.headers[name];
    if (v === undefined || !matcher.test(v)) return false;
  }
  // Istio: "If a header is matched with a matching rule among withoutHeader, the traffic becomes not matched one."
  for (const [name, matcher] of m.withoutHeaders) {
    const v = request.headers[name];
    if (v !== undefined && matcher.test(v)) return false;
  }
  if (m.queryParams.length > 0) {
    const query = input.query();
    for (const [name, matcher] of m.queryParams) {
      const v = query.get(name);
      if (v === undefined || !matcher.test(v)) return false;
    }
  }
  if (!m.uri || m.uri.kind === 'present') return input.path.startsWith('/') ? '/' : null;
  if (!m.uri.test(input.path)) return false;
  return m.uri.kind === 'prefix' ? input.path.slice(0, m.uri.value.length) : null;
}

/** The first value of each query parameter, percent-decoded. */
export function parseQuery(pathWithQuery: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  const q = pathWithQuery.indexOf('?');
  if (q < 0) return out;
  let rest = pathWithQuery.slice(q + 1);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  for (const pair of rest.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (out.has(key)) continue;
    out.set(key, eq < 0 ? '' : safeDecode(pair.slice(eq + 1)));
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function describeHttpMatch(m: HttpMatch): unknown {
  const pairs = (list: ReadonlyArray<readonly [string, StringMatcher]>) =>
    list.length === 0 ? undefined : Object.fromEntries(list.map(([k, v]) => [k, describeMatcher(v)]));
  return {
    name: m.name,
    uri: m.uri && describeMatcher(m.uri),
    scheme: m.scheme && describeMatcher(m.scheme),
    method: m.method && describeMatcher(m.method),
    authority: m.authority && describeMatcher(m.authority),
    headers: pairs(m.headers),
    withoutHeaders: pairs(m.withoutHeaders),
    queryParams: pairs(m.queryParams),
    port: m.port,
    sourceLabels: m.sourceLabels,
    sourceNamespace: m.sourceNamespace,
    gateways: m.gateways && [...m.gateways],
  };
}
