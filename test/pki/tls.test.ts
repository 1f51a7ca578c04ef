/** Real https servers built with createTlsContextSource, called by openssl s_client and Node's tls client. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import {
  createRootCa,
  createIntermediateCa,
  createTlsContextSource,
  initCa,
  issueCertificate,
  peerSpiffeId,
  uriSans,
  reportTlsClientErrors,
  writePair,
  type CertificateAuthority,
} from '../../src/pki/index.js';
import { get, openssl, run, startServer, temporaryDirectory } from './support.js';

let dir: string;
let remove: () => Promise<void>;
let ca: CertificateAuthority;
let caPem: string;
let serving: { certFile: string; keyFile: string };
const day = 86_400_000;
const spiffeId = 'spiffe://cluster.local/ns/shop/sa/payment';

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory());
  ca = await initCa(dir, { trustDomain: 'cluster.local' });
  caPem = ca.certificatePem;
  serving = await writePair(dir, 'serving', issueCertificate(ca, { profile: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }));
  await writePair(dir, 'payment', issueCertificate(ca, { profile: 'workload', spiffeId }));
  await writePair(dir, 'expired-client', issueCertificate(ca, { profile: 'workload', spiffeId, notBefore: new Date(Date.now() - 2 * day), notAfter: new Date(Date.now() - day) }));
  await writePair(dir, 'foreign-client', issueCertificate(createRootCa(), { profile: 'workload', spiffeId }));
});
afterAll(() => remove());

function tlsHandshake(port: number, options: object): Promise<{ socket: TLSSocket; error?: undefined } | { error: Error }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    socket.once('secureConnect', () => resolve({ socket }));
    socket.once('error', (error) => resolve({ error }));
  });
}

describe('server TLS (no client certificate)', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    const source = createTlsContextSource(serving);
    expect(source.options).toMatchObject({ minVersion: 'TLSv1.2', requestCert: false, rejectUnauthorized: false });
    server = await startServer(source.options);
  });
  afterAll(() => server.close());

  it('answers a Node https client that trusts the CA', async () => {
    const response = await get(server.port, { ca: caPem });
    expect(response.status).toBe(200);
  });

  it('completes an openssl s_client handshake that verifies the chain and host name', async () => {
    const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', join(dir, 'ca.crt'), '-verify_return_error', '-verify_hostname', 'localhost', '-servername', 'localhost'], 'Q\n');
    expect(result.stdout).toMatch(/Verify return code: 0 \(ok\)/);
    expect(result.stdout).toMatch(/Protocol\s*: TLSv1\.3|New, TLSv1\.3/);
  });

  it('negotiates only ECDHE + AEAD suites over TLS 1.2, and refuses TLS 1.1 and CBC suites', async () => {
    const tls12 = await tlsHandshake(server.port, { ca: caPem, servername: 'localhost', maxVersion: 'TLSv1.2' });
    if (tls12.error) throw tls12.error;
    expect(tls12.socket.getProtocol()).toBe('TLSv1.2');
    expect(tls12.socket.getCipher().name).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    tls12.socket.destroy();
    const tls11 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-tls1_1'], 'Q\n');
    expect(tls11.code).not.toBe(0);
    const cbc = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256'], 'Q\n');
    expect(cbc.code).not.toBe(0);
    expect(cbc.stderr + cbc.stdout).toMatch(/handshake failure|no cipher/i);
  });

  it('is rejected by a client that asks for a name not in its SANs', async () => {
    const result = await tlsHandshake(server.port, { ca: caPem, servername: 'celgate.celgate.svc' });
    expect(result.error?.message).toMatch(/Hostname\/IP does not match certificate's altnames: Host: celgate\.celgate\.svc/);
  });

  it('is rejected by a client that trusts another CA', async () => {
    const result = await tlsHandshake(server.port, { ca: createRootCa().certificatePem, servername: 'localhost' });
    expect((result.error as NodeJS.ErrnoException | undefined)?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

describe('uriSans', () => {
  it("reads URI entries of Node's subjectaltname text, including JSON-quoted ones", () => {
    expect(uriSans('DNS:a.example, URI:spiffe://td/ns/a/sa/b, IP Address:10.0.0.1')).toEqual(['spiffe://td/ns/a/sa/b']);
    expect(uriSans('URI:"https://x.example/a,b", URI:spiffe://td/x')).toEqual(['https://x.example/a,b', 'spiffe://td/x']);
    expect(uriSans('DNS:uri.example')).toEqual([]);
  });
});

describe('mutual TLS (client CA configured)', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const logged: string[] = [];
  beforeAll(async () => {
    const source = createTlsContextSource({ ...serving, clientCaFile: join(dir, 'ca.crt') });
    expect(source.options).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    server = await startServer(source.options, (socket) => ({ spiffeId: peerSpiffeId(socket) ?? null }));
    reportTlsClientErrors(server.server, (line) => logged.push(line));
  });
  afterAll(() => server.close());

  const waitForLog = async (count: number) => {
    for (let i = 0; i < 100 && logged.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    return logged[count - 1];
  };

  it('hands the verified SPIFFE ID of a workload client to the application', async () => {
    const response = await get(server.port, { ca: caPem, cert: await readFile(join(dir, 'payment.crt'), 'utf8'), key: await readFile(join(dir, 'payment.key'), 'utf8') });
    expect(response.body).toEqual({ ok: true, spiffeId });
  });

  it('accepts openssl s_client with a client certificate', async () => {
    const result = await run('openssl', [
      's_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', join(dir, 'ca.crt'), '-verify_return_error',
      '-cert', join(dir, 'payment.crt'), '-key', join(dir, 'payment.key'), '-servername', 'localhost', '-ign_eof',
    ], 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    expect(result.stdout).toContain(`"spiffeId":"${spiffeId}"`);
  });

  it('rejects openssl s_client without a client certificate and logs the peer address', async () => {
    const before = logged.length;
    const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', join(dir, 'ca.crt'), '-servername', 'localhost', '-ign_eof'], 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(result.stdout).not.toContain('"ok":true');
    expect(result.stderr + result.stdout).toMatch(/certificate required|alert/i);
    expect(await waitForLog(before + 1)).toMatch(/^TLS handshake from 127\.0\.0\.1:\d+ rejected: the client sent no certificate; this server requires mutual TLS$/);
  });

  it('rejects an expired client certificate and a client certificate from another CA', async () => {
    for (const [name, reason] of [
      ['expired-client', 'the client certificate has expired'],
      ['foreign-client', 'the client certificate is not signed by a trusted CA'],
    ] as const) {
      const before = logged.length;
      const attempt = get(server.port, { ca: caPem, cert: await readFile(join(dir, `${name}.crt`), 'utf8'), key: await readFile(join(dir, `${name}.key`), 'utf8') });
      await expect(attempt).rejects.toThrow();
      expect(await waitForLog(before + 1)).toMatch(new RegExp(`^TLS handshake from 127\\.0\\.0\\.1:\\d+ rejected: ${reason}$`));
    }
  });

  it('gives no SPIFFE ID for a client certificate without a URI SAN', async () => {
    const plain = issueCertificate(ca, { profile: 'client', commonName: 'ci' });
    const response = await get(server.port, { ca: caPem, cert: plain.chainPem, key: plain.privateKeyPem });
    expect(response.body).toEqual({ ok: true, spiffeId: null });
  });

  it('gives the SPIFFE ID of a client whose certificate comes through an intermediate CA', async () => {
    const intermediate = createIntermediateCa(ca);
    const issued = issueCertificate(intermediate, { profile: 'workload', spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' });
    const response = await get(server.port, { ca: caPem, cert: issued.chainPem, key: issued.privateKeyPem });
    expect(response.body).toEqual({ ok: true, spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' });
  });
});
