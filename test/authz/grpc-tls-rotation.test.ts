/**
 * The gRPC ext_authz listener follows certificate rotation like the HTTPS ones: a certificate
 * replaced on disk is served to new handshakes without a restart, with celgate's TLS settings
 * (TLS 1.2 minimum, AEAD suites), while checks on an open channel keep succeeding.
 */
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { connect, type ConnectionOptions } from 'node:tls';
import { ReloadableServerCredentials, startAuthzGrpcServer, type GrpcTlsSettings } from '../../src/authz/index.js';
import { compileAccessPolicies } from '../../src/engine/access/index.js';
import { createTlsContextSource, initCa, issueCertificate, writePair } from '../../src/pki/index.js';
import { temporaryDirectory } from '../pki/support.js';
import { check, checkClient, checkRequestFor } from './envoy-client.js';

/** The serial a fresh handshake (ALPN h2, as gRPC) is given, or the handshake error. */
function handshake(port: number, options: ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ...options }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

it('serves a rotated certificate to new handshakes and keeps answering checks', async () => {
  const { dir, remove } = await temporaryDirectory();
  const ca = await initCa(dir);
  const issue = () => issueCertificate(ca, { profile: 'server', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const files = await writePair(dir, 'serving', issue());
  const caPem = await readFile(`${dir}/ca.crt`);
  const source = createTlsContextSource(files);
  const credentials = new ReloadableServerCredentials(source.options as GrpcTlsSettings);
  const stopWatching = source.watch(credentials);
  const server = await startAuthzGrpcServer({ policies: compileAccessPolicies([], []), credentials });
  const client = checkClient(`localhost:${server.port}`, grpc.credentials.createSsl(caPem));
  const request = checkRequestFor({ request: { method: 'GET', path: '/items', headers: {} } });
  try {
    const before = await handshake(server.port, { ca: caPem });
    expect((await check(client, request)).status?.code ?? 0).toBe(0);
    // celgate's TLS settings, not grpc-js' defaults: no TLS 1.1, no CBC suites on TLS 1.2.
    await expect(handshake(server.port, { ca: caPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
    await expect(handshake(server.port, { ca: caPem, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' })).rejects.toThrow();

    await writePair(dir, 'serving', issue());
    expect(await waitFor(async () => (await handshake(server.port, { ca: caPem })) !== before, 10_000)).toBe(true);
    // The channel opened before the rotation still answers.
    expect((await check(client, request)).status?.code ?? 0).toBe(0);
  } finally {
    client.close();
    stopWatching();
    await server.close();
    await remove();
  }
}, 30_000);
