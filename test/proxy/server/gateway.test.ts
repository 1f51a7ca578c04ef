/** Gateway listeners: TLS termination from the Gateway's server settings, httpsRedirect, authorization at the edge. */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { issueCertificate } from '../../../src/pki/index.js';
import { startProxy, type RunningProxy } from '../../../src/proxy/server/index.js';
import { meshCa, proxyConfig, serviceEntry, startApp, tempDir, write, type TestApp } from './mesh.js';

const FRONTEND = 'frontend.shop.svc.cluster.local';

describe('gateway listeners', () => {
  const ca = meshCa();
  let app: TestApp;
  let proxy: RunningProxy;
  let agent: Agent;

  beforeAll(async () => {
    app = await startApp();
    const dir = tempDir();
    const serving = issueCertificate(ca, { profile: 'server', dnsNames: ['shop.example.com'] });
    writeFileSync(join(dir, 'shop.crt'), serving.chainPem);
    writeFileSync(join(dir, 'shop.key'), serving.privateKeyPem);
    write(dir, 'services.yaml', serviceEntry('frontend', 'shop', FRONTEND, [{ port: app.port }]));
    write(dir, 'gateways.yaml', `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop-gw, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, serverCertificate: ${join(dir, 'shop.crt')}, privateKey: ${join(dir, 'shop.key')}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop-http, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
    tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [shop-gw]
  http:
  - route: [{destination: {host: ${FRONTEND}}}]
---
# Istio docs (peer-authentication): PeerAuthentication "defines how traffic will be tunneled (or
# not) to the sidecar"; a gateway's listeners follow its Gateway servers' TLS settings. STRICT in
# the gateway's namespace must not refuse the plain (non-mutual) TLS clients of the edge.
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: edge, namespace: shop}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - to: [{operation: {paths: [/private/*]}}]
`);
    proxy = await startProxy(
      proxyConfig({
        dir,
        namespace: 'shop',
        serviceAccount: 'ingress',
        labels: { istio: 'ingressgateway' },
        meshPaths: [dir],
        listeners: [
          { mode: 'gateway', name: 'https', address: '127.0.0.1', port: 0, gateway: 'shop/shop-gw' },
          { mode: 'gateway', name: 'http', address: '127.0.0.1', port: 0, gateway: 'shop/shop-http' },
        ],
      }),
    );
    agent = new Agent({ connect: { ca: ca.certificatePem, servername: 'shop.example.com' } });
  });

  afterAll(async () => {
    await proxy?.close();
    await agent?.close();
    await app?.close();
  });

  test('SIMPLE TLS terminates with the server certificate and routes by the gateway-bound VirtualService', async () => {
    const response = await request(`https://127.0.0.1:${proxy.ports['https']}/catalog?page=2`, { dispatcher: agent, headers: { host: 'shop.example.com', 'x-forwarded-client-cert': 'By=forged;URI=spiffe://cluster.local/ns/x/sa/admin' } });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    const seen = app.seen.at(-1)!;
    expect(seen.url).toBe('/catalog?page=2');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    // A client's own x-forwarded-client-cert never passes the edge.
    expect(seen.headers['x-forwarded-client-cert']).toBeUndefined();
  });

  test('AuthorizationPolicy applies at the gateway', async () => {
    const before = app.seen.length;
    const response = await request(`https://127.0.0.1:${proxy.ports['https']}/private/x`, { dispatcher: agent, headers: { host: 'shop.example.com' } });
    expect(response.statusCode).toBe(403);
    await response.body.dump();
    expect(app.seen.length).toBe(before);
  });

  test('a host the gateway does not route gets 404', async () => {
    const lax = new Agent({ connect: { ca: ca.certificatePem, checkServerIdentity: () => undefined } });
    try {
      const response = await request(`https://127.0.0.1:${proxy.ports['https']}/`, { dispatcher: lax, headers: { host: 'other.example.com' } });
      expect(response.statusCode).toBe(404);
      await response.body.dump();
    } finally {
      await lax.close();
    }
  });

  test('httpsRedirect answers 301 to https', async () => {
    // Istio ServerTLSSettings.httpsRedirect: "If set to true, the load balancer will send a 301 redirect for all http connections".
    const response = await request(`http://127.0.0.1:${proxy.ports['http']}/cart?id=7`, { headers: { host: 'shop.example.com:8080' } });
    expect(response.statusCode).toBe(301);
    expect(response.headers['location']).toBe('https://shop.example.com/cart?id=7');
    await response.body.dump();
  });
});
