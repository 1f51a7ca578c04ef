/**
 * TLS settings for every celgate server, reloaded from disk when the certificate files change.
 */
import { watch as watchPath, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { loadCertificatePair, readCertificates, type CertificatePair } from './files.js';

/**
 * TLS 1.2 suites: forward-secret ECDHE with AEAD ciphers only (no CBC, no static RSA). TLS 1.3
 * suites are all AEAD; they are listed so that naming `ciphers` does not narrow TLS 1.3.
 */
export const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** With a client CA, clients must present a certificate signed by it (mutual TLS). */
  readonly clientCaFile?: string;
}

/** What https.createServer / http2.createSecureServer / tls.createServer take. */
export interface TlsServerOptions {
  key: string;
  cert: string;
  ca?: string;
  minVersion: 'TLSv1.2';
  ciphers: string;
  honorCipherOrder: true;
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** The part of a TLS server the reloader needs (https, http2 secure and tls servers all have it). */
export interface SecureContextTarget {
  setSecureContext(options: TlsServerOptions): void;
}

export interface ReloadEvent {
  readonly serial: string;
  readonly notAfter: Date;
}

export interface TlsContextHooks {
  /** Delay after the last file event before reloading (default 100 ms): a rotation writes several files. */
  readonly debounceMs?: number;
  readonly onReload?: (event: ReloadEvent) => void;
  /** A reload that failed validation; the previous certificate stays in use. */
  readonly onError?: (error: Error) => void;
}

export interface TlsContextSource {
  /** Current options; pass to the server constructor. Replaced (not mutated) on reload. */
  readonly options: TlsServerOptions;
  readonly certificate: CertificatePair;
  /** Re-reads the files now; returns true when the certificate, key or CA changed and was applied. */
  reload(): boolean;
  /** Reloads `server`'s secure context whenever the files change; returns a function that stops watching it. */
  watch(server: SecureContextTarget): () => void;
  /** Stops every watch. */
  stop(): void;
}

function buildOptions(files: TlsFiles): { options: TlsServerOptions; pair: CertificatePair } {
  // Our own files are checked at start-up (and on reload) so that a bad one fails with its name.
  const pair = loadCertificatePair(files.certFile, files.keyFile);
  const ca = files.clientCaFile ? readCertificates(files.clientCaFile, 'client CA file').pem : undefined;
  const mutual = ca !== undefined;
  const options: TlsServerOptions = {
    key: pair.privateKeyPem,
    cert: pair.certificatePem,
    minVersion: 'TLSv1.2',
    ciphers: CIPHERS,
    honorCipherOrder: true,
    requestCert: mutual,
    rejectUnauthorized: mutual,
  };
  if (ca !== undefined) options.ca = ca;
  return { options, pair };
}

export function createTlsContextSource(files: TlsFiles, hooks: TlsContextHooks = {}): TlsContextSource {
  let { options, pair } = buildOptions(files);
  const targets = new Set<SecureContextTarget>();
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  const debounceMs = hooks.debounceMs ?? 100;

  // A rotation writes the key and the certificate as two files; a reload that lands between the
  // two sees a mismatched pair. Such a failure is retried a few times before it is reported.
  let retriesLeft = 0;
  const RETRIES = 3;

  const apply = (quietIfInvalid: boolean): boolean => {
    let next: ReturnType<typeof buildOptions>;
    try {
      next = buildOptions(files);
    } catch (error) {
      if (quietIfInvalid && retriesLeft > 0) {
        retriesLeft--;
        arm(debounceMs * 4);
      } else {
        hooks.onError?.(error as Error);
      }
      return false;
    }
    if (next.options.key === options.key && next.options.cert === options.cert && next.options.ca === options.ca) return false;
    for (const target of targets) {
      try {
        target.setSecureContext(next.options);
      } catch (error) {
        hooks.onError?.(new Error(`cannot apply the new TLS certificate from ${files.certFile}: ${(error as Error).message}`));
        return false;
      }
    }
    ({ options, pair } = next);
    hooks.onReload?.({ serial: pair.certificate.serialNumber, notAfter: new Date(pair.certificate.validTo) });
    return true;
  };

  const reload = (): boolean => apply(false);

  const arm = (delayMs: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      apply(true);
    }, delayMs);
    timer.unref();
  };

  const schedule = () => {
    retriesLeft = RETRIES;
    arm(debounceMs);
  };

  const startWatching = () => {
    // Watch directories, not files: an atomic rename (or a Kubernetes Secret's ..data symlink swap)
    // replaces the file's inode, which a watch on the file itself would silently lose.
    const dirs = new Set([files.certFile, files.keyFile, files.clientCaFile].filter((f): f is string => !!f).map((f) => dirname(resolve(f))));
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      const watcher = watchPath(dir, { persistent: false }, schedule);
      watcher.on('error', (error) => hooks.onError?.(new Error(`watching ${dir} for certificate changes failed: ${error.message}`)));
      watchers.set(dir, watcher);
    }
  };

  const stop = () => {
    for (const watcher of watchers.values()) watcher.close();
    watchers.clear();
    targets.clear();
    if (timer) clearTimeout(timer);
    timer = undefined;
  };

  return {
    get options() {
      return options;
    },
    get certificate() {
      return pair;
    },
    reload,
    watch(server) {
      targets.add(server);
      startWatching();
      return () => {
        targets.delete(server);
        if (targets.size === 0) stop();
      };
    },
    stop,
  };
}

const spiffeIds = new WeakMap<TLSSocket, string | null>();

/**
 * The SPIFFE ID (the single URI SAN starting with spiffe://) of the peer's certificate, when the
 * peer presented one that verified against our CA; undefined otherwise. Cached per connection.
 */
export function peerSpiffeId(socket: TLSSocket): string | undefined {
  const cached = spiffeIds.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  let id: string | null = null;
  if (socket.authorized) {
    const peer = socket.getPeerCertificate() as ReturnType<TLSSocket['getPeerCertificate']> & { ca?: boolean };
    const uris = peer?.subjectaltname ? uriSans(peer.subjectaltname) : [];
    // X509-SVID 2 and 5.2: exactly one URI SAN; a leaf (not a CA) whose SPIFFE ID has a path.
    if (uris.length === 1 && peer.ca !== true && /^spiffe:\/\/[^/]+\/./.test(uris[0]!)) id = uris[0]!;
  }
  spiffeIds.set(socket, id);
  return id ?? undefined;
}

/** URI entries of Node's `subjectaltname` text ("DNS:a, URI:spiffe://…"); quoted values are JSON strings. */
export function uriSans(subjectAltName: string): string[] {
  const uris: string[] = [];
  for (const match of subjectAltName.matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const value = match[1]!;
    uris.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return uris;
}

/** Node's names for certificate verification failures (TLSSocket.authorizationError). */
const VERIFY_ERRORS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the client certificate has expired',
  CERT_NOT_YET_VALID: 'the client certificate is not yet valid',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the client certificate is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the client certificate is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'the client certificate is not signed by a trusted CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the client certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'the client certificate chains to an untrusted self-signed CA',
  CERT_SIGNATURE_FAILURE: 'the client certificate signature does not verify',
  INVALID_PURPOSE: 'the client certificate is not allowed for client authentication (extendedKeyUsage)',
  CERT_REVOKED: 'the client certificate is revoked',
};

/**
 * What a failed client handshake means, in words a user can act on. With rejectUnauthorized, Node
 * verifies the client certificate after OpenSSL's handshake and just destroys the socket, so the
 * error is a bare "socket hang up"; the reason is in the socket's authorizationError.
 */
export function describeTlsClientError(error: NodeJS.ErrnoException & { reason?: string }, authorizationError?: string | Error): string {
  const verify = typeof authorizationError === 'string' ? authorizationError : (authorizationError as NodeJS.ErrnoException | undefined)?.code;
  if (verify) return VERIFY_ERRORS[verify] ?? `the client certificate was rejected (${verify})`;
  const code = error.code ?? '';
  const text = `${error.reason ?? ''} ${error.message}`.toLowerCase();
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' || text.includes('peer did not return a certificate')) return 'the client sent no certificate; this server requires mutual TLS';
  if (text.includes('unsupported protocol') || text.includes('wrong version')) return 'the client offered a TLS version older than TLS 1.2 or spoke plain text';
  if (text.includes('no shared cipher')) return 'the client offered no supported cipher suite';
  if (text.includes('unknown ca') || text.includes('bad certificate') || text.includes('certificate unknown')) return 'the client did not trust this server\'s certificate (alert from the client)';
  if (code === 'ECONNRESET' || text.includes('socket hang up')) return 'the client closed the connection during the handshake';
  return `handshake failed: ${error.reason ?? error.message}`;
}

interface TlsErrorEmitter {
  on(event: 'tlsClientError', listener: (error: Error, socket: TLSSocket) => void): unknown;
  on(event: 'connection', listener: (socket: Socket) => void): unknown;
}

/** Logs each failed client handshake with the peer's address and a clear reason. */
export function reportTlsClientErrors(server: TlsErrorEmitter, log: (message: string) => void): void {
  // A failed handshake destroys the sockets before 'tlsClientError' fires, and a destroyed socket no
  // longer knows its peer; so remember each TCP connection's peer when it arrives and find it again
  // through the TLS socket's underlying TCP socket (Node's `_parent`).
  const peers = new WeakMap<Socket, string>();
  server.on('connection', (tcp) => {
    const address = tcp.remoteAddress;
    if (address) peers.set(tcp, `${address.includes(':') ? `[${address}]` : address}:${tcp.remotePort}`);
  });
  server.on('tlsClientError', (error, socket) => {
    const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
    const peer = (tcp && peers.get(tcp)) ?? (socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown peer');
    log(`TLS handshake from ${peer} rejected: ${describeTlsClientError(error as NodeJS.ErrnoException, socket.authorizationError)}`);
  });
}
