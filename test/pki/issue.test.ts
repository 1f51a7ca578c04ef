/** Certificates built by src/pki, checked by the system openssl and by node:crypto. */
import { X509Certificate } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  certificateDetails,
  createIntermediateCa,
  createRootCa,
  DEFAULT_LIFETIME_MS,
  inspectCertificate,
  expiryWarning,
  issueCertificate,
  initCa,
  writePair,
  workloadSpiffeId,
  type CertificateAuthority,
} from '../../src/pki/index.js';
import { openssl, temporaryDirectory } from './support.js';

let dir: string;
let remove: () => Promise<void>;
let root: CertificateAuthority;

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory());
  root = await initCa(dir, { trustDomain: 'cluster.local' });
});
afterAll(() => remove());

async function save(name: string, pem: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, pem);
  return file;
}

describe('root CA', () => {
  it('is a self-signed CA with critical basicConstraints and keyUsage, and SKI = AKI', async () => {
    const text = (await openssl(['x509', '-in', join(dir, 'ca.crt'), '-noout', '-text'])).stdout;
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
    // SPIFFE X509-SVID 4.3: signing certificates MUST set keyCertSign, MAY set cRLSign; digitalSignature is for leaves only
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    // X509-SVID 3.2: "If present, the SPIFFE ID of a signing certificate MUST NOT have a path component"
    expect(text).toMatch(/URI:spiffe:\/\/cluster\.local\n/);
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text)![1];
    const aki = /Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)![1];
    expect(ski).toBe(aki);
    expect((await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'ca.crt')])).stdout).toContain(': OK');
  });

  it('lives 10 years by default and writes its key with mode 0600', async () => {
    const lifetime = Date.parse(root.certificate.validTo) - Date.parse(root.certificate.validFrom);
    expect(Math.abs(lifetime - DEFAULT_LIFETIME_MS.ca)).toBeLessThan(10 * 60_000);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'ca.crt'))).mode & 0o777).toBe(0o644);
  });
});

describe('server certificates', () => {
  it('carry DNS and IP SANs, serverAuth, and verify with openssl', async () => {
    const issued = issueCertificate(root, {
      profile: 'server',
      dnsNames: ['celgate.celgate.svc', 'celgate.celgate.svc.cluster.local'],
      ipAddresses: ['10.96.0.10', '2001:db8::1'],
    });
    const file = await save('server.crt', issued.certificatePem);
    const verify = await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslserver', file]);
    expect(verify.stdout).toContain(`${file}: OK`);
    const text = (await openssl(['x509', '-in', file, '-noout', '-text'])).stdout;
    expect(text).toContain('DNS:celgate.celgate.svc, DNS:celgate.celgate.svc.cluster.local, IP Address:10.96.0.10, IP Address:2001:DB8:0:0:0:0:0:1');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage:\s*\n\s+TLS Web Server Authentication\n/);
    expect(issued.certificate.checkHost('celgate.celgate.svc')).toBe('celgate.celgate.svc');
    expect(issued.certificate.checkIP('10.96.0.10')).toBe('10.96.0.10');
    expect(issued.certificate.checkHost('other.svc')).toBeUndefined();
    const lifetime = Date.parse(issued.certificate.validTo) - Date.parse(issued.certificate.validFrom);
    expect(Math.abs(lifetime - DEFAULT_LIFETIME_MS.server - 5 * 60_000)).toBeLessThan(60_000);
  });

  it('get random, positive 128-bit serial numbers', () => {
    const serials = Array.from({ length: 20 }, () => issueCertificate(root, { profile: 'server', dnsNames: ['a.example'] }).certificate.serialNumber);
    expect(new Set(serials).size).toBe(20);
    for (const serial of serials) {
      // DER INTEGER magnitude: 16 random bytes, with a 00 prefix when the top bit is set (keeps it positive)
      const bytes = Buffer.from(serial.length % 2 ? `0${serial}` : serial, 'hex');
      expect(bytes.length === 16 || (bytes.length === 17 && bytes[0] === 0 && bytes[1]! >= 0x80) || bytes.length < 16).toBe(true);
    }
  });

  it('support RSA 2048 and 3072 keys (with keyEncipherment)', async () => {
    const rsaRoot = createRootCa({ keyType: 'rsa-2048' });
    for (const keyType of ['rsa-2048', 'rsa-3072'] as const) {
      const issued = issueCertificate(rsaRoot, { profile: 'server', dnsNames: ['rsa.example'], keyType });
      expect(issued.certificate.publicKey.asymmetricKeyDetails?.modulusLength).toBe(Number(keyType.slice(4)));
      expect(certificateDetails(issued.certificate).keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
      const file = await save(`rsa-${keyType}.crt`, issued.certificatePem);
      const caFile = await save('rsa-ca.crt', rsaRoot.certificatePem);
      expect((await openssl(['verify', '-CAfile', caFile, file])).stdout).toContain(': OK');
      expect((await openssl(['x509', '-in', file, '-noout', '-text'])).stdout).toContain('Signature Algorithm: sha256WithRSAEncryption');
    }
  });

  it('do not verify against another CA', async () => {
    const other = createRootCa();
    const file = await save('other.crt', issueCertificate(other, { profile: 'server', dnsNames: ['x.example'] }).certificatePem);
    const verify = await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), file]);
    expect(verify.code).not.toBe(0);
    expect(verify.stdout + verify.stderr).toMatch(/unable to get local issuer certificate/);
  });
});

describe('workload (SPIFFE) certificates', () => {
  it('carry exactly one URI SAN with the SPIFFE ID, serverAuth+clientAuth, 24h lifetime', async () => {
    const id = workloadSpiffeId('cluster.local', 'shop', 'payment');
    const issued = issueCertificate(root, { profile: 'workload', spiffeId: id });
    const file = await save('workload.crt', issued.certificatePem);
    const text = (await openssl(['x509', '-in', file, '-noout', '-text'])).stdout;
    expect(text).toMatch(/X509v3 Subject Alternative Name: \n\s+URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/payment\n/);
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    for (const purpose of ['sslclient', 'sslserver']) {
      expect((await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', purpose, file])).stdout).toContain(': OK');
    }
    const info = inspectCertificate(issued.certificate);
    expect(info.spiffeId).toBe(id);
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBe(DEFAULT_LIFETIME_MS.workload + 5 * 60_000);
    expect(info.fingerprintSha256).toBe(new X509Certificate(issued.certificatePem).fingerprint256);
  });

  it('reject SPIFFE IDs that break the SPIFFE ID spec', () => {
    const bad = ['http://cluster.local/ns/a/sa/b', 'spiffe://Cluster.Local/ns/a', 'spiffe://cluster.local', 'spiffe://td/a//b', 'spiffe://td/a/../b', 'spiffe://td/a?x=1'];
    for (const spiffeId of bad) expect(() => issueCertificate(root, { profile: 'workload', spiffeId })).toThrow(/invalid SPIFFE ID|has no path/);
    expect(() => issueCertificate(root, { profile: 'workload' })).toThrow(/needs a SPIFFE ID/);
  });
});

describe('intermediate CA', () => {
  it('chains leaf -> intermediate -> root for openssl, with pathlen 0 on the intermediate', async () => {
    const intermediate = createIntermediateCa(root);
    expect(certificateDetails(intermediate.certificate).pathLength).toBe(0);
    expect(() => createIntermediateCa(intermediate)).toThrow(/pathLenConstraint 0/);
    const issued = issueCertificate(intermediate, { profile: 'workload', spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
    // the chain a server presents: leaf + intermediate, never the root
    expect(issued.chainPem).toBe(issued.certificatePem + intermediate.certificatePem);
    const chainFile = await save('chain.crt', issued.chainPem);
    const leafFile = await save('leaf.crt', issued.certificatePem);
    expect((await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-untrusted', chainFile, leafFile])).stdout).toContain(': OK');
    expect((await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), leafFile])).code).not.toBe(0);
  });
});

describe('client certificates and files', () => {
  it('issues clientAuth-only certificates and writes keys with mode 0600', async () => {
    const issued = issueCertificate(root, { profile: 'client', commonName: 'ci-bot' });
    expect(certificateDetails(issued.certificate).extKeyUsage).toEqual(['clientAuth']);
    const { certFile, keyFile } = await writePair(dir, 'ci-bot', issued);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslclient', certFile])).stdout).toContain(': OK');
    expect((await openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslserver', certFile])).code).not.toBe(0);
    // openssl agrees that the key belongs to the certificate
    const keyModulus = (await openssl(['pkey', '-in', keyFile, '-pubout'])).stdout;
    const certModulus = (await openssl(['x509', '-in', certFile, '-noout', '-pubkey'])).stdout;
    expect(keyModulus).toBe(certModulus);
  });
});

describe('expiry warnings', () => {
  it('warn under 30 days or under a third of the lifetime, not otherwise', () => {
    const now = new Date();
    const at = (ms: number) => new Date(now.getTime() + ms);
    const day = 86_400_000;
    const make = (from: number, to: number) => inspectCertificate(issueCertificate(root, { profile: 'server', dnsNames: ['e.example'], notBefore: at(from), notAfter: at(to) }).certificate, now);
    expect(expiryWarning(make(-day, 364 * day), now)).toBeUndefined();
    expect(expiryWarning(make(-3_600_000, 23 * 3_600_000), now)).toBeUndefined(); // a fresh 24h workload certificate
    expect(expiryWarning(make(-300 * day, 20 * day), now)).toMatch(/^expires soon: 20 days left/);
    expect(expiryWarning(make(-20 * 3_600_000, 4 * 3_600_000), now)).toMatch(/^expires soon: 4\.0 hours left of 24\.0 hours/);
    expect(expiryWarning(make(-2 * day, -day), now)).toMatch(/^expired on /);
    expect(expiryWarning(make(day, 2 * day), now)).toMatch(/^not yet valid/);
  });
});
