/** Our own certificate files are checked at start-up, and a bad one is named in the error. */
import { existsSync } from 'node:fs';
import { chmod, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRootCa, createTlsContextSource, ensureServingCertificates, initCa, issueCertificate, loadCa, loadCertificatePair, writePair, type CertificateAuthority } from '../../src/pki/index.js';
import { openssl, temporaryDirectory } from './support.js';

let dir: string;
let remove: () => Promise<void>;
let ca: CertificateAuthority;
const day = 86_400_000;

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory());
  ca = await initCa(dir);
});
afterAll(() => remove());

async function pair(name: string, options: Partial<Parameters<typeof issueCertificate>[1]> = {}, signer = ca) {
  return writePair(dir, name, issueCertificate(signer, { profile: 'server', dnsNames: ['localhost'], ...options }));
}

describe('loadCertificatePair', () => {
  it('loads a good pair and checks it against the CA', async () => {
    const { certFile, keyFile } = await pair('good');
    const loaded = loadCertificatePair(certFile, keyFile, { caFile: join(dir, 'ca.crt') });
    expect(loaded.certificate.checkHost('localhost')).toBe('localhost');
  });

  it('rejects an expired certificate, naming the file', async () => {
    const { certFile, keyFile } = await pair('expired', { notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) });
    expect(() => loadCertificatePair(certFile, keyFile)).toThrow(new RegExp(`^${certFile}: certificate 'O=celgate, CN=localhost' \\(serial [0-9A-F]+\\) has expired: valid until `));
  });

  it('rejects a certificate that is not yet valid', async () => {
    const { certFile, keyFile } = await pair('future', { notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 10 * day) });
    expect(() => loadCertificatePair(certFile, keyFile)).toThrow(/future\.crt: certificate .* is not yet valid: valid from /);
  });

  it('rejects a certificate from another CA when a CA file is given', async () => {
    const { certFile, keyFile } = await pair('foreign', {}, createRootCa({ commonName: 'someone else' }));
    expect(() => loadCertificatePair(certFile, keyFile)).not.toThrow();
    expect(() => loadCertificatePair(certFile, keyFile, { caFile: join(dir, 'ca.crt') })).toThrow(
      /foreign\.crt: certificate .* is not signed by a CA in .*ca\.crt \(issuer 'O=celgate, CN=someone else'\)/,
    );
  });

  it('rejects a key that does not match the certificate, naming the key file', async () => {
    const a = await pair('a');
    const b = await pair('b');
    expect(() => loadCertificatePair(a.certFile, b.keyFile)).toThrow(new RegExp(`^${b.keyFile}: the private key does not match the certificate .* in ${a.certFile}`));
  });

  it('rejects malformed PEM and missing files, without echoing key material', async () => {
    const { certFile, keyFile } = await pair('malformed');
    const certText = await readFile(certFile, 'utf8');
    await writeFile(join(dir, 'broken.crt'), certText.replace(/\n(.{20})/, '\n$1!!!!'));
    expect(() => loadCertificatePair(join(dir, 'broken.crt'), keyFile)).toThrow(/broken\.crt: certificate 1 is malformed PEM\/DER/);
    await writeFile(join(dir, 'empty.crt'), 'hello\n');
    expect(() => loadCertificatePair(join(dir, 'empty.crt'), keyFile)).toThrow(/empty\.crt: no PEM certificate found/);
    const keyText = await readFile(keyFile, 'utf8');
    await writeFile(join(dir, 'broken.key'), keyText.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA'));
    let message = '';
    try {
      loadCertificatePair(certFile, join(dir, 'broken.key'));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/broken\.key: (malformed private key|the private key does not match)/);
    expect(message).not.toContain(keyText.split('\n')[1]!.slice(0, 16));
    expect(() => loadCertificatePair(join(dir, 'nope.crt'), keyFile)).toThrow(/nope\.crt: cannot read the certificate file: ENOENT/);
  });

  it('makes createTlsContextSource fail at start-up with the same message', async () => {
    const { certFile, keyFile } = await pair('expired2', { notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) });
    expect(() => createTlsContextSource({ certFile, keyFile })).toThrow(/expired2\.crt: .* has expired/);
  });
});

describe('ensureServingCertificates', () => {
  it('creates a CA and serving pair once, then keeps them', async () => {
    const { dir: fresh, remove: cleanup } = await temporaryDirectory();
    try {
      const first = await ensureServingCertificates(join(fresh, 'certs'), { dnsNames: ['celgate.celgate.svc'], ipAddresses: ['10.0.0.7'] });
      expect(first.generated).toBe(true);
      const verify = await openssl(['verify', '-CAfile', first.caFile, first.certFile]);
      expect(verify.stdout).toContain(': OK');
      const text = (await openssl(['x509', '-in', first.certFile, '-noout', '-ext', 'subjectAltName'])).stdout;
      expect(text).toContain('DNS:localhost, DNS:celgate.celgate.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.0.7');
      const caBefore = await readFile(first.caFile, 'utf8');
      const certBefore = await readFile(first.certFile, 'utf8');

      const second = await ensureServingCertificates(join(fresh, 'certs'), { dnsNames: ['celgate.celgate.svc'] });
      expect(second.generated).toBe(false);
      expect(await readFile(second.certFile, 'utf8')).toBe(certBefore);

      // a name the current certificate lacks: the pair is kept (it may be a read-only Secret) and the gap reported
      const third = await ensureServingCertificates(join(fresh, 'certs'), { dnsNames: ['celgate.other.svc'], ipAddresses: ['10.0.0.7', '10.0.0.8'] });
      expect(third).toMatchObject({ generated: false, missingNames: ['celgate.other.svc', '10.0.0.8'] });
      expect(await readFile(third.certFile, 'utf8')).toBe(certBefore);

      // an expired pair is reissued by the same CA
      const ca = loadCa(join(fresh, 'certs'));
      await writePair(join(fresh, 'certs'), 'serving', issueCertificate(ca, { profile: 'server', dnsNames: ['localhost'], notBefore: new Date(Date.now() - 2 * day), notAfter: new Date(Date.now() - day) }));
      const fourth = await ensureServingCertificates(join(fresh, 'certs'));
      expect(fourth.generated).toBe(true);
      expect(await readFile(fourth.caFile, 'utf8')).toBe(caBefore);
      expect((await openssl(['verify', '-CAfile', fourth.caFile, fourth.certFile])).stdout).toContain(': OK');
    } finally {
      await cleanup();
    }
  }, 40000); // several openssl runs: generous on a loaded CI machine

  it('keeps a valid serving pair in a read-only directory without a CA key', async () => {
    const { dir: fresh, remove: cleanup } = await temporaryDirectory();
    try {
      await writePair(fresh, 'serving', issueCertificate(ca, { profile: 'server', dnsNames: ['celgate.celgate.svc'] }));
      await chmod(fresh, 0o555);
      const kept = await ensureServingCertificates(fresh, { dnsNames: ['pod-7d9f'] });
      expect(kept).toMatchObject({ generated: false, missingNames: ['localhost', 'pod-7d9f', '127.0.0.1', '::1'] });
      expect(() => createTlsContextSource(kept)).not.toThrow();
    } finally {
      await chmod(fresh, 0o755);
      await cleanup();
    }
  });

  it('lets callers starting together on an empty directory share one CA and one pair (a lock, not a race)', async () => {
    const { dir: fresh, remove: cleanup } = await temporaryDirectory();
    try {
      const certs = join(fresh, 'certs');
      const results = await Promise.all([1, 2, 3, 4].map(() => ensureServingCertificates(certs)));
      expect(results.filter((r) => r.generated)).toHaveLength(1);
      expect((await openssl(['verify', '-CAfile', results[0]!.caFile, results[0]!.certFile])).stdout).toContain(': OK');
      expect(await readdir(certs)).toEqual(['ca.crt', 'ca.key', 'serving.crt', 'serving.key']); // no lock or temporary file left
    } finally {
      await cleanup();
    }
  });

  it('takes over a lock left behind by a crashed process once it is stale', async () => {
    const { dir: fresh, remove: cleanup } = await temporaryDirectory();
    try {
      const lock = join(fresh, '.celgate.lock');
      await writeFile(lock, '99999\n');
      const old = new Date(Date.now() - 60_000);
      await utimes(lock, old, old);
      await expect(ensureServingCertificates(fresh)).resolves.toMatchObject({ generated: true });
      expect(existsSync(lock)).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('refuses a broken CA instead of replacing it', async () => {
    const { dir: fresh, remove: cleanup } = await temporaryDirectory();
    try {
      await writeFile(join(fresh, 'ca.crt'), 'garbage');
      await writeFile(join(fresh, 'ca.key'), 'garbage');
      await expect(ensureServingCertificates(fresh)).rejects.toThrow(/ca\.crt: no PEM certificate found/);
    } finally {
      await cleanup();
    }
  });
});
