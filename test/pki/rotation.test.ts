/** Certificate files replaced under a live server: nothing fails, new handshakes see the new certificate. */
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { createTlsContextSource, initCa, issueCertificate, startWorkloadRotation, writePair, type CertificateAuthority, type IssuedCertificate } from '../../src/pki/index.js';
import { get, startServer, temporaryDirectory } from './support.js';

let dir: string;
let remove: () => Promise<void>;
let ca: CertificateAuthority;

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory());
  ca = await initCa(dir);
});
afterAll(() => remove());

const serverCert = () => issueCertificate(ca, { profile: 'server', dnsNames: ['localhost'] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function waitFor<T>(register: (resolve: (value: T) => void) => void, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for a reload')), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe('createTlsContextSource.watch', () => {
  it('keeps keep-alive connections and new handshakes working while the files are replaced', async () => {
    const first = await writePair(dir, 'server', serverCert());
    const reloads: string[] = [];
    const errors: Error[] = [];
    let onReload: (serial: string) => void = () => {};
    const source = createTlsContextSource(first, {
      debounceMs: 50,
      onReload: (event) => {
        reloads.push(event.serial);
        onReload(event.serial);
      },
      onError: (error) => errors.push(error),
    });
    const oldSerial = source.certificate.certificate.serialNumber;
    const server = await startServer(source.options);
    const stopWatching = source.watch(server.server);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let running = true;
      const keepAlive: Awaited<ReturnType<typeof get>>[] = [];
      const fresh: Awaited<ReturnType<typeof get>>[] = [];
      const failures: unknown[] = [];
      const keepAliveLoop = (async () => {
        while (running) await get(server.port, { ca: ca.certificatePem, agent }).then((r) => keepAlive.push(r), (e) => failures.push(e));
      })();
      const freshLoop = (async () => {
        while (running) {
          await get(server.port, { ca: ca.certificatePem }).then((r) => fresh.push(r), (e) => failures.push(e));
          await sleep(5);
        }
      })();
      await sleep(150);

      const replacement = serverCert();
      const reloaded = waitFor<string>((resolve) => (onReload = resolve));
      await writePair(dir, 'server', replacement); // atomic renames of server.key then server.crt
      expect(await reloaded).toBe(replacement.certificate.serialNumber);
      const freshBefore = fresh.length;
      for (let i = 0; i < 250 && (fresh.length < freshBefore + 6 || i < 15); i++) await sleep(20);
      running = false;
      await Promise.all([keepAliveLoop, freshLoop]);

      expect(failures).toEqual([]);
      expect(errors).toEqual([]); // the key is renamed in first, and the debounce waits for the certificate
      expect(reloads).toEqual([replacement.certificate.serialNumber]);
      // the long-lived connection was never dropped: every request after the first reused it, on the old certificate
      expect(keepAlive.length).toBeGreaterThan(20);
      expect(keepAlive.slice(1).every((r) => r.reused && r.serverSerial === oldSerial)).toBe(true);
      // handshakes after the reload see the new serial (the loop is sequential: skip the one request
      // that may have been mid-handshake when the reload landed)
      const after = fresh.slice(freshBefore + 1);
      expect(after.length).toBeGreaterThanOrEqual(5);
      expect(after.every((r) => r.serverSerial === replacement.certificate.serialNumber)).toBe(true);
      expect(fresh[0]!.serverSerial).toBe(oldSerial);
    } finally {
      agent.destroy();
      stopWatching();
      await server.close();
    }
  });

  it('keeps the old certificate when the new files are bad, and says why', async () => {
    const files = await writePair(dir, 'guarded', serverCert());
    let onError: (error: Error) => void = () => {};
    const source = createTlsContextSource(files, { debounceMs: 30, onError: (error) => onError(error) });
    const server = await startServer(source.options);
    source.watch(server.server);
    try {
      const serial = source.certificate.certificate.serialNumber;
      const failed = waitFor<Error>((resolve) => (onError = resolve));
      const expired = issueCertificate(ca, { profile: 'server', dnsNames: ['localhost'], notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
      await writeFile(files.certFile, expired.certificatePem);
      expect((await failed).message).toMatch(/guarded\.crt: .* (has expired|private key does not match)|guarded\.key: the private key does not match/);
      const response = await get(server.port, { ca: ca.certificatePem });
      expect(response.serverSerial).toBe(serial);
    } finally {
      source.stop();
      await server.close();
    }
  });
});

describe('startWorkloadRotation', () => {
  it('reissues at half the lifetime and the server follows the files', async () => {
    const issued: IssuedCertificate[] = [];
    const spiffeId = 'spiffe://cluster.local/ns/shop/sa/cart';
    const rotation = startWorkloadRotation({
      ca,
      spiffeId,
      dnsNames: ['localhost'],
      lifetimeMs: 1600,
      fraction: 0.5,
      onRotate: async (certificate) => {
        issued.push(certificate);
        await writePair(dir, 'cart', certificate);
      },
    });
    await rotation.ready;
    const source = createTlsContextSource({ certFile: join(dir, 'cart.crt'), keyFile: join(dir, 'cart.key') }, { debounceMs: 20 });
    const server = await startServer(source.options);
    source.watch(server.server);
    try {
      const started = Date.now();
      for (let i = 0; i < 200 && issued.length < 3; i++) await sleep(20);
      // 1600 ms lifetime rotated at half: certificates arrive ~0.5-0.8 s apart, not in a tight loop
      expect(issued.length).toBe(3);
      expect(Date.now() - started).toBeGreaterThan(500); // notAfter has whole-second precision
      expect(new Set(issued.map((c) => c.certificate.serialNumber)).size).toBe(issued.length);
      expect(issued.every((c) => c.certificate.subjectAltName === `DNS:localhost, URI:${spiffeId}`)).toBe(true);
      rotation.stop();
      const last = issued[issued.length - 1]!;
      for (let i = 0; i < 50 && source.certificate.certificate.serialNumber !== last.certificate.serialNumber; i++) await sleep(20);
      expect((await get(server.port, { ca: ca.certificatePem })).serverSerial).toBe(last.certificate.serialNumber);
    } finally {
      rotation.stop();
      source.stop();
      await server.close();
    }
  });
});
