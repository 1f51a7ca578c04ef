/**
 * The proxy's listeners:
 * - inbound: mutual TLS (HTTP/2 or HTTP/1.1 by ALPN) and, when PeerAuthentication allows,
 *   plain text on the same port; every request is authorised, then sent to the local application;
 * - outbound: plain HTTP/1.1 for the local application; requests are routed (gateway `mesh`)
 *   to the destination's inbound proxy over mutual TLS;
 * - gateway: an Istio Gateway's port; requests are authorised and routed with the gateway's name.
 * Every listener bounds header size, body size, header and request time, and answers malformed
 * requests with 400 instead of failing.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createH2cServer, createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { denialStatus } from '../../authz/decider.js';
import { InvalidPathError, normalizePath, peerAuthenticationFor, splitPathAndQuery, type AccessPolicies } from '../../engine/access/index.js';
import type { AccessDecision } from '../../engine/access/types.js';
import { peerSpiffeId, type TlsContextSource } from '../../pki/tls.js';
import { traceContext } from '../../telemetry/trace.js';
import type { Gateways } from '../routing/index.js';
import type { IdentityFiles, ListenerConfig, RouteMatch, RouteTable, WorkloadIdentity } from '../types.js';
import type { AuthorizationInput, Authorizer } from './authorize.js';
import { bodyBytesReceived, declaredTooLarge, hasBody, limitedBody, type DownstreamRequest } from './body.js';
import { localReply, relayResponse, sendAttempt, type DownstreamResponse } from './exchange.js';
import { defaultRoute, forwardRoute, serviceHostFor, splitAuthority, type ForwardEnvironment, type ForwardResult, type ProxyRequest, type RoutingState } from './forward.js';
import { appendForwardedFor, endToEndHeaders, flatHeaders, flatView, setForwardedClientCert, type HeaderMap } from './headers.js';
import { isGrpc } from './h2c.js';
import { planGateway, sniCallback, type GatewayPlan } from './gateway.js';
import { createSniffingServer, peerAddress } from './sniff.js';
import { Abort } from './abort.js';

/** One consistent mesh configuration; the proxy swaps the whole object on reload. */
export interface MeshState extends RoutingState {
  readonly routes: RouteTable;
  readonly policies: AccessPolicies;
}

/** One finished request, for the access log and metrics. */
export interface RequestRecord {
  readonly listener: string;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly status: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly requestId: string;
  readonly traceId: string;
  readonly peer?: string;
  readonly bytesReceived: number;
  readonly decision?: AccessDecision;
  readonly forward?: ForwardResult;
  readonly destination?: { readonly host: string; readonly subset: string };
}

export interface ListenerContext {
  readonly workload: WorkloadIdentity;
  readonly limits: { readonly maxRequestBodyBytes: number; readonly requestTimeoutMs: number; readonly headersTimeoutMs: number };
  readonly env: ForwardEnvironment;
  state(): MeshState;
  authorizer(): Authorizer;
  /** The workload certificate (server side, client certificates verified against the mesh CA). */
  readonly serverTls?: TlsContextSource;
  /** The workload's certificate files (gateway servers in ISTIO_MUTUAL mode use them). */
  readonly identity?: IdentityFiles;
  /** The compiled Gateways (gateway listeners read their servers' TLS settings at start). */
  gateways?(): Gateways;
  readonly record?: (record: RequestRecord) => void;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface RunningListener {
  readonly name: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then closes what is left. */
  close(graceMs: number): Promise<void>;
}

/** Largest request header block accepted (bytes); Envoy's default max_request_headers_kb is 60. */
export const MAX_HEADER_BYTES = 60 * 1024;

type Handler = (req: DownstreamRequest, res: DownstreamResponse) => Promise<void>;

export async function startListener(config: ListenerConfig, ctx: ListenerContext): Promise<RunningListener> {
  switch (config.mode) {
    case 'inbound':
      return startInbound(config, ctx);
    case 'outbound':
      return startOutbound(config, ctx);
    case 'gateway':
      return startGateway(config, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

/** Tracks requests in flight and open connections for a graceful close. */
class Drain {
  inFlight = 0;
  readonly sockets = new Set<Socket | TLSSocket>();
  readonly sessions = new Set<Http2Session>();
  #idle: (() => void) | undefined;

  track(handler: Handler): Handler {
    return async (req, res) => {
      this.inFlight++;
      try {
        await handler(req, res);
      } finally {
        this.inFlight--;
        if (this.inFlight === 0) this.#idle?.();
      }
    };
  }

  /** Follows the HTTP/2 sessions of `server` (closed gracefully on close()). */
  watchSessions(server: { on(event: 'session', listener: (session: Http2Session) => void): unknown }): void {
    server.on('session', (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', () => {});
    });
  }

  /** Follows the connections `server` emits as `event` (destroyed after the grace period). */
  watchSockets(server: NetServer, event: 'connection' | 'secureConnection'): void {
    server.on(event, (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  async close(graceMs: number, closeIdle: () => void): Promise<void> {
    for (const session of this.sessions) session.close();
    closeIdle();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const socket of this.sockets) socket.destroy();
    for (const session of this.sessions) session.destroy();
  }
}

function guarded(name: string, ctx: ListenerContext, handler: Handler): Handler {
  return async (req, res) => {
    try {
      await handler(req, res);
    } catch (error) {
      ctx.log('error', `listener ${name}: request failed`, { err: (error as Error).message });
      localReply(res, 500, 'internal proxy error');
    }
  };
}

function configureHttp1(server: HttpServer, ctx: ListenerContext): void {
  server.requestTimeout = ctx.limits.requestTimeoutMs;
  server.headersTimeout = Math.min(ctx.limits.headersTimeoutMs, ctx.limits.requestTimeoutMs || ctx.limits.headersTimeoutMs);
  server.keepAliveTimeout = 60_000;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket));
}

/** A request node's parser refused: answer it (400, 408 or 431) and close, never crash. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

async function listen(server: NetServer | HttpServer, address: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Listens on `front` and tracks its connections, so that close() stops accepting, lets requests
 * in flight finish within the grace period (idle keep-alive connections of `http1` closed first)
 * and then closes what is left.
 */
async function listenDraining(name: string, front: NetServer, http1: HttpServer, drain: Drain, address: string, port: number, beforeClose?: () => void): Promise<RunningListener> {
  drain.watchSockets(front, 'connection');
  const bound = await listen(front, address, port);
  return {
    name,
    port: bound,
    async close(graceMs) {
      beforeClose?.();
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      await drain.close(graceMs, () => http1.closeIdleConnections());
      await closed;
    },
  };
}

async function startPlain(name: string, address: string, port: number, ctx: ListenerContext, handler: Handler): Promise<RunningListener> {
  const drain = new Drain();
  const server = createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, drain.track(guarded(name, ctx, handler)) as (req: IncomingMessage, res: ServerResponse) => void);
  configureHttp1(server, ctx);
  return listenDraining(name, server, server, drain, address, port);
}

/** Outbound: HTTP/1.1, and HTTP/2 with prior knowledge (h2c) on the same port, for the local application. */
async function startOutbound(config: Extract<ListenerConfig, { mode: 'outbound' }>, ctx: ListenerContext): Promise<RunningListener> {
  const drain = new Drain();
  const handler = drain.track(guarded(config.name, ctx, (req, res) => handleOutbound(config, ctx, req, res)));
  const plain = createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler as (req: IncomingMessage, res: ServerResponse) => void);
  configureHttp1(plain, ctx);
  const h2c = createH2cServer({ maxSessionMemory: 10, settings: { maxHeaderListSize: MAX_HEADER_BYTES } }, handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  drain.watchSessions(h2c);
  const front = createSniffingServer({ plain, h2c, firstByteTimeoutMs: ctx.limits.headersTimeoutMs, acceptPlaintext: () => true });
  return listenDraining(config.name, front, plain, drain, config.address, config.port);
}

async function startInbound(config: Extract<ListenerConfig, { mode: 'inbound' }>, ctx: ListenerContext): Promise<RunningListener> {
  const drain = new Drain();
  const application = inboundApplication(config.application);
  const applicationPort = application.port;
  const handler = drain.track(guarded(config.name, ctx, (req, res) => handleInbound(config, application, ctx, req, res)));
  const plain = createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler as (req: IncomingMessage, res: ServerResponse) => void);
  configureHttp1(plain, ctx);
  const h2c = createH2cServer({ maxSessionMemory: 10, settings: { maxHeaderListSize: MAX_HEADER_BYTES } }, handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  drain.watchSessions(h2c);
  let secure: Http2SecureServer | undefined;
  let stopWatching: (() => void) | undefined;
  if (ctx.serverTls) {
    secure = createSecureServer(
      {
        ...ctx.serverTls.options,
        allowHTTP1: true,
        // Ask for the client certificate but decide in the request: PERMISSIVE accepts TLS
        // without one, STRICT answers it 403 (see handleInbound).
        requestCert: true,
        rejectUnauthorized: false,
        maxSessionMemory: 10,
        settings: { maxHeaderListSize: MAX_HEADER_BYTES },
      },
      handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
    );
    drain.watchSessions(secure);
    drain.watchSockets(secure as unknown as NetServer, 'secureConnection');
    secure.on('tlsClientError', () => {});
    // The HTTP/1.1 side of the secure server: the same limits as the plain one.
    secure.on('clientError' as 'session', ((error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket)) as unknown as (session: Http2Session) => void);
    stopWatching = ctx.serverTls.watch(secure);
  } else {
    ctx.log('warn', `listener ${config.name}: the config has no identity; inbound accepts plain text only`);
  }
  const front = createSniffingServer({
    ...(secure ? { tls: secure } : {}),
    plain,
    h2c,
    firstByteTimeoutMs: ctx.limits.headersTimeoutMs,
    // Istio answers plain text on a STRICT port by closing the connection.
    acceptPlaintext: () => peerModeFor(ctx, applicationPort) !== 'STRICT',
    onRejectedPlaintext: (socket) => ctx.log('warn', `listener ${config.name}: plain-text connection from ${socket.remoteAddress} closed (PeerAuthentication STRICT)`),
  });
  return listenDraining(config.name, front, plain, drain, config.address, config.port, stopWatching);
}

async function startGateway(config: Extract<ListenerConfig, { mode: 'gateway' }>, ctx: ListenerContext): Promise<RunningListener> {
  const gateway = ctx.gateways?.().get(config.gateway);
  if (!gateway) ctx.log('warn', `listener ${config.name}: Gateway ${config.gateway} is not among the mesh resources; serving plain HTTP for the routes bound to it`);
  const plan: GatewayPlan = gateway ? planGateway(gateway, config.port, ctx.identity) : { kind: 'plain', port: config.port, httpsRedirect: false };
  const handler = (req: DownstreamRequest, res: DownstreamResponse) => handleGateway(config, ctx, plan, req, res);
  if (plan.kind === 'plain') return startPlain(config.name, config.address, config.port, ctx, handler);
  const drain = new Drain();
  const first = plan.sites[0]!;
  const secure = createSecureServer(
    {
      ...first.source.options,
      allowHTTP1: true,
      requestCert: plan.requestCert,
      rejectUnauthorized: plan.rejectUnauthorized,
      ...(plan.minVersion ? { minVersion: plan.minVersion } : {}),
      ...(plan.maxVersion ? { maxVersion: plan.maxVersion } : {}),
      ...(plan.sites.length > 1 ? { SNICallback: sniCallback(plan.sites) } : {}),
      maxSessionMemory: 10,
      settings: { maxHeaderListSize: MAX_HEADER_BYTES },
    },
    drain.track(guarded(config.name, ctx, handler)) as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  drain.watchSessions(secure);
  drain.watchSockets(secure as unknown as NetServer, 'connection');
  secure.on('tlsClientError', () => {});
  secure.on('clientError' as 'session', ((error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket)) as unknown as (session: Http2Session) => void);
  const stopWatching = plan.sites.length === 1 ? first.source.watch(secure) : undefined;
  let bound: number;
  try {
    bound = await listen(secure as unknown as NetServer, config.address, config.port);
  } catch (error) {
    for (const site of plan.sites) site.source.stop();
    throw error;
  }
  return {
    name: config.name,
    port: bound,
    async close(graceMs) {
      stopWatching?.();
      for (const site of plan.sites) site.source.stop();
      const closed = new Promise<void>((resolve) => secure.close(() => resolve()));
      await drain.close(graceMs, () => {});
      await closed;
    },
  };
}

/** What an inbound listener needs of its application URL, parsed once when the listener starts. */
interface InboundApplication {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
}

function inboundApplication(application: string): InboundApplication {
  const url = new URL(application);
  return { url: application, origin: url.origin, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 };
}

/** The workload's PeerAuthentication mode on `port`, computed once per policy set (it depends on nothing else). */
const peerModes = new WeakMap<AccessPolicies, Map<number, string>>();
function peerModeFor(ctx: ListenerContext, port: number): string {
  const policies = ctx.state().policies;
  if (policies.peerAuthentications.length === 0) return 'PERMISSIVE';
  let modes = peerModes.get(policies);
  if (!modes) peerModes.set(policies, (modes = new Map()));
  let mode = modes.get(port);
  if (mode === undefined) modes.set(port, (mode = peerAuthenticationFor(policies.peerAuthentications, ctx.workload.namespace, ctx.workload.labels, port).mode));
  return mode;
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Connection {
  readonly address: string;
  readonly port: number;
  /** The proxy's own address on this connection (the authorization's destination.address). */
  readonly localAddress: string;
  /** The x-forwarded-client-cert value for this connection's requests (null: none), made on first use. */
  xfcc?: string | null;
  readonly tls: boolean;
  readonly mtls: boolean;
  readonly principal?: string;
  readonly certificateHash?: string;
  readonly sni?: string;
}

const connections = new WeakMap<object, Connection>();

function connectionOf(req: DownstreamRequest): Connection {
  const http2 = (req as Http2ServerRequest).stream?.session?.socket;
  const socket = (http2 ?? req.socket) as TLSSocket;
  const cached = connections.get(socket);
  if (cached) return cached;
  const { address, port } = peerAddress(socket);
  const plainAddress = address.startsWith('::ffff:') ? address.slice(7) : address;
  let connection: Connection;
  if (socket.encrypted) {
    const principal = peerSpiffeId(socket);
    const mtls = socket.authorized === true && socket.getPeerCertificate !== undefined && !!socket.getPeerCertificate()?.raw;
    const raw = mtls ? socket.getPeerCertificate().raw : undefined;
    connection = {
      address: plainAddress,
      port,
      localAddress: socket.localAddress ?? '',
      tls: true,
      mtls,
      ...(principal ? { principal } : {}),
      ...(raw ? { certificateHash: createHash('sha256').update(raw).digest('hex') } : {}),
      ...(typeof socket.servername === 'string' && socket.servername ? { sni: socket.servername } : {}),
    };
  } else {
    connection = { address: plainAddress, port, localAddress: socket.localAddress ?? '', tls: false, mtls: false };
  }
  connections.set(socket, connection);
  return connection;
}

interface Prepared {
  readonly request: ProxyRequest;
  readonly requestId: string;
  readonly traceId: string;
  readonly connection: Connection;
  readonly startedAt: number;
  readonly started: number;
}

/**
 * Reads what every listener needs from a request: the authority, the normalised path (the
 * policy set's pathNormalization: what is authorised is what is routed and forwarded), the
 * end-to-end headers with the forwarded and trace headers set. Answers 400 and returns
 * undefined for a request that cannot be proxied.
 */
function prepare(req: DownstreamRequest, res: DownstreamResponse, ctx: ListenerContext, state: MeshState, edge: boolean): Prepared | undefined {
  const started = performance.now();
  const startedAt = Date.now();
  const http2 = req.httpVersionMajor === 2;
  const method = req.method ?? 'GET';
  if (method === 'CONNECT') {
    localReply(res, 405, 'CONNECT is not supported');
    return undefined;
  }
  const authority = (http2 ? (req.headers[':authority'] as string | undefined) : undefined) ?? req.headers.host;
  if (!authority) {
    localReply(res, 400, 'missing Host header');
    return undefined;
  }
  const target = req.url ?? '/';
  const { path, query } = splitPathAndQuery(target);
  if (!path.startsWith('/')) {
    localReply(res, 400, `invalid request target ${JSON.stringify(target.slice(0, 100))}`);
    return undefined;
  }
  let normalised: string;
  try {
    normalised = normalizePath(path, state.policies.pathNormalization);
  } catch (error) {
    localReply(res, 400, error instanceof InvalidPathError ? error.message : 'invalid path');
    return undefined;
  }
  const connection = connectionOf(req);
  const headers: HeaderMap = endToEndHeaders(req.headers);
  const trace = traceContext(headers);
  headers['x-request-id'] = trace.requestId;
  headers['traceparent'] = trace.traceparent;
  if (trace.tracestate !== undefined) headers['tracestate'] = trace.tracestate;
  else delete headers['tracestate'];
  appendForwardedFor(headers, connection.address);
  const scheme = connection.tls ? 'https' : 'http';
  if (edge || headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = scheme;
  if (http2) {
    // node's requestTimeout covers HTTP/1.1 only; an HTTP/2 stream idle this long is answered 408 (or reset).
    (req as Http2ServerRequest).setTimeout(ctx.limits.requestTimeoutMs, () => {
      if (!res.headersSent) localReply(res, 408, 'request timeout');
      else res.destroy();
    });
  }
  const gone = new Abort();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(new Error('client went away'));
  });
  const request: ProxyRequest = {
    req,
    res,
    method,
    path: query ? `${normalised}?${query}` : normalised,
    authority,
    headers,
    scheme,
    sourceAddress: connection.address,
    http2,
    signal: gone,
  };
  return { request, requestId: trace.requestId, traceId: trace.traceId, connection, startedAt, started };
}

function finish(ctx: ListenerContext, listener: string, prepared: Prepared, status: number, extra: Partial<RequestRecord> = {}): void {
  if (!ctx.record) return;
  const { request } = prepared;
  ctx.record({
    listener,
    method: request.method,
    path: request.path,
    authority: request.authority,
    status,
    startedAt: prepared.startedAt,
    durationMs: performance.now() - prepared.started,
    requestId: prepared.requestId,
    traceId: prepared.traceId,
    bytesReceived: bodyBytesReceived(request.req),
    ...(prepared.connection.principal ? { peer: prepared.connection.principal } : {}),
    ...extra,
  });
}

async function authorize(ctx: ListenerContext, prepared: Prepared, port: number, gateway = false): Promise<AccessDecision> {
  const { request, connection } = prepared;
  const input: AuthorizationInput = {
    id: prepared.requestId,
    method: request.method,
    path: request.path,
    authority: request.authority,
    scheme: request.scheme,
    protocol: request.http2 ? 'HTTP/2' : `HTTP/${request.req.httpVersion}`,
    headers: flatHeaders(request.headers),
    source: { address: connection.address, port: connection.port, ...(connection.principal ? { principal: connection.principal } : {}) },
    destination: { address: connection.localAddress, port },
    mtls: connection.mtls,
    ...(connection.sni ? { sni: connection.sni } : {}),
    ...(gateway ? { gateway } : {}),
  };
  return ctx.authorizer().decide(input);
}

/**
 * x-forwarded-client-cert for the connection's verified peer (see setForwardedClientCert),
 * computed once per connection: it depends on nothing else.
 */
function setPeerCertificateHeader(headers: HeaderMap, ctx: ListenerContext, connection: Connection): void {
  let value = connection.xfcc;
  if (value === undefined) {
    const scratch: HeaderMap = {};
    setForwardedClientCert(scratch, ctx.workload.principal, connection.mtls ? { ...(connection.principal ? { uri: connection.principal } : {}), ...(connection.certificateHash ? { hash: connection.certificateHash } : {}) } : undefined);
    value = connection.xfcc = (scratch['x-forwarded-client-cert'] as string | undefined) ?? null;
  }
  if (value !== null) headers['x-forwarded-client-cert'] = value;
  else if (headers['x-forwarded-client-cert'] !== undefined) delete headers['x-forwarded-client-cert'];
}

/** Deny: the decision's status, headers and body (Envoy's RBAC filter says "RBAC: access denied"). */
function deny(res: DownstreamResponse, decision: AccessDecision): number {
  const status = denialStatus(decision.status);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(decision.headers)) if (/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name) && !/[\r\n\0]/.test(value)) headers[name] = value;
  localReply(res, status, decision.body ?? 'RBAC: access denied', headers);
  return status;
}

/** Allow: the decision's headers go upstream, its headersToRemove do not. */
function applyDecision(headers: HeaderMap, decision: AccessDecision): void {
  for (const [name, value] of Object.entries(decision.headers)) headers[name.toLowerCase()] = value;
  for (const name of decision.headersToRemove) delete headers[name.toLowerCase()];
}

async function handleInbound(config: Extract<ListenerConfig, { mode: 'inbound' }>, application: InboundApplication, ctx: ListenerContext, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const state = ctx.state();
  const prepared = prepare(req, res, ctx, state, false);
  if (!prepared) return;
  const { request, connection } = prepared;
  const port = application.port;
  // A TLS client without a verified certificate on a STRICT port (plain text was closed by the sniffer).
  if (!connection.mtls && peerModeFor(ctx, port) === 'STRICT') {
    localReply(res, 403, 'mutual TLS is required (PeerAuthentication STRICT)');
    finish(ctx, config.name, prepared, 403);
    return;
  }
  setPeerCertificateHeader(request.headers, ctx, connection);
  const decision = await authorize(ctx, prepared, port);
  if (!decision.allowed) {
    finish(ctx, config.name, prepared, deny(res, decision), { decision });
    return;
  }
  applyDecision(request.headers, decision);
  request.headers['host'] = request.authority;

  let body;
  if (hasBody(req)) {
    if (declaredTooLarge(req, ctx.limits.maxRequestBodyBytes)) {
      localReply(res, 413, 'payload too large');
      finish(ctx, config.name, prepared, 413, { decision });
      return;
    }
    body = limitedBody(req, ctx.limits.maxRequestBodyBytes);
  }
  const upstream = { method: request.method, path: request.path, headers: request.headers, body };
  // gRPC needs HTTP/2: the application gets it with prior knowledge; everything else goes over HTTP/1.1.
  const result =
    request.http2 && isGrpc(request.headers) && ctx.env.h2c
      ? await ctx.env.h2c.send(application.origin, undefined, upstream, ctx.limits.requestTimeoutMs, request.signal)
      : await sendAttempt(ctx.env.pools.origin(application.url, 256), upstream, ctx.limits.requestTimeoutMs, request.signal);
  let status: number;
  if (result.kind === 'response') {
    status = result.response.statusCode;
    await relayResponse(res, result.response, undefined).catch(() => {});
  } else if (result.bodyTooLarge) {
    status = 413;
    localReply(res, 413, 'payload too large');
  } else if (result.outcome.kind === 'timeout') {
    status = 504;
    localReply(res, 504, 'upstream request timeout');
  } else {
    status = 503;
    localReply(res, 503, `upstream connect error or disconnect/reset before headers. reset reason: ${result.outcome.kind === 'connect-failure' ? 'connection failure' : 'connection termination'}`);
    ctx.log('warn', `listener ${config.name}: the application ${config.application} failed: ${result.error.message}`);
  }
  finish(ctx, config.name, prepared, request.signal.aborted && status < 400 ? 0 : status, { decision });
}

/** Routes a prepared request: the VirtualService route, or straight to a known service, or 404. */
async function route(ctx: ListenerContext, listener: string, state: MeshState, prepared: Prepared, gateway: string, port: number, decision?: AccessDecision): Promise<void> {
  const { request } = prepared;
  const routeRequest = {
    method: request.method,
    path: request.path,
    authority: request.authority,
    headers: flatView(request.headers),
    port,
    sourceLabels: gateway === 'mesh' ? ctx.workload.labels : {},
    ...(gateway === 'mesh' ? { sourceNamespace: ctx.workload.namespace } : {}),
    gateway,
    namespace: ctx.workload.namespace,
  };
  let match: RouteMatch | undefined = state.routes.route(routeRequest);
  if (!match && gateway === 'mesh') {
    const host = serviceHostFor(state.registry, request.authority, ctx.workload.namespace);
    if (host) match = defaultRoute(host);
  }
  if (!match) {
    localReply(request.res, 404, `no route for ${request.authority}`);
    finish(ctx, listener, prepared, 404, { ...(decision ? { decision } : {}) });
    return;
  }
  const hinted: ProxyRequest = decision?.route ? { ...request, routeHint: decision.route } : request;
  let destination: { host: string; subset: string } | undefined;
  const result = await forwardRoute(ctx.env, state, match, hinted, (compiled, random) => {
    const picked = compiled.destinations!.length === 1 ? compiled.destinations![0]! : state.routes.pickDestination(compiled, random);
    destination = { host: picked.host, subset: hinted.routeHint?.['subset'] ?? picked.subset ?? '' };
    return picked;
  });
  finish(ctx, listener, prepared, result.status, { forward: result, ...(decision ? { decision } : {}), ...(destination ? { destination } : {}) });
}

async function handleOutbound(config: Extract<ListenerConfig, { mode: 'outbound' }>, ctx: ListenerContext, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const state = ctx.state();
  const prepared = prepare(req, res, ctx, state, false);
  if (!prepared) return;
  // The port the application addressed (a sidecar intercepts it; here it is the authority's).
  const port = splitAuthority(prepared.request.authority).port ?? 80;
  await route(ctx, config.name, state, prepared, 'mesh', port);
}

async function handleGateway(config: Extract<ListenerConfig, { mode: 'gateway' }>, ctx: ListenerContext, plan: GatewayPlan, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const state = ctx.state();
  const prepared = prepare(req, res, ctx, state, true);
  if (!prepared) return;
  const { request, connection } = prepared;
  if (plan.kind === 'plain' && plan.httpsRedirect) {
    // Istio ServerTLSSettings.httpsRedirect: "send a 301 redirect for all http connections, asking the clients to use HTTPS".
    const location = `https://${splitAuthority(request.authority).host}${request.path}`;
    localReply(res, 301, '', { location });
    finish(ctx, config.name, prepared, 301);
    return;
  }
  // An edge proxy never trusts a client's x-forwarded-client-cert: it describes the verified peer or is removed.
  setPeerCertificateHeader(request.headers, ctx, connection);
  const decision = await authorize(ctx, prepared, plan.port, true);
  if (!decision.allowed) {
    finish(ctx, config.name, prepared, deny(res, decision), { decision });
    return;
  }
  applyDecision(prepared.request.headers, decision);
  await route(ctx, config.name, state, prepared, config.gateway, plan.port, decision);
}
