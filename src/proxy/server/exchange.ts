/**
 * One upstream attempt and the relay of its response: the part of forwarding that knows
 * undici and node's response objects. Failures come back as Envoy's outcome kinds so that
 * retries and outlier detection can reason about them.
 */
import { ServerResponse, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Http2ServerResponse } from 'node:http2';
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import type { HeaderOperations, UpstreamOutcome } from '../types.js';
import { Abort, type AbortLike } from './abort.js';
import { applyHeaderOperations, responseHeaders, type HeaderMap } from './headers.js';

export type DownstreamResponse = ServerResponse | Http2ServerResponse;

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query as sent upstream. */
  readonly path: string;
  /** End-to-end headers, `host` included. */
  readonly headers: HeaderMap;
  /** A buffered body can be replayed by retries; a stream is sent once. */
  readonly body: Buffer | Readable | undefined;
}

/** An upstream response, from undici or from an h2c stream. */
export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable;
  /** Filled when the body has ended. */
  readonly trailers: Record<string, string | string[] | undefined>;
}

export type AttemptResult =
  | { readonly kind: 'response'; readonly response: UpstreamResponse }
  | { readonly kind: 'failure'; readonly outcome: Exclude<UpstreamOutcome, { kind: 'response' }>; readonly error: Error; readonly bodyTooLarge?: boolean };

export class BodyTooLargeError extends Error {
  readonly code = 'CELGATE_BODY_TOO_LARGE';
}

/** Errors undici reports when no connection could be made (or its TLS handshake failed). */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Whether a failed attempt never connected (or its TLS handshake failed) or was cut after. */
export function classifyFailure(error: Error & { code?: string; cause?: unknown }): 'connect-failure' | 'reset' {
  let current: (Error & { code?: string; cause?: unknown }) | undefined = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = current.code ?? '';
    if (CONNECT_CODES.has(code) || code.startsWith('ERR_SSL_') || /certificate|SPIFFE ID/i.test(current.message)) return 'connect-failure';
    current = current.cause as typeof current;
  }
  return 'reset';
}

/**
 * Sends one attempt. `timeoutMs` bounds the wait for the response headers (the caller's
 * timer bounds the body; Infinity: no timer of its own); `signal` aborts the attempt (the
 * client went away, the route timed out). Without a timeout of its own the attempt listens to
 * `signal` directly: no per-attempt signal or timer is made.
 */
export async function sendAttempt(pool: Pool, request: UpstreamRequest, timeoutMs: number, signal: AbortLike): Promise<AttemptResult> {
  let attempt: Abort | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const onAbort = () => attempt!.abort(signal.reason);
  if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
    attempt = new Abort();
    if (signal.aborted) onAbort();
    else signal.once('abort', onAbort);
    timer = setTimeout(() => {
      timedOut = true;
      attempt!.abort(new Error('upstream request timeout'));
    }, timeoutMs);
  }
  try {
    const response = await pool.request({
      method: request.method as Dispatcher.HttpMethod,
      path: request.path,
      headers: request.headers as IncomingHttpHeaders,
      body: request.body ?? null,
      signal: (attempt ?? signal) as unknown as EventEmitter,
    });
    return { kind: 'response', response: response as unknown as UpstreamResponse };
  } catch (cause) {
    const error = cause as Error;
    if (timedOut) return { kind: 'failure', outcome: { kind: 'timeout' }, error };
    if ((error as { code?: string }).code === 'CELGATE_BODY_TOO_LARGE' || error instanceof BodyTooLargeError) {
      return { kind: 'failure', outcome: { kind: 'reset' }, error, bodyTooLarge: true };
    }
    return { kind: 'failure', outcome: { kind: classifyFailure(error) }, error };
  } finally {
    // From here on the caller's timers own the exchange.
    if (timer) {
      clearTimeout(timer);
      signal.off('abort', onAbort);
    }
  }
}

/** gRPC's mapping of HTTP statuses (doc/http-grpc-status-mapping.md), which Envoy applies to its local replies. */
function grpcStatusFor(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

/**
 * Envoy-style local reply: a short text body and its status. A gRPC client gets what Envoy
 * sends it instead: a trailers-only response, HTTP 200 with grpc-status and grpc-message.
 */
export function localReply(res: DownstreamResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded || res.destroyed) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const contentType = (res as { req?: { headers?: Record<string, string | string[] | undefined> } }).req?.headers?.['content-type'];
  if (status >= 400 && typeof contentType === 'string' && contentType.startsWith('application/grpc')) {
    res.writeHead(200, { ...headers, 'content-type': 'application/grpc', 'grpc-status': String(grpcStatusFor(status)), 'grpc-message': encodeURIComponent(body.trim()) });
    res.end();
    return;
  }
  const payload = Buffer.from(body.endsWith('\n') || body === '' ? body : `${body}\n`);
  res.writeHead(status, { ...headers, 'content-type': headers['content-type'] ?? 'text/plain', 'content-length': String(payload.length) });
  res.end(payload);
}

/**
 * Copies an upstream response to the client: status, headers (after `operations`), body with
 * back-pressure, and trailers (gRPC's grpc-status travels there). Resolves when done; rejects
 * when either side failed mid-stream (the client's stream is then reset).
 */
export async function relayResponse(res: DownstreamResponse, upstream: UpstreamResponse, operations: HeaderOperations | undefined, extraHeaders?: Readonly<HeaderMap>): Promise<number> {
  const headers = responseHeaders(upstream.headers);
  if (extraHeaders) Object.assign(headers, extraHeaders);
  applyHeaderOperations(headers, operations);
  let bytes = 0;
  try {
    // HTTP/1.1: the head and the first chunk leave in one write (one syscall, and one record over
    // TLS) instead of two; a small body is usually all in that chunk.
    const socket = res instanceof ServerResponse ? res.socket : null;
    socket?.cork();
    (res as ServerResponse).writeHead(upstream.statusCode, headers as Record<string, string | string[]>);
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      const flowing = (res as ServerResponse).write(chunk);
      if (bytes === chunk.length && socket) process.nextTick(uncork, socket);
      if (!flowing) await drained(res);
    }
    if (bytes === 0) socket?.uncork();
    const trailers = upstream.trailers;
    if (trailers && Object.keys(trailers).length > 0) res.addTrailers(trailers as Record<string, string>);
    res.end();
    return bytes;
  } catch (error) {
    upstream.body.destroy();
    res.destroy();
    throw error;
  }
}

/** Reads and drops a response body (a retried attempt's answer). */
export async function discard(body: Readable): Promise<void> {
  try {
    for await (const _ of body) {
      // dropped
    }
  } catch {
    // a failed body is as good as a drained one here
  }
}

function uncork(socket: Socket): void {
  socket.uncork();
}

function drained(res: DownstreamResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', closed);
      resolve();
    };
    const closed = () => {
      res.off('drain', done);
      res.off('close', closed);
      reject(new Error('client closed the connection'));
    };
    res.on('drain', done);
    res.on('close', closed);
  });
}
