/**
 * Request bodies: streamed upstream by default, buffered (up to the body limit) only when a
 * retry or a mirror may have to send them again. Envoy does the same: it buffers for retries
 * and shadows, and a body over its buffer limit is answered 413.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Transform, type Readable } from 'node:stream';
import { BodyTooLargeError } from './exchange.js';

export type DownstreamRequest = IncomingMessage | Http2ServerRequest;

const received = new WeakMap<DownstreamRequest, number>();

/** Body bytes read from the client so far (for the access log). */
export function bodyBytesReceived(req: DownstreamRequest): number {
  return received.get(req) ?? 0;
}

/** Whether the request carries a body at all (so GETs are forwarded without one). */
export function hasBody(req: DownstreamRequest): boolean {
  const stream = (req as Http2ServerRequest).stream as { endAfterHeaders?: boolean } | undefined;
  if (stream && typeof stream.endAfterHeaders === 'boolean') return !stream.endAfterHeaders;
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** The declared length, when it already exceeds `limit` (answer 413 before reading). */
export function declaredTooLarge(req: DownstreamRequest, limit: number): boolean {
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) > limit;
}

/** The whole body, or BodyTooLargeError past `limit` bytes. */
export function readBody(req: DownstreamRequest, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      received.set(req, size);
      if (size > limit) {
        cleanup();
        req.resume();
        reject(new BodyTooLargeError(`request body larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('client closed the connection while sending the body'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The body as a stream that fails with BodyTooLargeError past `limit` bytes. */
export function limitedBody(req: DownstreamRequest, limit: number): Readable {
  let size = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      received.set(req, size);
      if (size > limit) callback(new BodyTooLargeError(`request body larger than ${limit} bytes`));
      else callback(null, chunk);
    },
  });
  req.on('error', (error) => limiter.destroy(error));
  (req as Readable).pipe(limiter);
  return limiter;
}
