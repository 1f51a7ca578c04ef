/**
 * Retries, timeouts and the circuit breaker through a real outbound listener to real apps
 * (plain text: a proxy without identity does not originate mTLS).
 */
import { request } from 'undici';
import { startProxy, type RunningProxy } from '../../../src/proxy/server/index.js';
import { proxyConfig, serviceEntry, startApp, tempDir, write, type TestApp } from './mesh.js';

const HOST = 'inventory.shop.svc.cluster.local';

async function outboundProxy(dir: string): Promise<RunningProxy> {
  return startProxy(proxyConfig({ dir, namespace: 'shop', serviceAccount: 'shopping', labels: { app: 'shopping' }, meshPaths: [dir], listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }] }));
}

function get(proxy: RunningProxy, path: string, host = HOST) {
  return request(`http://127.0.0.1:${proxy.ports['outbound']}${path}`, { headers: { host } });
}

describe('retries', () => {
  let apps: TestApp[];
  let proxy: RunningProxy;
  beforeAll(async () => {
    apps = [await startApp(), await startApp()];
    const dir = tempDir();
    write(dir, 'services.yaml', serviceEntry('inventory', 'shop', HOST, apps.map((a) => ({ port: a.port }))));
    // Istio HTTPRetry: attempts are retries after the first try; retryOn takes Envoy's x-envoy-retry-on values.
    write(dir, 'vs.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inventory, namespace: shop}
spec:
  hosts: [${HOST}]
  http:
  - route: [{destination: {host: ${HOST}}}]
    retries: {attempts: 3, retryOn: 'connect-failure,reset,503'}
`);
    proxy = await outboundProxy(dir);
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all(apps.map((a) => a.close()));
  });

  test('an endpoint killed: retries move to the healthy one (no failed GET in 200)', async () => {
    await apps[0]!.close();
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const response = await get(proxy, `/items/${i}`);
      statuses.push(response.statusCode);
      await response.body.dump();
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(apps[1]!.seen.length).toBe(200);
  });
});

describe('timeouts and the circuit breaker', () => {
  let slow: TestApp;
  let proxy: RunningProxy;
  beforeAll(async () => {
    slow = await startApp((request, res) => {
      const delay = Number(new URL(request.url, 'http://x').searchParams.get('delay') ?? '0');
      setTimeout(() => res.end('done'), delay);
    });
    const dir = tempDir();
    write(dir, 'services.yaml', serviceEntry('inventory', 'shop', HOST, [{ port: slow.port }]) + '---\n' + serviceEntry('limited', 'shop', 'limited.shop.svc.cluster.local', [{ port: slow.port }]));
    write(dir, 'vs.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inventory, namespace: shop}
spec:
  hosts: [${HOST}]
  http:
  - route: [{destination: {host: ${HOST}}}]
    timeout: 200ms
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: limited, namespace: shop}
spec:
  host: limited.shop.svc.cluster.local
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
`);
    proxy = await outboundProxy(dir);
  });
  afterAll(async () => {
    await proxy?.close();
    await slow?.close();
  });

  test('the route timeout gives 504 "upstream request timeout"', async () => {
    const started = Date.now();
    const response = await get(proxy, '/slow?delay=2000');
    expect(response.statusCode).toBe(504);
    expect(await response.body.text()).toBe('upstream request timeout\n');
    expect(Date.now() - started).toBeLessThan(1500);
    const fast = await get(proxy, '/fast?delay=10');
    expect(fast.statusCode).toBe(200);
    await fast.body.dump();
  });

  test('the breaker answers 503 with x-envoy-overloaded at its limit', async () => {
    // Istio ConnectionPoolSettings: maxConnections 1 + http1MaxPendingRequests 1 ⇒ a third concurrent request overflows.
    const responses = await Promise.all([0, 1, 2].map((i) => get(proxy, `/hold?delay=400&i=${i}`, 'limited.shop.svc.cluster.local')));
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 200, 503]);
    const overflowed = responses.find((r) => r.statusCode === 503)!;
    expect(overflowed.headers['x-envoy-overloaded']).toBe('true');
    await Promise.all(responses.map((r) => r.body.dump()));
  });

  test('an unknown host gets 404 and a known host without a VirtualService is routed', async () => {
    const unknown = await get(proxy, '/', 'nowhere.example');
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
    const known = await get(proxy, '/x?delay=0', 'limited.shop.svc.cluster.local');
    expect(known.statusCode).toBe(200);
    await known.body.dump();
  });
});

describe('bad input', () => {
  let app: TestApp;
  let proxy: RunningProxy;
  beforeAll(async () => {
    app = await startApp();
    const dir = tempDir();
    write(dir, 'services.yaml', serviceEntry('inventory', 'shop', HOST, [{ port: app.port }]));
    proxy = await startProxy(proxyConfig({ dir, namespace: 'shop', serviceAccount: 'shopping', labels: {}, meshPaths: [dir], limits: { maxRequestBodyBytes: 1024 }, listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }] }));
  });
  afterAll(async () => {
    await proxy?.close();
    await app?.close();
  });

  test('a malformed request gets 400 and the listener keeps serving', async () => {
    const { connect } = await import('node:net');
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(proxy.ports['outbound']!, '127.0.0.1', () => socket.write('GARBAGE \x01\x02 HTTP/9\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    const ok = await get(proxy, '/still-ok');
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });

  test('a body over the limit gets 413 and never reaches the app', async () => {
    const before = app.seen.length;
    const response = await request(`http://127.0.0.1:${proxy.ports['outbound']}/upload`, { method: 'POST', headers: { host: HOST }, body: 'x'.repeat(4096) });
    expect(response.statusCode).toBe(413);
    await response.body.dump();
    expect(app.seen.length).toBe(before);
  });

  test('a %00 in the path is refused with 400', async () => {
    const response = await get(proxy, '/a%00b');
    expect(response.statusCode).toBe(400);
    await response.body.dump();
  });
});
