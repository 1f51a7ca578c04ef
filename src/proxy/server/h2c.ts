/**
 * HTTP/2 to upstreams for gRPC, with node:http2: prior knowledge (h2c) in plain text, ALPN `h2`
 * over TLS. gRPC requires HTTP/2 and its status travels in trailers; undici speaks HTTP/2 only
 * over TLS and (7.x) does not hand HTTP/2 trailers to `request()` callers. One session per
 * origin and TLS setting, reopened when it closes.
 */
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { Readable } from 'node:stream';
import { classifyFailure, type AttemptResult, type UpstreamRequest, type UpstreamResponse } from './exchange.js';
import type { AbortLike } from './abort.js';
import type { UpstreamTls } from './upstream.js';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL', 'ERR_HTTP2_SESSION_ERROR']);

export class H2cSessions {
  readonly #sessions = new Map<string, ClientHttp2Session>();
  #closed = false;

  #session(origin: string, tls: UpstreamTls | undefined, connectTimeoutMs: number): ClientHttp2Session {
    const key = `${origin}|${tls?.key ?? ''}`;
    const existing = this.#sessions.get(key);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = tls ? connect(origin.replace(/^http:/, 'https:'), { ...tls.options, ALPNProtocols: ['h2'] }) : connect(origin);
    session.on('error', () => {});
    const connectTimer = setTimeout(() => session.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), connectTimeoutMs);
    session.once('connect', () => clearTimeout(connectTimer));
    session.once('close', () => {
      clearTimeout(connectTimer);
      if (this.#sessions.get(key) === session) this.#sessions.delete(key);
    });
    session.setTimeout(60_000, () => session.close());
    this.#sessions.set(key, session);
    return session;
  }

  /** One attempt over HTTP/2 to `origin` (`http://address:port`), with TLS when given; same outcome kinds as the undici path. */
  send(origin: string, tls: UpstreamTls | undefined, request: UpstreamRequest, timeoutMs: number, signal: AbortLike, connectTimeoutMs = 10_000): Promise<AttemptResult> {
    if (this.#closed) return Promise.resolve({ kind: 'failure', outcome: { kind: 'connect-failure' }, error: new Error('the proxy is shutting down') });
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      let connected = false;
      const settle = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        signal.off('abort', onAbort);
        resolve(result);
      };
      const session = this.#session(origin, tls, connectTimeoutMs);
      if (!session.connecting) connected = true;
      else session.once('connect', () => (connected = true));
      const headers: OutgoingHttpHeaders = { ':method': request.method, ':path': request.path, ':scheme': 'http', ':authority': String(request.headers['host'] ?? '') };
      for (const name in request.headers) if (name !== 'host') headers[name] = request.headers[name];
      const stream = session.request(headers, { endStream: request.body === undefined });
      const onAbort = () => stream.close(constants.NGHTTP2_CANCEL);
      signal.once('abort', onAbort);
      const timer =
        Number.isFinite(timeoutMs) && timeoutMs > 0
          ? setTimeout(() => {
              stream.close(constants.NGHTTP2_CANCEL);
              settle({ kind: 'failure', outcome: { kind: 'timeout' }, error: new Error('upstream request timeout') });
            }, timeoutMs)
          : undefined;
      stream.on('error', (error: NodeJS.ErrnoException) => {
        const kind = !connected || CONNECT_CODES.has(error.code ?? '') ? 'connect-failure' : classifyFailure(error);
        settle({ kind: 'failure', outcome: { kind }, error, ...((error as { code?: string }).code === 'CELGATE_BODY_TOO_LARGE' ? { bodyTooLarge: true } : {}) });
      });
      stream.on('close', () => settle({ kind: 'failure', outcome: { kind: 'reset' }, error: new Error(`upstream stream closed (code ${stream.rstCode})`) }));
      stream.on('response', (responseHeaders: IncomingHttpHeaders) => {
        const trailers: Record<string, string | string[] | undefined> = {};
        stream.on('trailers', (t: IncomingHttpHeaders) => Object.assign(trailers, t));
        const response: UpstreamResponse = { statusCode: Number(responseHeaders[':status']), headers: responseHeaders, body: stream as unknown as Readable, trailers };
        settle({ kind: 'response', response });
      });
      if (request.body !== undefined) {
        if (Buffer.isBuffer(request.body)) stream.end(request.body);
        else {
          request.body.on('error', (error) => stream.destroy(error));
          request.body.pipe(stream);
        }
      }
    });
  }

  close(): void {
    this.#closed = true;
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
  }
}

/** gRPC (and gRPC-Web's binary form is HTTP/1-capable, so only application/grpc itself). */
export function isGrpc(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && (type === 'application/grpc' || type.startsWith('application/grpc+') || type.startsWith('application/grpc;'));
}
