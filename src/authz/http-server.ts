/**
 * Envoy ext_authz in `http_service` mode: Envoy repeats the original request (method, path
 * under an optional prefix, Host and the allowed headers, optionally the body) to this
 * server; 200 allows and passes our headers upstream, anything else is sent to the client
 * as the denial.
 */
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AccessPolicies } from '../engine/access/index.js';
import type { AccessRequest, Destination, Peer } from '../engine/access/types.js';
import type { DecisionLogOptions } from '../telemetry/decision-log.js';
import type { AuthzMetrics } from '../telemetry/authz-metrics.js';
import { deciderFor, denialStatus, newDecisionId } from './decider.js';
import { validHeaderNames, validHeaders } from './headers.js';
import { namespaceOfPrincipal, parseForwardedClientCert, peerIdentity } from './peer.js';

export const DECISION_ID_HEADER = 'x-celgate-decision-id';
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface AuthzServerCommonOptions {
  readonly policies: AccessPolicies;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Allow when evaluation fails; default false (deny 403). */
  readonly failOpen?: boolean;
  readonly decisionTimeoutMs?: number;
  /** Decision log options, or false for none; default: JSON lines on standard output. */
  readonly decisionLog?: DecisionLogOptions | false;
  /**
   * The workload this server authorizes for (namespace, labels, service), used when the
   * check itself does not say: an ext_authz server usually fronts one workload or gateway,
   * and Istio policies select workloads by namespace and labels.
   */
  readonly destination?: Destination;
}

export interface AuthzHttpServerOptions extends AuthzServerCommonOptions {
  /** Envoy's `http_service.path_prefix`: stripped before the path is decided on. Default none. */
  readonly pathPrefix?: string;
  /**
   * HTTPS (e.g. `createTlsContextSource(...).options`); with `requestCert` and a `ca` the
   * caller's SPIFFE URI SAN becomes `source.principal`.
   */
  readonly tls?: HttpsServerOptions;
  /** Starts certificate reloading on the listening server; returns a stop function. */
  readonly watchTls?: (server: TlsServer) => () => void;
  /** Take `source.principal` (URI=) and `destination.principal` (By=) from x-forwarded-client-cert when there is no verified peer certificate. */
  readonly trustForwardedClientCert?: boolean;
  /** Largest request body accepted, in bytes (Envoy's `max_request_bytes`). Default 1 MiB. */
  readonly bodyLimit?: number;
  /** Time allowed to receive a whole request. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /**
   * Where Prometheus metrics are served. Only honoured when it lies outside `pathPrefix`:
   * otherwise a client request for that path would be answered 200, which Envoy reads as
   * "allow". Default `/metrics`.
   */
  readonly metricsPath?: string | false;
}

export interface AuthzServer {
  readonly host: string;
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  readonly metrics: AuthzMetrics;
  /** Whether `/metrics` is served on this listener (see `metricsPath`). */
  readonly metricsServed: boolean;
  setPolicies(policies: AccessPolicies): void;
  close(): Promise<void>;
}

export async function startAuthzHttpServer(options: AuthzHttpServerOptions): Promise<AuthzServer> {
  const { decider, metrics, decisionLog } = deciderFor('http', options);
  const prefix = normalisePrefix(options.pathPrefix ?? '');
  const trustXfcc = options.trustForwardedClientCert ?? false;
  const secure = options.tls !== undefined;

  const app = Fastify({
    logger: false,
    ...(secure ? { https: options.tls } : {}),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    connectionTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    exposeHeadRoutes: false,
    return503OnClosing: false,
    forceCloseConnections: true,
    // Paths are decided on exactly as Envoy sent them.
    routerOptions: { ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 8192 },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // Every body is kept as bytes whatever its content type: Envoy forwards it verbatim.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    // Bad input (oversized body, timeout, malformed request) is a clear 4xx, never a 5xx:
    // Envoy shows the client whatever we answer.
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 403;
    void reply
      .code(status)
      .header(DECISION_ID_HEADER, decisionIdOf(request))
      .header('content-type', 'application/json')
      .send(JSON.stringify({ error: error.message, code: error.code ?? 'CELGATE_AUTHZ_ERROR' }));
  });

  const metricsPath = options.metricsPath === undefined ? '/metrics' : options.metricsPath;
  const metricsServed = metricsPath !== false && prefix !== '' && !isUnderPrefix(metricsPath, prefix);
  if (metricsServed) {
    app.get(metricsPath, async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  }

  // The check route answers on the raw response (one writeHead + end, a single socket write):
  // fastify's reply pipeline costs more than the decision itself on this hot path.
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const id = decisionIdOf(request);
    const url = request.raw.url ?? '/';
    if (prefix !== '' && !isUnderPrefix(url, prefix)) {
      answer(reply, 403, { [DECISION_ID_HEADER]: id, 'content-type': 'text/plain' }, `path ${JSON.stringify(url)} is outside the ext_authz prefix ${prefix}\n`);
      return;
    }
    const access = accessRequestFromHttp(request, url.slice(prefix.length) || '/', id, trustXfcc, secure, options.destination);
    const decision = await decider.decide(access, id, 'http');
    const headers: Record<string, string> = { [DECISION_ID_HEADER]: id };
    for (const [name, value] of validHeaders(decision.headers)) headers[name] = value;
    if (decision.allowed) {
      const toRemove = validHeaderNames(decision.headersToRemove);
      if (toRemove.length > 0) headers['x-envoy-auth-headers-to-remove'] = toRemove.join(',');
      answer(reply, 200, headers, '');
      return;
    }
    if (decision.body !== undefined) {
      answer(reply, denialStatus(decision.status), headers, decision.body);
      return;
    }
    headers['content-type'] = 'text/plain';
    answer(reply, denialStatus(decision.status), headers, 'access denied\n');
  };
  app.all('/*', handler);
  app.all('/', handler);

  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 0 });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : 0;
  const stopWatching = secure && options.watchTls ? options.watchTls(app.server as unknown as TlsServer) : undefined;

  return {
    host,
    port,
    address: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    metrics,
    metricsServed,
    setPolicies: (policies) => decider.setPolicies(policies),
    async close() {
      stopWatching?.();
      await app.close();
      await decisionLog?.flush();
    },
  };
}

function answer(reply: FastifyReply, status: number, headers: Record<string, string>, body: string): void {
  reply.hijack();
  headers['content-length'] = String(Buffer.byteLength(body));
  reply.raw.writeHead(status, headers);
  reply.raw.end(body);
}

function decisionIdOf(request: FastifyRequest): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && given !== '' && given.length <= 256 ? given : newDecisionId();
}

function normalisePrefix(prefix: string): string {
  if (prefix === '' || prefix === '/') return '';
  const withSlash = prefix.startsWith('/') ? prefix : `/${prefix}`;
  return withSlash.endsWith('/') ? withSlash.slice(0, -1) : withSlash;
}

function isUnderPrefix(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false;
  const next = url.charCodeAt(prefix.length);
  // '/check' covers '/check', '/check/x' and '/check?q', not '/checkout'.
  return Number.isNaN(next) || next === 47 /* / */ || next === 63; /* ? */
}

/** The original request as Envoy forwarded it, in the engine's attribute vocabulary. */
function accessRequestFromHttp(
  request: FastifyRequest,
  path: string,
  id: string,
  trustXfcc: boolean,
  secure: boolean,
  workload: Destination | undefined,
): AccessRequest {
  const headers = copyFlat(request.headers);
  const socket = request.raw.socket;
  const identity = secure ? peerIdentity(socket as TLSSocket) : { mtls: false as const, principal: undefined };
  let sourcePrincipal = identity.principal;
  let destinationPrincipal: string | undefined;
  // A trusted x-forwarded-client-cert with the client's URI means the proxy in front of us
  // verified that client's certificate: the original connection was mutual TLS.
  let forwardedMtls = false;
  if (!identity.mtls && trustXfcc) {
    const forwarded = parseForwardedClientCert(headers['x-forwarded-client-cert']);
    sourcePrincipal = forwarded?.uri;
    destinationPrincipal = forwarded?.by;
    forwardedMtls = sourcePrincipal !== undefined;
  }
  const forwardedFor = headers['x-forwarded-for'];
  const source: Peer = forwardedFor
    ? { address: lastForwardedAddress(forwardedFor), principal: sourcePrincipal }
    : { address: plainAddress(socket.remoteAddress), port: socket.remotePort, principal: sourcePrincipal };
  const destination: Destination | undefined = destinationPrincipal
    ? { ...workload, principal: destinationPrincipal, namespace: namespaceOfPrincipal(destinationPrincipal) ?? workload?.namespace }
    : workload;
  const body = request.body;
  return {
    source,
    destination,
    connection: identity.mtls
      ? { mtls: true, uri_san_peer_certificate: identity.principal, requested_server_name: (socket as TLSSocket).servername || undefined }
      : forwardedMtls
        ? { mtls: true, uri_san_peer_certificate: sourcePrincipal }
        : { mtls: false },
    request: {
      id,
      method: request.raw.method ?? 'GET',
      path,
      host: headers['host'] ?? '',
      scheme: headers['x-forwarded-proto'] ?? 'http',
      protocol: `HTTP/${request.raw.httpVersion}`,
      headers,
      body: Buffer.isBuffer(body) && body.length > 0 ? body.toString('utf8') : undefined,
    },
  };
}

/** Request headers as single strings (Node keeps set-cookie as an array). */
function copyFlat(raw: FastifyRequest['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
  }
  return headers;
}

/** The right-most x-forwarded-for entry: the one appended by the proxy in front of us, not by the client. */
function lastForwardedAddress(header: string): string {
  const comma = header.lastIndexOf(',');
  return plainAddress(header.slice(comma + 1).trim()) ?? '';
}

function plainAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') ? address.slice(7) : address;
}
