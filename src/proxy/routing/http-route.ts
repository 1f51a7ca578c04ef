/**
 * HTTPRoute: one entry of a VirtualService's `http` list compiled into a CompiledRoute
 * (what to do: forward, redirect or answer directly, plus rewrite, headers, timeout,
 * retries, faults and mirroring).
 */
import type { CompiledRoute, FaultPolicy, RetryPolicy, RouteDestination } from '../types.js';
import type { Data, FieldPath, FieldReader } from './fields.js';
import { readDuration } from './durations.js';
import {
  type RoutingDestination,
  type WeightTable,
  NO_HEADER_OPERATIONS,
  buildWeightTable,
  readDestination,
  readHeaders,
  readRouteDestinations,
} from './destinations.js';
import { type HttpMatch, readHttpMatch } from './http-match.js';
import { type DerivePort, Re2RegExp } from './rewrite.js';
import { re2Problem } from './string-match.js';

/** CompiledRoute with what celgate keeps beyond the shared contract. */
export interface RoutingRoute extends CompiledRoute {
  readonly destinations?: readonly RoutingDestination[];
  readonly redirect?: CompiledRoute['redirect'] & { readonly derivePort?: DerivePort };
  /** Running sums of the destinations' weights, for pickDestination. */
  readonly weights?: WeightTable;
  /** Additional mirrors after the first (`mirrors[1..]`); the data plane mirrors only `mirror`. */
  readonly extraMirrors?: ReadonlyArray<{ readonly destination: RouteDestination; readonly percentage: number }>;
}

export interface CompiledHttpRoute {
  /** Empty: the route matches every request (of the VirtualService's gateways). */
  readonly matches: readonly HttpMatch[];
  readonly route: RoutingRoute;
}

/**
 * Istio's retry policy when a route sets none: 2 retries on
 * connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes with 503 as
 * the retriable status code (what istiod programs into every sidecar route).
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 2,
  retryOn: new Set(['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']),
  retriableStatusCodes: new Set([503]),
});

/** Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies (Istio passes retryOn through). */
const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
];

const ROUTE_FIELDS = [
  'name', 'match', 'route', 'redirect', 'directResponse', 'delegate', 'rewrite', 'timeout', 'retries', 'fault',
  'mirror', 'mirrors', 'mirrorPercent', 'mirrorPercentage', 'mirror_percent', 'corsPolicy', 'headers',
];

export function readHttpRoute(
  reader: FieldReader,
  value: unknown,
  path: FieldPath,
  index: number,
): CompiledHttpRoute | undefined {
  const before = reader.issueCount;
  const namespace = reader.namespace;
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ROUTE_FIELDS);
  const name = reader.string(data.name, [...path, 'name']);

  const matchList = reader.array(data.match, [...path, 'match']) ?? [];
  const matches: HttpMatch[] = [];
  matchList.forEach((m, i) => {
    const compiled = readHttpMatch(reader, m, [...path, 'match', i], namespace);
    if (compiled) matches.push(compiled);
  });

  const actions = (['route', 'redirect', 'directResponse', 'delegate'] as const).filter((k) => data[k] !== undefined && data[k] !== null);
  if (actions.length === 0) reader.report(path, 'an http route needs one of route, redirect or directResponse');
  else if (actions.length > 1) reader.report([...path, actions[1]!], `set only one of route, redirect, directResponse or delegate (found ${actions.join(' and ')})`);
  if (data.delegate !== undefined) reader.report([...path, 'delegate'], 'delegate VirtualServices are not supported yet by celgate');

  let destinations: RoutingDestination[] | undefined;
  const routeList = reader.array(data.route, [...path, 'route']);
  if (routeList) destinations = readRouteDestinations(reader, routeList, [...path, 'route'], namespace);
  const redirect = readRedirect(reader, data.redirect, [...path, 'redirect']);
  const directResponse = readDirectResponse(reader, data.directResponse, [...path, 'directResponse']);
  const rewrite = readRewrite(reader, data.rewrite, [...path, 'rewrite']);
  if (rewrite && data.redirect !== undefined) reader.report([...path, 'rewrite'], 'rewrite cannot be used with redirect');

  const headers = readHeaders(reader, data.headers, [...path, 'headers']);
  const timeoutMs = data.timeout === undefined ? undefined : readDuration(reader, data.timeout, [...path, 'timeout'], 0);
  const retries = readRetries(reader, data.retries, [...path, 'retries']);
  const fault = readFault(reader, data.fault, [...path, 'fault']);
  const mirrors = readMirrors(reader, data, path, namespace);
  const corsPolicy = data.corsPolicy === undefined ? undefined : toPlain(reader.object(data.corsPolicy, [...path, 'corsPolicy']));

  if (reader.issueCount > before) return undefined;
  const vs = reader.ref;
  const route: RoutingRoute = {
    name: `${vs}/${name ?? index}`,
    virtualService: vs,
    ...(destinations ? { destinations, weights: buildWeightTable(destinations) } : {}),
    ...(redirect ? { redirect } : {}),
    ...(directResponse ? { directResponse } : {}),
    ...(rewrite ? { rewrite } : {}),
    requestHeaders: headers.request ?? NO_HEADER_OPERATIONS,
    responseHeaders: headers.response ?? NO_HEADER_OPERATIONS,
    ...(timeoutMs ? { timeoutMs } : {}),
    retries: retries ?? DEFAULT_RETRY_POLICY,
    ...(fault ? { fault } : {}),
    ...(mirrors[0] ? { mirror: mirrors[0] } : {}),
    ...(mirrors.length > 1 ? { extraMirrors: mirrors.slice(1) } : {}),
    ...(corsPolicy !== undefined ? { corsPolicy } : {}),
  };
  return { matches, route };
}

function readRedirect(reader: FieldReader, value: unknown, path: FieldPath): RoutingRoute['redirect'] | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['uri', 'authority', 'port', 'derivePort', 'scheme', 'redirectCode']);
  const uri = reader.string(data.uri, [...path, 'uri']);
  const authority = reader.string(data.authority, [...path, 'authority']);
  const port = reader.integer(data.port, [...path, 'port'], 1, 65535);
  const derivePort = reader.enumValue(data.derivePort, [...path, 'derivePort'], ['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'] as const);
  const scheme = reader.string(data.scheme, [...path, 'scheme']);
  // Istio: "The default response code is MOVED_PERMANENTLY (301)."
  const status = reader.integer(data.redirectCode, [...path, 'redirectCode'], 300, 399) ?? 301;
  if (port !== undefined && derivePort !== undefined) reader.report([...path, 'derivePort'], 'set only one of port or derivePort');
  return {
    ...(uri !== undefined ? { uri } : {}),
    ...(authority !== undefined ? { authority } : {}),
    ...(scheme !== undefined ? { scheme } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(derivePort ? { derivePort } : {}),
    status,
  };
}

function readDirectResponse(reader: FieldReader, value: unknown, path: FieldPath): CompiledRoute['directResponse'] | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['status', 'body']);
  const status = reader.integer(data.status, [...path, 'status'], 200, 599);
  if (data.status === undefined) reader.report([...path, 'status'], 'status is required');
  let body: string | undefined;
  const bodyData = reader.object(data.body, [...path, 'body']);
  if (bodyData) {
    reader.knownFields(bodyData, [...path, 'body'], ['string', 'bytes']);
    if (bodyData.string !== undefined && bodyData.bytes !== undefined) reader.report([...path, 'body'], 'set only one of string or bytes');
    body = reader.string(bodyData.string, [...path, 'body', 'string']);
    const bytes = reader.string(bodyData.bytes, [...path, 'body', 'bytes']);
    if (bytes !== undefined) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(bytes)) reader.report([...path, 'body', 'bytes'], 'must be base64');
      else body = Buffer.from(bytes, 'base64').toString('latin1');
    }
  }
  if (status === undefined) return undefined;
  return { status, ...(body !== undefined ? { body } : {}) };
}

function readRewrite(reader: FieldReader, value: unknown, path: FieldPath): CompiledRoute['rewrite'] | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['uri', 'authority', 'uriRegexRewrite']);
  const uri = reader.string(data.uri, [...path, 'uri']);
  const authority = reader.string(data.authority, [...path, 'authority']);
  let uriRegex: { match: RegExp; rewrite: string } | undefined;
  const regexData = reader.object(data.uriRegexRewrite, [...path, 'uriRegexRewrite']);
  if (regexData) {
    const p = [...path, 'uriRegexRewrite'];
    reader.knownFields(regexData, p, ['match', 'rewrite']);
    const match = reader.string(regexData.match, [...p, 'match']);
    const rewrite = reader.string(regexData.rewrite, [...p, 'rewrite']);
    if (match === undefined) reader.report([...p, 'match'], 'match is required');
    if (rewrite === undefined) reader.report([...p, 'rewrite'], 'rewrite is required');
    const problem = match === undefined ? undefined : re2Problem(match);
    if (problem) reader.report([...p, 'match'], `invalid RE2 regular expression ${JSON.stringify(match)}: ${problem}`);
    else if (match !== undefined && rewrite !== undefined) uriRegex = { match: new Re2RegExp(match), rewrite };
    if (uri !== undefined) reader.report(p, 'set only one of uri or uriRegexRewrite');
  }
  return {
    ...(uri !== undefined ? { uri } : {}),
    ...(uriRegex ? { uriRegex } : {}),
    ...(authority !== undefined ? { authority } : {}),
  };
}

function readRetries(reader: FieldReader, value: unknown, path: FieldPath): RetryPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['attempts', 'perTryTimeout', 'retryOn', 'retryRemoteLocalities', 'retryIgnorePreviousHosts', 'backoff']);
  // Istio: "MUST be >= 0. If 0, retries will be disabled."
  const attempts = reader.integer(data.attempts, [...path, 'attempts'], 0, 2 ** 31 - 1) ?? 0;
  const perTryTimeoutMs = data.perTryTimeout === undefined ? undefined : readDuration(reader, data.perTryTimeout, [...path, 'perTryTimeout']);
  const retryRemoteLocalities = reader.boolean(data.retryRemoteLocalities, [...path, 'retryRemoteLocalities']);
  const text = reader.string(data.retryOn, [...path, 'retryOn']);
  let retryOn = DEFAULT_RETRY_POLICY.retryOn;
  let retriableStatusCodes = DEFAULT_RETRY_POLICY.retriableStatusCodes;
  if (text !== undefined && text.trim() !== '') {
    const policies = new Set<string>();
    const codes = new Set<number>();
    for (const raw of text.split(',')) {
      const item = raw.trim();
      if (item === '') continue;
      if (/^\d+$/.test(item)) {
        const code = Number(item);
        if (code < 100 || code > 599) reader.report([...path, 'retryOn'], `retriable status code ${item} must be 100..599`);
        codes.add(code);
      } else if (RETRY_ON.includes(item)) policies.add(item);
      else reader.report([...path, 'retryOn'], `unknown retry policy '${item}'; expected status codes or ${RETRY_ON.join(', ')}`);
    }
    // Istio adds retriable-status-codes when retryOn lists numbers.
    if (codes.size > 0) policies.add('retriable-status-codes');
    retryOn = policies;
    retriableStatusCodes = codes;
  }
  return {
    attempts,
    ...(perTryTimeoutMs !== undefined ? { perTryTimeoutMs } : {}),
    retryOn,
    retriableStatusCodes,
    ...(retryRemoteLocalities !== undefined ? { retryRemoteLocalities } : {}),
  };
}

/** Percent {value}, or the deprecated integer `percent`; absent means 100 ("all requests"). */
function readPercentage(reader: FieldReader, data: Data, path: FieldPath, field: string, deprecated: string): number {
  const pct = reader.object(data[field], [...path, field]);
  if (pct) {
    reader.knownFields(pct, [...path, field], ['value']);
    return reader.number(pct.value, [...path, field, 'value'], 0, 100) ?? 0;
  }
  return reader.integer(data[deprecated], [...path, deprecated], 0, 100) ?? 100;
}

function readFault(reader: FieldReader, value: unknown, path: FieldPath): FaultPolicy | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['delay', 'abort']);
  let delay: FaultPolicy['delay'];
  let abort: FaultPolicy['abort'];
  const d = reader.object(data.delay, [...path, 'delay']);
  if (d) {
    const p = [...path, 'delay'];
    reader.knownFields(d, p, ['fixedDelay', 'percentage', 'percent', 'exponentialDelay']);
    if (d.exponentialDelay !== undefined) reader.report([...p, 'exponentialDelay'], 'exponentialDelay is not supported');
    const fixedDelayMs = readDuration(reader, d.fixedDelay, [...p, 'fixedDelay']);
    if (d.fixedDelay === undefined) reader.report([...p, 'fixedDelay'], 'fixedDelay is required');
    const percentage = readPercentage(reader, d, p, 'percentage', 'percent');
    if (fixedDelayMs !== undefined) delay = { fixedDelayMs, percentage };
  }
  const a = reader.object(data.abort, [...path, 'abort']);
  if (a) {
    const p = [...path, 'abort'];
    reader.knownFields(a, p, ['httpStatus', 'grpcStatus', 'http2Error', 'percentage', 'percent']);
    if (a.grpcStatus !== undefined || a.http2Error !== undefined) reader.report(p, 'only httpStatus aborts are supported yet');
    const httpStatus = reader.integer(a.httpStatus, [...p, 'httpStatus'], 200, 599);
    if (a.httpStatus === undefined && a.grpcStatus === undefined && a.http2Error === undefined) reader.report([...p, 'httpStatus'], 'httpStatus is required');
    const percentage = readPercentage(reader, a, p, 'percentage', 'percent');
    if (httpStatus !== undefined) abort = { httpStatus, percentage };
  }
  if (!d && !a) {
    reader.report(path, 'a fault needs delay or abort');
    return undefined;
  }
  return { ...(delay ? { delay } : {}), ...(abort ? { abort } : {}) };
}

/** `mirror` + `mirrorPercentage` (absent: 100%), or `mirrors[]` ({destination, percentage}). */
function readMirrors(
  reader: FieldReader,
  data: Data,
  path: FieldPath,
  namespace: string,
): Array<{ destination: RouteDestination; percentage: number }> {
  const out: Array<{ destination: RouteDestination; percentage: number }> = [];
  if (data.mirror !== undefined) {
    const destination = readDestination(reader, data.mirror, [...path, 'mirror'], namespace);
    const percentage = readPercentage(reader, data, path, 'mirrorPercentage', 'mirrorPercent');
    if (destination) out.push({ destination, percentage });
  }
  const list = reader.array(data.mirrors, [...path, 'mirrors']);
  if (list && data.mirror !== undefined) reader.report([...path, 'mirrors'], 'set only one of mirror or mirrors');
  list?.forEach((item, i) => {
    const p = [...path, 'mirrors', i];
    const m = reader.object(item, p);
    if (!m) return;
    reader.knownFields(m, p, ['destination', 'percentage']);
    const destination = readDestination(reader, m.destination, [...p, 'destination'], namespace);
    const pct = reader.object(m.percentage, [...p, 'percentage']);
    const percentage = pct ? (reader.number(pct.value, [...p, 'percentage', 'value'], 0, 100) ?? 0) : 100;
    if (destination) out.push({ destination, percentage });
  });
  return out;
}

/** Resource data as plain JSON (bigints become numbers). */
export function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  return value;
}
