/**
 * One port for TLS and plain text (Istio's PERMISSIVE mode): read the connection's first byte
 * and hand the socket to the TLS server (0x16, a TLS handshake record), to the HTTP/2
 * prior-knowledge server (the h2 client preface) or to the plain HTTP/1.1 server. Node has no listener that accepts both, so this small piece is written by hand.
 *
 * The plain and TLS servers take the raw socket with the first chunk pushed back (`unshift`):
 * node's HTTP server reads through the stream API and sees it, and node's TLSSocket feeds bytes
 * already buffered in the socket to its native TLS wrap before reading the handle, so TLS stays
 * native (no record crosses JavaScript). The h2c server reads the native handle directly and
 * would miss the chunk, so it gets a Duplex that replays the chunk and then relays the socket.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** What the sniffer hands connections to (an http.Server, an http2 secure server...). */
export interface ConnectionTarget {
  emit(event: 'connection', socket: Duplex): boolean;
}

export interface SniffOptions {
  /** TLS connections; absent: closed. */
  readonly tls?: ConnectionTarget;
  readonly plain: ConnectionTarget;
  /** HTTP/2 with prior knowledge (the connection starts with the client preface); absent: handed to `plain`, which answers 400. */
  readonly h2c?: ConnectionTarget;
  /** A client that sends nothing for this long is disconnected. */
  readonly firstByteTimeoutMs: number;
  /** Called for plain-text connections; false closes the connection (PeerAuthentication STRICT). */
  readonly acceptPlaintext: () => boolean;
  readonly onRejectedPlaintext?: (socket: Socket) => void;
}

export interface PeerAddress {
  readonly address: string;
  readonly port: number;
}

const peers = new WeakMap<Duplex, PeerAddress>();

export function createSniffingServer(options: SniffOptions): NetServer {
  // noDelay: as node's HTTP servers set it on the sockets they accept themselves (Nagle would add ~40 ms per response).
  return createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), options.firstByteTimeoutMs);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      if (chunk[0] === 0x16) {
        if (!options.tls) {
          socket.destroy();
          return;
        }
        socket.unshift(chunk);
        options.tls.emit('connection', socket);
        return;
      }
      if (!options.acceptPlaintext()) {
        options.onRejectedPlaintext?.(socket);
        socket.destroy();
        return;
      }
      if (options.h2c && startsWithPreface(chunk)) {
        options.h2c.emit('connection', replaying(socket, chunk));
        return;
      }
      socket.unshift(chunk);
      options.plain.emit('connection', socket);
      socket.resume();
    });
    socket.once('close', () => clearTimeout(timer));
    socket.resume();
  });
}

/** RFC 9113 3.4: the HTTP/2 client connection preface starts with "PRI * HTTP/2.0". */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');
function startsWithPreface(chunk: Buffer): boolean {
  return chunk.length >= PREFACE.length && chunk.subarray(0, PREFACE.length).equals(PREFACE);
}

function replaying(socket: Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  peers.set(duplex, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
  duplex.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (error) => duplex.destroy(error));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

/**
 * The client's address: the socket's own, or for a socket made over a replaying Duplex (h2c,
 * whose own remoteAddress is empty) the address recorded for that Duplex. Node keeps the
 * wrapped stream at `_handle._parentWrap.stream`; when that internal path changes, '' is used.
 */
export function peerAddress(socket: TLSSocket | Socket): PeerAddress {
  if (socket.remoteAddress) return { address: socket.remoteAddress, port: socket.remotePort ?? 0 };
  const stream = (socket as unknown as { _handle?: { _parentWrap?: { stream?: Duplex } } })._handle?._parentWrap?.stream;
  return (stream && peers.get(stream)) ?? { address: '', port: 0 };
}
