/**
 * gRPC server credentials whose certificate can be replaced while serving. grpc-js applies a
 * credentials update to its listening socket (new handshakes get the new certificate; open
 * connections keep theirs), but its built-in file watcher is experimental, so the update comes
 * from celgate's own TLS source (src/pki), the one the HTTPS listeners follow too.
 */
import * as grpc from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';

/** The TLS server settings celgate's listeners share (src/pki's createTlsContextSource options). */
export interface GrpcTlsSettings extends SecureContextOptions {
  readonly requestCert?: boolean;
  readonly rejectUnauthorized?: boolean;
}

function contextOf(settings: GrpcTlsSettings): SecureContextOptions {
  const { requestCert: _request, rejectUnauthorized: _reject, ...context } = settings;
  return context;
}

export class ReloadableServerCredentials extends grpc.ServerCredentials {
  constructor(settings: GrpcTlsSettings) {
    super({ requestCert: settings.requestCert ?? false, rejectUnauthorized: settings.rejectUnauthorized ?? false }, contextOf(settings));
  }

  /** Takes new settings (a rotated certificate); matches src/pki's SecureContextTarget. */
  setSecureContext(settings: GrpcTlsSettings): void {
    this.updateSecureContextOptions(contextOf(settings));
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return this === other;
  }
}
