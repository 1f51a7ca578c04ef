/** `celgate certs`, run as a user runs it (bin/celgate.js over dist/, built by `npm test`'s pretest). */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { issueCertificate, loadCa, writePair } from '../../src/pki/index.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const celgate = (...args: string[]) => exec('node', ['bin/celgate.js', 'certs', ...args]);
const openssl = (...args: string[]) => exec('openssl', args);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'celgate-certs-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('celgate certs init', () => {
  it('writes ca.crt and a 0600 ca.key, and refuses to overwrite without --force', async () => {
    const certs = join(dir, 'init');
    const first = await celgate('init', '--dir', certs, '--trust-domain', 'example.org');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^wrote .*ca\.crt and .*ca\.key \(trust domain example\.org, serial [0-9A-F]+/);
    expect((await stat(join(certs, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await openssl('x509', '-in', join(certs, 'ca.crt'), '-noout', '-ext', 'subjectAltName')).stdout).toContain('URI:spiffe://example.org');
    const before = await readFile(join(certs, 'ca.crt'), 'utf8');

    const again = await celgate('init', '--dir', certs);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/ca\.crt already exists; refusing to replace the CA .* Use --force to replace it\./);
    expect(await readFile(join(certs, 'ca.crt'), 'utf8')).toBe(before);

    const forced = await celgate('init', '--dir', certs, '--force');
    expect(forced.code).toBe(0);
    expect(await readFile(join(certs, 'ca.crt'), 'utf8')).not.toBe(before);
  });
});

describe('celgate certs issue', () => {
  const certs = () => join(dir, 'issue');
  beforeAll(async () => {
    expect((await celgate('init', '--dir', certs())).code).toBe(0);
  });

  it('issues a server certificate with DNS and IP SANs that openssl verifies', async () => {
    const run = await celgate('issue', '--dir', certs(), '--name', 'api', '--dns', 'api.shop.svc', '--dns', 'api.shop.svc.cluster.local', '--ip', '10.1.2.3', '--days', '30');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/wrote .*api\.crt and .*api\.key \(server, serial/);
    expect((await openssl('verify', '-CAfile', join(certs(), 'ca.crt'), '-purpose', 'sslserver', join(certs(), 'api.crt'))).stdout).toContain(': OK');
    expect((await openssl('x509', '-in', join(certs(), 'api.crt'), '-noout', '-ext', 'subjectAltName')).stdout).toContain('DNS:api.shop.svc, DNS:api.shop.svc.cluster.local, IP Address:10.1.2.3');
    expect((await stat(join(certs(), 'api.key'))).mode & 0o777).toBe(0o600);
  });

  it('issues a SPIFFE workload certificate that openssl shows with its URI SAN', async () => {
    const run = await celgate('issue', '--dir', certs(), '--name', 'payment', '--spiffe', 'spiffe://cluster.local/ns/shop/sa/payment');
    expect(run.code).toBe(0);
    const text = (await openssl('x509', '-in', join(certs(), 'payment.crt'), '-noout', '-text')).stdout;
    expect(text).toContain('URI:spiffe://cluster.local/ns/shop/sa/payment');
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
  });

  it('exits 2 with a clear message on bad input', async () => {
    const noNames = await celgate('issue', '--dir', certs(), '--name', 'x');
    expect(noNames).toMatchObject({ code: 2 });
    expect(noNames.stderr).toContain('give at least one of --dns, --ip or --spiffe');
    const badId = await celgate('issue', '--dir', certs(), '--name', 'x', '--spiffe', 'spiffe://Bad/ns');
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain("invalid SPIFFE ID 'spiffe://Bad/ns'");
    const noCa = await celgate('issue', '--dir', join(dir, 'nothing'), '--name', 'x', '--dns', 'a.b');
    expect(noCa.code).toBe(2);
    expect(noCa.stderr).toMatch(/nothing\/ca\.crt: cannot read the CA certificate: ENOENT/);
    expect((await celgate('issue', '--dir', certs(), '--name', 'x', '--ip', '999.1.1.1')).stderr).toContain("invalid IP address '999.1.1.1'");
    expect((await celgate('frobnicate')).code).toBe(2);
  });
});

describe('celgate certs webhook', () => {
  it('issues the serving certificate for the Service names and prints the caBundle', async () => {
    const certs = join(dir, 'webhook');
    const run = await celgate('webhook', '--service', 'celgate', '--namespace', 'celgate', '--dir', certs);
    expect(run.code).toBe(0);
    // Kubernetes API (admissionregistration/v1 WebhookClientConfig): "caBundle is a PEM encoded CA
    // bundle which will be used to validate the webhook's server certificate" ([]byte: base64 in YAML)
    expect(Buffer.from(run.stdout.trim(), 'base64').toString('utf8')).toBe(await readFile(join(certs, 'ca.crt'), 'utf8'));
    const sans = (await openssl('x509', '-in', join(certs, 'serving.crt'), '-noout', '-ext', 'subjectAltName')).stdout;
    expect(sans).toContain('DNS:celgate, DNS:celgate.celgate, DNS:celgate.celgate.svc, DNS:celgate.celgate.svc.cluster.local');
    expect((await openssl('verify', '-CAfile', join(certs, 'ca.crt'), '-verify_hostname', 'celgate.celgate.svc', join(certs, 'serving.crt'))).stdout).toContain(': OK');
  });

  it('replaces caBundle in the webhook configurations only (on a copy of webhooks/)', async () => {
    const certs = join(dir, 'webhook-manifests');
    const manifests = join(dir, 'manifests');
    await cp('webhooks', manifests, { recursive: true });
    await writeFile(join(manifests, 'other.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  caBundle: keep-me\n');
    const originals = await readFile(join(manifests, 'validatingwebhookconfiguration.yaml'), 'utf8');
    const run = await celgate('webhook', '--dir', certs, '--write-manifests', manifests);
    expect(run.code).toBe(0);
    const bundle = run.stdout.trim();
    for (const file of ['validatingwebhookconfiguration.yaml', 'mutatingwebhookconfiguration.yaml']) {
      const text = await readFile(join(manifests, file), 'utf8');
      for (const document of parseAllDocuments(text)) {
        const hooks = (document.toJS() as { webhooks: { clientConfig: { caBundle: string } }[] }).webhooks;
        expect(hooks.length).toBeGreaterThan(0);
        for (const hook of hooks) expect(hook.clientConfig.caBundle).toBe(bundle);
      }
    }
    // comments and everything else stay as written
    const updated = await readFile(join(manifests, 'validatingwebhookconfiguration.yaml'), 'utf8');
    expect(updated.replace(bundle, '""')).toBe(originals);
    expect(await readFile(join(manifests, 'other.yaml'), 'utf8')).toContain('caBundle: keep-me');
  });
});

describe('celgate certs inspect', () => {
  it('prints the fields of a workload certificate and warns when expiry is near', async () => {
    const certs = join(dir, 'inspect');
    await celgate('init', '--dir', certs);
    await celgate('issue', '--dir', certs, '--name', 'cart', '--spiffe', 'spiffe://cluster.local/ns/shop/sa/cart');
    const run = await celgate('inspect', join(certs, 'cart.crt'));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^subject: +O=celgate, CN=cart$/m);
    expect(run.stdout).toMatch(/^SPIFFE ID: +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart$/m);
    expect(run.stdout).toMatch(/^issuer: +O=celgate, CN=celgate root CA \(cluster\.local\)$/m);
    expect(run.stdout).toMatch(/^days left: +0$/m);
    const fingerprint = (await openssl('x509', '-in', join(certs, 'cart.crt'), '-noout', '-fingerprint', '-sha256')).stdout.trim().split('=')[1];
    expect(run.stdout).toContain(`SHA-256:    ${fingerprint}`);
    expect(run.stderr).toBe('');

    const ca = loadCa(certs);
    const day = 86_400_000;
    const at = (days: number) => new Date(Date.now() + days * day);
    await writePair(certs, 'short', issueCertificate(ca, { profile: 'server', commonName: 'short', dnsNames: ['a.example'], notBefore: at(-20), notAfter: at(10) }));
    const soon = await celgate('inspect', join(certs, 'short.crt'));
    expect(soon.code).toBe(0);
    expect(soon.stderr).toMatch(/^warning: .*short\.crt: certificate 'O=celgate, CN=short' expires soon: 10 days left of 30 days/);
    await writePair(certs, 'old', issueCertificate(ca, { profile: 'server', commonName: 'old', dnsNames: ['a.example'], notBefore: at(-20), notAfter: at(-1) }));
    const expired = await celgate('inspect', join(certs, 'old.crt'));
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/^warning: .*old\.crt: certificate 'O=celgate, CN=old' expired on /);

    const json = JSON.parse((await celgate('inspect', join(certs, 'ca.crt'), '--json')).stdout);
    expect(json[0]).toMatchObject({ isCa: true, pathLength: 1, keyUsage: ['keyCertSign', 'cRLSign'], spiffeId: 'spiffe://cluster.local' });
  });

  it('exits 2 naming the file for malformed input', async () => {
    const file = join(dir, 'garbage.crt');
    await writeFile(file, 'not a certificate');
    const run = await celgate('inspect', file);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}: no PEM certificate found`);
  });
});
