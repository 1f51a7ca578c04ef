/** The admin server on 127.0.0.1, called with undici. */
import { connect } from 'node:net';
import { request } from 'undici';
import { startAdminServer, type AdminServer } from '../../src/proxy/admin.js';
import { createProxyMetrics } from '../../src/telemetry/proxy-metrics.js';

describe('admin server', () => {
  let server: AdminServer;
  let ready = false;
  let dumpFails = false;
  const metrics = createProxyMetrics();
  let base: string;

  beforeAll(async () => {
    server = await startAdminServer({
      port: 0,
      ready: () => ready,
      configDump: () => {
        if (dumpFails) throw new Error('dump broke');
        return { routes: new Map([['shop/a', { retryOn: new Set(['5xx']), uri: /^\/api/, attempts: 3n }]]) };
      },
      clusters: () => [{ name: 'outbound|80||a.shop.svc.cluster.local', endpoints: [{ id: '10.0.0.1:80', healthy: true }] }],
      metrics: metrics.registry,
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  test('listens on loopback by default', () => {
    expect(server.address).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
  });

  test('/ready follows the ready callback', async () => {
    ready = false;
    let res = await request(`${base}/ready`);
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('not ready\n');
    ready = true;
    res = await request(`${base}/ready?verbose=1`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ready\n');
  });

  test('/config_dump and /clusters answer JSON; Maps, Sets, RegExps and bigints are readable', async () => {
    const dump = await request(`${base}/config_dump`);
    expect(dump.statusCode).toBe(200);
    expect(dump.headers['content-type']).toBe('application/json');
    expect(await dump.body.json()).toEqual({ routes: { 'shop/a': { retryOn: ['5xx'], uri: '^\\/api', attempts: 3 } } });
    const clusters = await request(`${base}/clusters`);
    expect(await clusters.body.json()).toEqual([{ name: 'outbound|80||a.shop.svc.cluster.local', endpoints: [{ id: '10.0.0.1:80', healthy: true }] }]);
  });

  test('a failing dump answers 500 with the message, and the server keeps serving', async () => {
    dumpFails = true;
    const res = await request(`${base}/config_dump`);
    expect(res.statusCode).toBe(500);
    expect(await res.body.text()).toBe('admin error: dump broke\n');
    dumpFails = false;
    expect((await request(`${base}/config_dump`)).statusCode).toBe(200);
  });

  test('/metrics is Prometheus text from the given registry', async () => {
    metrics.requestFinished({ listener: 'inbound', route: 'r', destination: 'd', subset: '' }, 200, 0.01);
    const res = await request(`${base}/metrics`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.body.text();
    expect(text).toContain('# TYPE celgate_proxy_requests_total counter');
    expect(text).toContain('celgate_proxy_requests_total{listener="inbound",route="r",destination="d",subset="",status="200"} 1');
    expect(text).toContain('# TYPE celgate_proxy_request_duration_seconds histogram');
  });

  test('404 for unknown paths, 405 for other methods, 413 for a body', async () => {
    const missing = await request(`${base}/stats`);
    expect(missing.statusCode).toBe(404);
    expect(await missing.body.text()).toContain('try /ready, /config_dump, /clusters, /metrics');
    const post = await request(`${base}/ready`, { method: 'POST', body: 'x' });
    expect(post.statusCode).toBe(405);
    expect(post.headers['allow']).toBe('GET');
    await post.body.dump();
    const withBody = await request(`${base}/ready`, { method: 'GET', body: 'hello' });
    expect(withBody.statusCode).toBe(413);
    await withBody.body.dump();
  });

  test('a malformed request gets 400 and the connection is closed', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('NOT HTTP\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });
});

test('port in use is reported by startAdminServer', async () => {
  const first = await startAdminServer({ port: 0, ready: () => true, configDump: () => ({}), clusters: () => [], metrics: createProxyMetrics().registry });
  await expect(startAdminServer({ port: first.port, ready: () => true, configDump: () => ({}), clusters: () => [], metrics: createProxyMetrics().registry })).rejects.toThrow(/EADDRINUSE/);
  await first.close();
});
