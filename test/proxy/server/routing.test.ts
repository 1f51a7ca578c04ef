/**
 * VirtualService and DestinationRule features through real listeners to real apps: rewrite,
 * header operations, weights, mirroring, fault delay, redirects, consistent hashing, outlier
 * detection, and an AccessPolicy route hint at a gateway.
 */
import { request } from 'undici';
import { startProxy, type RunningProxy } from '../../../src/proxy/server/index.js';
import { proxyConfig, serviceEntry, startApp, tempDir, write, type TestApp } from './mesh.js';

const REVIEWS = 'reviews.shop.svc.cluster.local';
const STICKY = 'sticky.shop.svc.cluster.local';
const FLAKY = 'flaky.shop.svc.cluster.local';

const MESH = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: ${REVIEWS}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [${REVIEWS}]
  http:
  - match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v2api/}
    headers:
      request: {set: {x-routed: "yes"}, remove: [x-secret]}
      response: {add: {x-served-by: celgate}}
    route: [{destination: {host: ${REVIEWS}, subset: v1}}]
  - match: [{uri: {prefix: /mirror}}]
    route: [{destination: {host: ${REVIEWS}, subset: v1}}]
    mirror: {host: ${REVIEWS}, subset: v2}
    mirrorPercentage: {value: 100}
  - match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: ${REVIEWS}, subset: v1}, weight: 50}
    - {destination: {host: ${REVIEWS}, subset: v2}, weight: 50}
  - match: [{uri: {prefix: /delay}}]
    fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}
    route: [{destination: {host: ${REVIEWS}, subset: v1}}]
  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new, redirectCode: 302}
  - route: [{destination: {host: ${REVIEWS}, subset: v1}}]
    corsPolicy:
      allowOrigins: [{exact: "https://shop.example.com"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-user]
      exposeHeaders: [x-trace]
      maxAge: 24h
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [shop-gw]
  http:
  - route: [{destination: {host: ${REVIEWS}, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop-gw, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
---
apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: beta, namespace: shop}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  rules:
  - name: beta-testers
    effect: ALLOW
    condition: "'x-beta' in request.headers && request.headers['x-beta'] == 'yes'"
    response: {route: {subset: v2}}
  - name: everyone-else
    effect: ALLOW
    condition: "!('x-beta' in request.headers && request.headers['x-beta'] == 'yes')"
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky, namespace: shop}
spec:
  host: ${STICKY}
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky, namespace: shop}
spec:
  host: ${FLAKY}
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: shop}
spec:
  hosts: [${FLAKY}]
  http:
  - route: [{destination: {host: ${FLAKY}}}]
    retries: {attempts: 0}
`;

describe('routing features', () => {
  let v1: TestApp;
  let v2: TestApp;
  let broken: TestApp;
  let proxy: RunningProxy;

  beforeAll(async () => {
    const named = (name: string) => (_request: unknown, res: import('node:http').ServerResponse) => res.end(name);
    v1 = await startApp(named('v1'));
    v2 = await startApp(named('v2'));
    broken = await startApp((_request, res) => {
      res.statusCode = 503;
      res.end('broken');
    });
    const dir = tempDir();
    write(dir, 'mesh.yaml', MESH);
    write(
      dir,
      'services.yaml',
      [
        serviceEntry('reviews', 'shop', REVIEWS, [{ port: v1.port, labels: { version: 'v1' } }, { port: v2.port, labels: { version: 'v2' } }]),
        serviceEntry('sticky', 'shop', STICKY, [{ port: v1.port }, { port: v2.port }]),
        serviceEntry('flaky', 'shop', FLAKY, [{ port: broken.port }, { port: v2.port }]),
      ].join('---\n'),
    );
    proxy = await startProxy(
      proxyConfig({
        dir,
        namespace: 'shop',
        serviceAccount: 'ingress',
        labels: { istio: 'ingressgateway' },
        meshPaths: [dir],
        listeners: [
          { mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 },
          { mode: 'gateway', name: 'gateway', address: '127.0.0.1', port: 0, gateway: 'shop/shop-gw' },
        ],
      }),
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await Promise.all([v1?.close(), v2?.close(), broken?.close()]);
  });

  const get = async (path: string, host = REVIEWS, headers: Record<string, string> = {}, listener = 'outbound') => {
    const response = await request(`http://127.0.0.1:${proxy.ports[listener]}${path}`, { headers: { host, ...headers } });
    return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
  };

  test('rewrite.uri replaces the matched prefix; request and response header operations apply', async () => {
    const response = await get('/api/items?x=1', REVIEWS, { 'x-secret': 'token' });
    expect(response).toMatchObject({ status: 200, body: 'v1' });
    expect(response.headers['x-served-by']).toBe('celgate');
    const seen = v1.seen.at(-1)!;
    // Istio HTTPRewrite.uri: "rewrite the path (or the prefix) portion of the URI with this value".
    expect(seen.url).toBe('/v2api/items?x=1');
    expect(seen.headers['x-routed']).toBe('yes');
    expect(seen.headers['x-secret']).toBeUndefined();
  });

  test('weights split traffic between subsets', async () => {
    const counts: Record<string, number> = { v1: 0, v2: 0 };
    for (let i = 0; i < 200; i++) counts[(await get('/split'))!.body]!++;
    expect(counts['v1']! + counts['v2']!).toBe(200);
    expect(counts['v1']).toBeGreaterThan(60);
    expect(counts['v2']).toBeGreaterThan(60);
  });

  test('mirror sends a copy to the mirror subset with the Host suffixed -shadow', async () => {
    const before = v2.seen.length;
    const response = await get('/mirror/a');
    expect(response.body).toBe('v1');
    for (let i = 0; i < 50 && v2.seen.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    const copy = v2.seen.slice(before).find((s) => s.url === '/mirror/a');
    expect(copy?.headers['host']).toBe(`${REVIEWS}-shadow`);
  });

  test('fault delay holds the request for fixedDelay', async () => {
    const started = Date.now();
    const response = await get('/delay');
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  test('redirect answers with its code and Location', async () => {
    const response = await get('/old?q=1', `${REVIEWS}:9080`);
    expect(response.status).toBe(302);
    expect(response.headers['location']).toBe(`http://${REVIEWS}:9080/new?q=1`);
  });

  test('consistent hashing on a header keeps a user on one endpoint', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const bodies = new Set<string>();
      for (let i = 0; i < 10; i++) bodies.add((await get('/', STICKY, { 'x-user': user })).body);
      expect(bodies.size).toBe(1);
    }
  });

  test('outlier detection ejects an endpoint after consecutive 5xx', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await get('/', FLAKY)).status);
    // DestinationRule outlierDetection consecutive5xxErrors: 1 ⇒ after its first 503 the broken endpoint leaves the rotation.
    expect(statuses.filter((s) => s === 503).length).toBeLessThanOrEqual(2);
    expect(statuses.slice(-20).every((s) => s === 200)).toBe(true);
  });

  test('an AccessPolicy route hint at the gateway overrides the destination subset', async () => {
    expect((await get('/', 'shop.example.com', {}, 'gateway')).body).toBe('v1');
    expect((await get('/', 'shop.example.com', { 'x-beta': 'yes' }, 'gateway')).body).toBe('v2');
  });

  test('corsPolicy: an allowed preflight is answered by the proxy; actual requests get the allow headers', async () => {
    const before = v1.seen.length;
    const preflight = await request(`http://127.0.0.1:${proxy.ports['outbound']}/cart`, {
      method: 'OPTIONS',
      headers: { host: REVIEWS, origin: 'https://shop.example.com', 'access-control-request-method': 'POST' },
    });
    await preflight.body.dump();
    // Istio CorsPolicy: maxAge "specifies how long the results of a preflight request can be cached" (24h = 86400 s).
    expect(preflight.statusCode).toBe(200);
    expect(preflight.headers).toMatchObject({ 'access-control-allow-origin': 'https://shop.example.com', 'access-control-allow-methods': 'GET,POST', 'access-control-allow-headers': 'x-user', 'access-control-max-age': '86400' });
    expect(v1.seen.length).toBe(before);
    const actual = await get('/cart', REVIEWS, { origin: 'https://shop.example.com' });
    expect(actual.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(actual.headers['access-control-expose-headers']).toBe('x-trace');
    const foreign = await request(`http://127.0.0.1:${proxy.ports['outbound']}/cart`, { method: 'OPTIONS', headers: { host: REVIEWS, origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    await foreign.body.dump();
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(v1.seen.at(-1)!.method).toBe('OPTIONS');
  });
});
