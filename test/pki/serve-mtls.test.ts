/**
 * `celgate serve` with mutual TLS, checked by the system's openssl (issue: PKI, sections 3 and 6):
 * certificates made by `celgate certs`, a handshake with and without a client certificate, and
 * the verified client's SPIFFE ID deciding as `source.principal` in an AuthorizationPolicy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run, openssl, temporaryDirectory } from './support.js';

const CART = 'spiffe://cluster.local/ns/shop/sa/cart';
const OTHER = 'spiffe://cluster.local/ns/shop/sa/other';

// Istio (authorization-policy reference): `principals` match the peer identity without the
// spiffe:// prefix; an ALLOW policy in the root namespace applies mesh-wide and denies what
// it does not match.
const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-only, namespace: istio-system}
spec:
  action: ALLOW
  rules:
    - from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]
`;

interface Served {
  child: ChildProcess;
  webhookPort: number;
  authzPort: number;
  stderr: () => string;
}

function serve(args: string[]): Promise<Served> {
  const child = spawn('node', ['bin/celgate.js', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 40_000);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const webhook = /admission webhook: https:\/\/[^:]+:(\d+)/.exec(stdout);
      const authz = /ext_authz HTTP: https:\/\/[^:]+:(\d+)/.exec(stdout);
      if (webhook && authz) {
        clearTimeout(timer);
        resolve({ child, webhookPort: Number(webhook[1]), authzPort: Number(authz[1]), stderr: () => stderr });
      }
    });
  });
}

const sClient = (port: number, dir: string, extra: string[], input: string) =>
  run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', join(dir, 'ca.crt'), '-verify_return_error', '-servername', 'localhost', '-ign_eof', ...extra], input);

const withCert = (dir: string, name: string) => ['-cert', join(dir, `${name}.crt`), '-key', join(dir, `${name}.key`)];

describe('celgate serve with --client-ca', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let served: Served;

  beforeAll(async () => {
    ({ dir, remove } = await temporaryDirectory());
    const certs = join(dir, 'certs');
    const celgate = (args: string[]) => run('node', ['bin/celgate.js', ...args]);
    expect((await celgate(['certs', 'init', '--dir', certs])).code).toBe(0);
    expect((await celgate(['certs', 'issue', '--dir', certs, '--name', 'cart', '--spiffe', CART])).code).toBe(0);
    expect((await celgate(['certs', 'issue', '--dir', certs, '--name', 'other', '--spiffe', OTHER])).code).toBe(0);
    // `certs webhook` output is what openssl verifies against the CA (acceptance of the PKI issue).
    expect((await celgate(['certs', 'webhook', '--service', 'celgate', '--namespace', 'celgate', '--dir', certs])).code).toBe(0);
    for (const name of ['serving', 'cart']) {
      const verified = await openssl(['verify', '-CAfile', join(certs, 'ca.crt'), join(certs, `${name}.crt`)]);
      expect(verified.stdout).toContain(': OK');
    }
    const policies = join(dir, 'policies');
    await mkdir(policies);
    await writeFile(join(policies, 'cart-only.yaml'), POLICY);
    served = await serve(['--policies', policies, '--certs', certs, '--client-ca', join(certs, 'ca.crt'), '--host', '127.0.0.1', '--port', '0', '--authz-http-port', '0', '--authz-grpc-port', 'off']);
    dir = certs;
  }, 60_000);

  afterAll(async () => {
    served?.child.kill('SIGTERM');
    await remove();
  });

  it('completes the handshake with a client certificate, on the webhook and on ext_authz', async () => {
    for (const port of [served.webhookPort, served.authzPort]) {
      const result = await sClient(port, dir, withCert(dir, 'cart'), 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      expect(result.stdout).toMatch(/Verify return code: 0 \(ok\)/);
      expect(result.stdout).toMatch(/HTTP\/1\.1 200/);
    }
  });

  it('rejects a client without a certificate and logs the peer address', async () => {
    const result = await sClient(served.webhookPort, dir, [], 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(result.stdout).not.toMatch(/HTTP\/1\.1 200/);
    expect(result.stderr + result.stdout).toMatch(/certificate required|alert/i);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(served.stderr()).toMatch(/TLS handshake from 127\.0\.0\.1:\d+ rejected: the client sent no certificate/);
  });

  it("decides with the verified peer's SPIFFE ID as source.principal", async () => {
    const check = (name: string) =>
      sClient(served.authzPort, dir, withCert(dir, name), 'GET /cart/items HTTP/1.1\r\nHost: cart.shop\r\nConnection: close\r\n\r\n');
    expect((await check('cart')).stdout).toMatch(/HTTP\/1\.1 200/);
    expect((await check('other')).stdout).toMatch(/HTTP\/1\.1 403/);
  });
});
