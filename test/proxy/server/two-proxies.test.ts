/**
 * Two proxies on loopback, as two sidecars: the shopping workload's outbound listener routes to
 * the payment workload's inbound listener over mutual TLS (SPIFFE certificates from a mesh CA),
 * which authorises every request with the access engine and forwards it to a real node:http app.
 */
import { request as httpRequest } from 'node:http';
import { Agent, request } from 'undici';
import { startProxy, type RunningProxy } from '../../../src/proxy/server/index.js';
import { meshCa, principalOf, proxyConfig, serviceEntry, startApp, tempDir, workloadFiles, write, type TestApp } from './mesh.js';

const PAYMENT_HOST = 'payment.shop.svc.cluster.local';

const POLICIES = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payment, namespace: shop}
spec:
  selector: {matchLabels: {app: payment}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/shopping]}}]
    to: [{operation: {methods: [POST], paths: [/api/v1/pay]}}]
  - to: [{operation: {methods: [GET], paths: [/public/*]}}]
`;

describe('two proxies: outbound → mTLS → inbound → app', () => {
  let app: TestApp;
  let server: RunningProxy;
  let shopping: RunningProxy;
  let other: RunningProxy;
  let direct: Agent;
  const ca = meshCa();

  beforeAll(async () => {
    app = await startApp();
    const serverDir = tempDir();
    write(serverDir, 'policies.yaml', POLICIES);
    const paymentId = workloadFiles(ca, serverDir, 'shop', 'payment');
    server = await startProxy(
      proxyConfig({
        dir: serverDir,
        namespace: 'shop',
        serviceAccount: 'payment',
        labels: { app: 'payment' },
        meshPaths: [serverDir],
        identity: paymentId,
        listeners: [{ mode: 'inbound', name: 'inbound', address: '127.0.0.1', port: 0, application: app.url }],
      }),
    );
    const client = async (serviceAccount: string): Promise<RunningProxy> => {
      const dir = tempDir();
      write(dir, 'services.yaml', serviceEntry('payment', 'shop', PAYMENT_HOST, [{ port: server.ports['inbound']!, serviceAccount: 'payment' }]));
      return startProxy(
        proxyConfig({
          dir,
          namespace: 'shop',
          serviceAccount,
          labels: { app: serviceAccount },
          meshPaths: [dir],
          identity: workloadFiles(ca, dir, 'shop', serviceAccount),
          listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }],
        }),
      );
    };
    shopping = await client('shopping');
    other = await client('other');
    const otherDir = tempDir();
    const shoppingFiles = workloadFiles(ca, otherDir, 'shop', 'shopping');
    direct = new Agent({ connect: { cert: shoppingFiles.pem.cert, key: shoppingFiles.pem.key, ca: shoppingFiles.pem.ca, checkServerIdentity: () => undefined } });
  });

  afterAll(async () => {
    await Promise.all([shopping?.close(), other?.close(), server?.close()]);
    await direct?.close();
    await app?.close();
  });

  const viaOutbound = (proxy: RunningProxy, method: string, path: string, body?: string) =>
    request(`http://127.0.0.1:${proxy.ports['outbound']}${path}`, { method: method as 'GET', headers: { host: PAYMENT_HOST }, ...(body !== undefined ? { body } : {}) });

  test('a request flows and the app sees x-forwarded-client-cert with the client principal', async () => {
    const response = await viaOutbound(shopping, 'GET', '/public/hello?x=1');
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ ok: true, path: '/public/hello?x=1' });
    const seen = app.seen.at(-1)!;
    // Envoy XFCC: By= our (the server's) identity, URI= the verified client certificate's SPIFFE ID.
    expect(seen.headers['x-forwarded-client-cert']).toMatch(new RegExp(`^By=${principalOf('shop', 'payment')};Hash=[0-9a-f]{64};URI=${principalOf('shop', 'shopping')}$`));
    expect(seen.headers['host']).toBe(PAYMENT_HOST);
    expect(seen.headers['x-request-id']).toBeTruthy();
    expect(seen.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(seen.headers['x-forwarded-for']).toContain('127.0.0.1');
  });

  test('only the shopping principal may POST /api/v1/pay', async () => {
    const allowed = await viaOutbound(shopping, 'POST', '/api/v1/pay', '{"amount":3}');
    expect(allowed.statusCode).toBe(200);
    await allowed.body.dump();
    expect(app.seen.at(-1)).toMatchObject({ method: 'POST', url: '/api/v1/pay', body: '{"amount":3}' });
    // Istio docs (authorization-policy): ALLOW policies deny a request that matches none of their rules.
    const denied = await viaOutbound(other, 'POST', '/api/v1/pay', '{"amount":3}');
    expect(denied.statusCode).toBe(403);
    expect(await denied.body.text()).toContain('RBAC: access denied');
  });

  test('STRICT rejects plain text (the connection is closed, nothing reaches the app)', async () => {
    const before = app.seen.length;
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.ports['inbound'], path: '/public/x', headers: { host: PAYMENT_HOST } }, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      req.end();
    });
    expect(outcome).toMatch(/^error (ECONNRESET|socket hang up)/);
    expect(app.seen.length).toBe(before);
  });

  test('STRICT answers TLS without a client certificate with 403', async () => {
    const anonymous = new Agent({ connect: { ca: ca.certificatePem, checkServerIdentity: () => undefined } });
    try {
      const response = await request(`https://127.0.0.1:${server.ports['inbound']}/public/x`, { dispatcher: anonymous, headers: { host: PAYMENT_HOST } });
      expect(response.statusCode).toBe(403);
      expect(await response.body.text()).toContain('mutual TLS is required');
    } finally {
      await anonymous.close();
    }
  });

  test.each([['/public/../admin'], ['/public/%2e%2e/admin'], ['//admin'], ['/public%2Fadmin'], ['/public/./../admin']])(
    'path normalisation: %s cannot reach a path the policy denies',
    async (path) => {
      const before = app.seen.length;
      const response = await request(`https://127.0.0.1:${server.ports['inbound']}${path}`, { dispatcher: direct, headers: { host: PAYMENT_HOST } });
      // Istio (security best practices, path normalisation): BASE resolves dot segments and
      // decodes %2e; '//admin' and '/public%2Fadmin' stay as they are and match no /public/* rule.
      expect(response.statusCode).toBe(403);
      await response.body.dump();
      expect(app.seen.slice(before)).toEqual([]);
    },
  );

  test('the normalised path is the forwarded path', async () => {
    const response = await request(`https://127.0.0.1:${server.ports['inbound']}/public/a/../b`, { dispatcher: direct, headers: { host: PAYMENT_HOST } });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    expect(app.seen.at(-1)!.url).toBe('/public/b');
  });
});
