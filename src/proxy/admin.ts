/**
 * The proxy's admin server (Envoy's admin port in spirit): read-only endpoints for probes,
 * debugging and Prometheus. GET only, no request bodies, tight timeouts.
 *
 *   GET /ready        200 "ready" or 503 "not ready"
 *   GET /config_dump  the proxy's configuration and compiled routes as JSON
 *   GET /clusters     clusters and their endpoints' state as JSON
 *   GET /metrics      Prometheus text
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '../telemetry/prom.js';

export interface AdminServerOptions {
  /** Default 127.0.0.1; the endpoints are read-only but reveal the mesh's configuration. */
  readonly address?: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly ready: () => boolean;
  readonly configDump: () => unknown;
  readonly clusters: () => unknown;
  readonly metrics: Registry;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

const TIMEOUT_MS = 5_000;

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer(
    { requestTimeout: TIMEOUT_MS, headersTimeout: TIMEOUT_MS, maxHeaderSize: 16 * 1024, keepAliveTimeout: TIMEOUT_MS },
    (req, res) => {
      handle(options, req, res).catch((error: unknown) => send(res, 500, 'text/plain; charset=utf-8', `admin error: ${(error as Error).message}\n`));
    },
  );
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(options: AdminServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query >= 0 ? url.slice(0, query) : url;
  if (req.method !== 'GET') {
    res.setHeader('allow', 'GET');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: the admin endpoints are GET only\n', true);
  }
  // No endpoint takes a body; refuse one instead of reading it.
  if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')) {
    return send(res, 413, 'text/plain; charset=utf-8', 'the admin endpoints accept no request body\n', true);
  }
  switch (path) {
    case '/ready': {
      const ready = options.ready();
      return send(res, ready ? 200 : 503, 'text/plain; charset=utf-8', ready ? 'ready\n' : 'not ready\n');
    }
    case '/config_dump':
      return send(res, 200, 'application/json', toJson(options.configDump()));
    case '/clusters':
      return send(res, 200, 'application/json', toJson(options.clusters()));
    case '/metrics':
      return send(res, 200, options.metrics.contentType, await options.metrics.metrics());
    default:
      return send(res, 404, 'text/plain; charset=utf-8', `not found: ${path.slice(0, 200)} (try /ready, /config_dump, /clusters, /metrics)\n`);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('cache-control', 'no-store');
  // An unread body would otherwise sit on a kept-alive connection.
  if (close) res.setHeader('connection', 'close');
  res.end(body);
}

/** JSON for dumps of compiled state: Maps, Sets, RegExps and bigints become plain JSON. */
export function toJson(value: unknown): string {
  return (
    JSON.stringify(
      value,
      (_key, v: unknown) => {
        if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
        if (v instanceof Map) return Object.fromEntries(v);
        if (v instanceof Set) return [...v];
        if (v instanceof RegExp) return v.source;
        if (typeof v === 'function') return undefined;
        return v;
      },
      2,
    ) + '\n'
  );
}
