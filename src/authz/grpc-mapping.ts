/**
 * Envoy's CheckRequest (as decoded by proto-loader with keepCase, longs as strings) into an
 * AccessRequest, and a decision back into a CheckResponse.
 */
import type { AccessDecision, AccessRequest, Destination, Peer } from '../engine/access/types.js';
import { decidingRule } from '../telemetry/decision-log.js';
import { denialStatus } from './decider.js';
import { validHeaderNames, validHeaders } from './headers.js';
import { namespaceOfPrincipal } from './peer.js';

/** google.rpc.Code values used in CheckResponse.status. */
export const RPC_OK = 0;
export const RPC_INVALID_ARGUMENT = 3;
export const RPC_PERMISSION_DENIED = 7;
export const RPC_UNAUTHENTICATED = 16;

interface WirePeer {
  address?: { socket_address?: { address?: string; port_value?: number } };
  labels?: Record<string, string>;
  principal?: string;
  certificate?: string;
}

interface WireHttpRequest {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  header_map?: { headers?: Array<{ key?: string; value?: string; raw_value?: Buffer }> };
  path?: string;
  host?: string;
  scheme?: string;
  protocol?: string;
  body?: string;
  raw_body?: Buffer;
}

export interface WireCheckRequest {
  attributes?: {
    source?: WirePeer;
    destination?: WirePeer;
    request?: { time?: { seconds?: string | number; nanos?: number }; http?: WireHttpRequest };
    context_extensions?: Record<string, string>;
    tls_session?: { sni?: string };
  };
}

export class CheckRequestError extends Error {}

/** The request's id (Envoy's `request.http.id`, the x-request-id) when it has one. */
export function requestIdOf(check: WireCheckRequest): string | undefined {
  const http = check.attributes?.request?.http;
  if (!http) return undefined;
  const id = http.id || http.headers?.['x-request-id'] || (http.header_map ? headersOf(http)['x-request-id'] : undefined);
  return id && id.length <= 256 ? id : undefined;
}

/** `workload` fills destination facts Envoy does not send (namespace, labels, service). */
export function accessRequestFromCheck(check: WireCheckRequest, id: string, workload?: Destination): AccessRequest {
  const attributes = check.attributes;
  const http = attributes?.request?.http;
  if (!http) throw new CheckRequestError('CheckRequest.attributes.request.http is missing');
  if (!http.method) throw new CheckRequestError('CheckRequest.attributes.request.http.method is empty');
  const headers = headersOf(http);
  const source = peerOf(attributes.source);
  const destination = destinationOf(attributes.destination, workload);
  const principal = attributes.source?.principal || undefined;
  const body = http.body ? http.body : http.raw_body && http.raw_body.length > 0 ? Buffer.from(http.raw_body).toString('utf8') : undefined;
  return {
    source,
    destination,
    connection: {
      mtls: Boolean(principal || attributes.source?.certificate),
      uri_san_peer_certificate: principal,
      requested_server_name: attributes.tls_session?.sni || undefined,
    },
    context: attributes.context_extensions,
    request: {
      id,
      time: timeOf(attributes.request?.time),
      method: http.method,
      // Envoy: "the request target as it appears in the first line ... includes the query-string".
      path: http.path || '/',
      host: http.host ?? headers[':authority'] ?? headers['host'] ?? '',
      scheme: http.scheme || undefined,
      protocol: http.protocol || undefined,
      headers,
      body,
    },
  };
}

function headersOf(http: WireHttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  if (http.headers) for (const name in http.headers) out[name.toLowerCase()] = http.headers[name]!;
  // Envoy fills header_map instead of headers when `encode_raw_headers` is set.
  for (const header of http.header_map?.headers ?? []) {
    if (!header.key) continue;
    const value = header.value || (header.raw_value ? Buffer.from(header.raw_value).toString('utf8') : '');
    const name = header.key.toLowerCase();
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  }
  return out;
}

function peerOf(peer: WirePeer | undefined): Peer {
  const socket = peer?.address?.socket_address;
  return {
    address: socket?.address || undefined,
    port: socket?.port_value || undefined,
    principal: peer?.principal || undefined,
    labels: peer?.labels && Object.keys(peer.labels).length > 0 ? peer.labels : undefined,
  };
}

function destinationOf(wire: WirePeer | undefined, workload: Destination | undefined): Destination | undefined {
  if (!wire) return workload;
  const peer = peerOf(wire);
  return {
    ...workload,
    address: peer.address ?? workload?.address,
    port: peer.port ?? workload?.port,
    principal: peer.principal ?? workload?.principal,
    labels: peer.labels ?? workload?.labels,
    namespace: namespaceOfPrincipal(peer.principal) ?? workload?.namespace,
  };
}

function timeOf(time: { seconds?: string | number; nanos?: number } | undefined): string | undefined {
  if (!time || time.seconds === undefined) return undefined;
  const millis = Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
  return Number.isFinite(millis) ? new Date(millis).toISOString() : undefined;
}

/** Headers in Envoy's form; `append: false` overwrites any value the client sent. */
function headerOptions(headers: Readonly<Record<string, string>>): object[] {
  return validHeaders(headers).map(([key, value]) => ({ header: { key, value }, append: { value: false } }));
}

function metadata(decision: AccessDecision): object {
  const rule = decidingRule(decision);
  return {
    fields: {
      decision_id: { stringValue: decision.id },
      policy: { stringValue: rule?.policy ?? '' },
    },
  };
}

export function checkResponseFor(decision: AccessDecision, decisionIdHeader: string): object {
  if (decision.allowed) {
    return {
      status: { code: RPC_OK },
      ok_response: { headers: headerOptions(decision.headers), headers_to_remove: validHeaderNames(decision.headersToRemove) },
      dynamic_metadata: metadata(decision),
    };
  }
  const status = denialStatus(decision.status);
  return {
    status: { code: status === 401 ? RPC_UNAUTHENTICATED : RPC_PERMISSION_DENIED, message: decision.reason },
    denied_response: {
      status: { code: status },
      headers: headerOptions({ ...decision.headers, [decisionIdHeader]: decision.id }),
      body: decision.body ?? 'access denied\n',
    },
    dynamic_metadata: metadata(decision),
  };
}

/** The answer to a CheckRequest that cannot be decided on: 400 to the client, INVALID_ARGUMENT to Envoy. */
export function invalidCheckResponse(message: string, id: string, decisionIdHeader: string): object {
  return {
    status: { code: RPC_INVALID_ARGUMENT, message },
    denied_response: {
      status: { code: 400 },
      headers: headerOptions({ [decisionIdHeader]: id, 'content-type': 'text/plain' }),
      body: `${message}\n`,
    },
    dynamic_metadata: { fields: { decision_id: { stringValue: id }, policy: { stringValue: '' } } },
  };
}
