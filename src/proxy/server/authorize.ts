/**
 * Authorization of inbound requests: in-process (the access engine, through AuthzDecider) or a
 * remote Envoy-style ext_authz server over HTTP or gRPC. Every mode answers an AccessDecision,
 * so the listener treats them alike: deny ⇒ the decision's status, headers and body; allow ⇒
 * add its headers, remove headersToRemove, and take its route hint.
 */
import type * as grpc from '@grpc/grpc-js';
import { Pool } from 'undici';
import { AuthzDecider, failureDecision } from '../../authz/decider.js';
import type { AccessPolicies } from '../../engine/access/index.js';
import type { AccessDecision, AccessRequest } from '../../engine/access/types.js';
import type { AuthorizationConfig, WorkloadIdentity } from '../types.js';

type RemoteAuthorizationConfig = Extract<AuthorizationConfig, { mode: 'http' | 'grpc' }>;

/** What a listener knows about one request when it asks for a decision. */
export interface AuthorizationInput {
  readonly id: string;
  readonly method: string;
  /** Normalised path with the query (the engine's normalisation is idempotent). */
  readonly path: string;
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  readonly protocol: string;
  /** Lower-case names, repeated values joined. */
  readonly headers: Readonly<Record<string, string>>;
  readonly source: { readonly address: string; readonly port?: number; readonly principal?: string };
  readonly destination: { readonly address: string; readonly port: number };
  readonly mtls: boolean;
  readonly sni?: string;
  /** A gateway listener's request: PeerAuthentication does not apply. */
  readonly gateway?: boolean;
}

export interface Authorizer {
  decide(input: AuthorizationInput): Promise<AccessDecision>;
  /** In-process only: swaps the policy set on reload. */
  setPolicies(policies: AccessPolicies): void;
  close(): Promise<void>;
}

export const DEFAULT_DECISION_TIMEOUT_MS = 2000;

/** The engine's request for one proxied request: the destination is this workload. */
export function accessRequestFor(input: AuthorizationInput, workload: WorkloadIdentity): AccessRequest {
  return {
    source: { address: input.source.address, ...(input.source.port !== undefined ? { port: input.source.port } : {}), ...(input.source.principal ? { principal: input.source.principal } : {}) },
    destination: { address: input.destination.address, port: input.destination.port, principal: workload.principal, namespace: workload.namespace, labels: workload.labels, ...(input.gateway ? { gateway: true } : {}) },
    connection: input.mtls ? { mtls: true, ...(input.source.principal ? { uri_san_peer_certificate: input.source.principal } : {}), ...(input.sni ? { requested_server_name: input.sni } : {}) } : { mtls: false },
    request: { id: input.id, method: input.method, path: input.path, host: input.authority, scheme: input.scheme, protocol: input.protocol, headers: input.headers },
  };
}

export function createAuthorizer(config: AuthorizationConfig, workload: WorkloadIdentity, policies: AccessPolicies, options: { decisionTimeoutMs?: number } = {}): Authorizer {
  switch (config.mode) {
    case 'none':
      return {
        decide: async (input) => ({ id: input.id, allowed: true, status: 200, reason: 'authorization is off', headers: {}, headersToRemove: [], route: null, matched: [] }),
        setPolicies: () => {},
        close: async () => {},
      };
    case 'in-process': {
      const decider = new AuthzDecider({ policies, failOpen: config.failOpen, decisionTimeoutMs: options.decisionTimeoutMs ?? DEFAULT_DECISION_TIMEOUT_MS });
      return {
        decide: (input) => decider.decide(accessRequestFor(input, workload), input.id, 'http'),
        setPolicies: (next) => decider.setPolicies(next),
        close: async () => {},
      };
    }
    case 'http':
      return coalescing(httpAuthorizer(config, workload));
    case 'grpc':
      return coalescing(grpcAuthorizer(config, workload));
  }
}

/** Headers that vary per request without changing a decision: left out of the coalescing key. */
const PER_REQUEST_HEADERS = new Set(['x-request-id', 'traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'content-length', 'x-envoy-attempt-count']);

/**
 * Identical checks in flight at once (same method, path, authority, principal, source, headers
 * apart from per-request ids) share one remote call; each caller gets the decision under its own id.
 */
function coalescing(inner: Authorizer): Authorizer {
  const inFlight = new Map<string, Promise<AccessDecision>>();
  return {
    async decide(input) {
      const key = coalescingKey(input);
      let pending = inFlight.get(key);
      if (!pending) {
        pending = inner.decide(input).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      const decision = await pending;
      return decision.id === input.id ? decision : { ...decision, id: input.id };
    },
    setPolicies: () => {},
    close: () => inner.close(),
  };
}

function coalescingKey(input: AuthorizationInput): string {
  const headers: string[] = [];
  for (const name of Object.keys(input.headers).sort()) if (!PER_REQUEST_HEADERS.has(name)) headers.push(name, input.headers[name]!);
  return JSON.stringify([input.method, input.path, input.authority, input.scheme, input.source.principal ?? '', input.source.address, input.mtls, headers]);
}

/** Response headers of an http ext_authz answer that describe the answer itself, not headers to add upstream. */
const HTTP_AUTHZ_OWN_HEADERS = new Set(['content-length', 'content-type', 'date', 'connection', 'keep-alive', 'transfer-encoding', 'server', 'x-envoy-auth-headers-to-remove', 'x-celgate-decision-id']);

/**
 * Envoy's http_service ext_authz: the original method, path (under pathPrefix) and headers go
 * to the server; the caller's identity travels as x-forwarded-client-cert (the server must
 * trust it), the caller's address as x-forwarded-for. 200 allows; anything else is the denial.
 */
function httpAuthorizer(config: RemoteAuthorizationConfig, workload: WorkloadIdentity): Authorizer {
  const url = new URL(config.url);
  const pool = new Pool(url.origin, { connections: 16, pipelining: 1, keepAliveTimeout: 30_000 });
  const prefix = (config.pathPrefix ?? url.pathname).replace(/\/$/, '');
  return {
    async decide(input) {
      const headers: Record<string, string> = { ...input.headers, host: input.authority };
      delete headers['content-length'];
      delete headers['transfer-encoding'];
      delete headers['x-forwarded-client-cert'];
      if (input.source.principal) headers['x-forwarded-client-cert'] = `By=${workload.principal};URI=${input.source.principal}`;
      headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${input.source.address}` : input.source.address;
      headers['x-forwarded-proto'] = input.scheme;
      headers['x-request-id'] = input.id;
      try {
        const response = await pool.request({
          method: input.method as 'GET',
          path: prefix + input.path,
          headers,
          signal: AbortSignal.timeout(config.timeoutMs),
        });
        const body = await response.body.text();
        const responseHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value === undefined || HTTP_AUTHZ_OWN_HEADERS.has(name)) continue;
          responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        if (response.statusCode === 200) {
          const remove = response.headers['x-envoy-auth-headers-to-remove'];
          const headersToRemove = typeof remove === 'string' && remove !== '' ? remove.split(',').map((h) => h.trim().toLowerCase()) : [];
          return { id: input.id, allowed: true, status: 200, reason: 'allowed by the ext_authz server', headers: responseHeaders, headersToRemove, route: null, matched: [] };
        }
        const contentType = response.headers['content-type'];
        if (typeof contentType === 'string') responseHeaders['content-type'] = contentType;
        return { id: input.id, allowed: false, status: response.statusCode, reason: `denied by the ext_authz server (${response.statusCode})`, headers: responseHeaders, headersToRemove: [], body, route: null, matched: [] };
      } catch (error) {
        return failureDecision(input.id, config.failOpen, `ext_authz ${config.url}: ${(error as Error).message}`);
      }
    },
    setPolicies: () => {},
    close: () => pool.close(),
  };
}

type CheckCallback = (error: grpc.ServiceError | null, response: WireCheckResponse) => void;
interface WireCheckResponse {
  status?: { code?: number; message?: string };
  ok_response?: { headers?: Array<{ header?: { key?: string; value?: string } }>; headers_to_remove?: string[] };
  denied_response?: { status?: { code?: number | string }; headers?: Array<{ header?: { key?: string; value?: string } }>; body?: string };
}

/** Envoy's grpc_service ext_authz (envoy.service.auth.v3.Authorization/Check), plaintext or `https://` for TLS. */
type CheckClient = grpc.Client & { Check(request: object, options: grpc.CallOptions, callback: CheckCallback): void };

/**
 * @grpc/grpc-js and the ext_authz protos are loaded only here (~19 MB of a proxy's idle memory),
 * so a proxy deciding in-process or over HTTP never pays for them.
 */
function grpcAuthorizer(config: RemoteAuthorizationConfig, workload: WorkloadIdentity): Authorizer {
  const url = new URL(config.url.includes('://') ? config.url : `grpc://${config.url}`);
  const connecting = (async (): Promise<CheckClient> => {
    const [grpcJs, { authorizationService }] = await Promise.all([import('@grpc/grpc-js'), import('../../authz/grpc-server.js')]);
    const credentials = url.protocol === 'https:' || url.protocol === 'grpcs:' ? grpcJs.credentials.createSsl() : grpcJs.credentials.createInsecure();
    const Client = grpcJs.makeGenericClientConstructor(authorizationService() as grpc.ServiceDefinition, 'Authorization');
    return new Client(url.host, credentials, { 'grpc.keepalive_time_ms': 30_000 }) as unknown as CheckClient;
  })();
  connecting.catch(() => {});
  let client: CheckClient | undefined;
  return {
    async decide(input) {
      if (!client) {
        try {
          client = await connecting;
        } catch (error) {
          return failureDecision(input.id, config.failOpen, `ext_authz ${config.url}: ${(error as Error).message}`);
        }
      }
      const ready = client;
      const request = {
        attributes: {
          source: { address: { socket_address: { address: input.source.address, port_value: input.source.port ?? 0 } }, ...(input.source.principal ? { principal: input.source.principal } : {}) },
          destination: { address: { socket_address: { address: input.destination.address, port_value: input.destination.port } }, principal: workload.principal, labels: workload.labels },
          request: {
            time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
            http: { id: input.id, method: input.method, path: input.path, host: input.authority, scheme: input.scheme, protocol: input.protocol, headers: input.headers },
          },
          ...(input.sni ? { tls_session: { sni: input.sni } } : {}),
        },
      };
      return new Promise<AccessDecision>((resolve) => {
        ready.Check(request, { deadline: Date.now() + config.timeoutMs }, (error, response) => {
          if (error) return resolve(failureDecision(input.id, config.failOpen, `ext_authz ${config.url}: ${error.message}`));
          resolve(decisionFromCheck(input.id, response));
        });
      });
    },
    setPolicies: () => {},
    close: async () => (await connecting.catch(() => undefined))?.close(),
  };
}

function decisionFromCheck(id: string, response: WireCheckResponse): AccessDecision {
  const pairs = (list: Array<{ header?: { key?: string; value?: string } }> | undefined) => {
    const out: Record<string, string> = {};
    for (const entry of list ?? []) if (entry.header?.key) out[entry.header.key.toLowerCase()] = entry.header.value ?? '';
    return out;
  };
  if ((response.status?.code ?? 0) === 0) {
    return { id, allowed: true, status: 200, reason: 'allowed by the ext_authz server', headers: pairs(response.ok_response?.headers), headersToRemove: response.ok_response?.headers_to_remove ?? [], route: null, matched: [] };
  }
  const denied = response.denied_response;
  const status = Number(denied?.status?.code ?? 403) || 403;
  return {
    id,
    allowed: false,
    status,
    reason: response.status?.message || 'denied by the ext_authz server',
    headers: pairs(denied?.headers),
    headersToRemove: [],
    ...(denied?.body !== undefined ? { body: denied.body } : {}),
    route: null,
    matched: [],
  };
}
