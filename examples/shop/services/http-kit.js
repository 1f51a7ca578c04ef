// Tiny helpers shared by the shop's services: JSON replies, bounded request bodies and a
// clean stop on SIGTERM/SIGINT. Plain node:http, no framework: the point is the mesh around them.
import { createServer } from 'node:http';

const MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Reads a JSON body of at most 64 KiB; resolves undefined (and answers 400/413) when it is not one. */
export function readJson(req, res) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        sendJson(res, 413, { error: 'request body larger than 64 KiB' }, { connection: 'close' });
        req.destroy();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      try {
        resolve(size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        sendJson(res, 400, { error: 'the body is not JSON' });
        resolve(undefined);
      }
    });
    req.on('error', () => resolve(undefined));
  });
}

/** A port from the environment, or exit 2 naming the variable. */
export function portFromEnv(name) {
  const port = Number(process.env[name]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`${name} must be a TCP port (1-65535), found '${process.env[name] ?? ''}'`);
    process.exit(2);
  }
  return port;
}

/** Serves `handler` on 127.0.0.1:port; stops on SIGTERM/SIGINT after the requests in flight. */
export function serve(name, port, handler) {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
    Promise.resolve(handler(req, res)).catch((error) => {
      if (!res.headersSent) sendJson(res, 500, { error: `${name}: ${error.message}` });
      else res.destroy();
    });
  });
  server.listen(port, '127.0.0.1', () => process.send?.({ ready: name, port }));
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The demo is the parent: if it dies, do not linger.
  process.on('disconnect', stop);
  return server;
}
