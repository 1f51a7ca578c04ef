/** The proxy's lifecycle and telemetry: graceful close, the admin server, the access log. */
import { request } from 'undici';
import { createAccessLog } from '../../../src/telemetry/access-log.js';
import { startProxy } from '../../../src/proxy/server/index.js';
import { proxyConfig, serviceEntry, startApp, tempDir, write } from './mesh.js';

const HOST = 'inventory.shop.svc.cluster.local';

test('close() finishes requests in flight and then refuses new ones', async () => {
  const app = await startApp((_request, res) => setTimeout(() => res.end('late'), 300));
  const dir = tempDir();
  write(dir, 'services.yaml', serviceEntry('inventory', 'shop', HOST, [{ port: app.port }]));
  const proxy = await startProxy(proxyConfig({ dir, namespace: 'shop', serviceAccount: 's', labels: {}, meshPaths: [dir], listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }] }));
  const url = `http://127.0.0.1:${proxy.ports['outbound']}/slow`;
  const inFlight = request(url, { headers: { host: HOST } });
  await new Promise((r) => setTimeout(r, 50));
  const closed = proxy.close();
  const response = await inFlight;
  expect(response.statusCode).toBe(200);
  expect(await response.body.text()).toBe('late');
  await closed;
  await expect(request(url, { headers: { host: HOST } })).rejects.toThrow();
  await app.close();
});

test('the admin server reports clusters and metrics; the access log has a line per request', async () => {
  const app = await startApp();
  const dir = tempDir();
  write(dir, 'services.yaml', serviceEntry('inventory', 'shop', HOST, [{ port: app.port }]));
  const lines: string[] = [];
  const config = { ...proxyConfig({ dir, namespace: 'shop', serviceAccount: 's', labels: {}, meshPaths: [dir], listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }] }), admin: { address: '127.0.0.1', port: 0 } };
  const proxy = await startProxy(config, { accessLog: createAccessLog({ write: (line: string) => lines.push(line) }) });
  try {
    const response = await request(`http://127.0.0.1:${proxy.ports['outbound']}/items?secret=1`, { headers: { host: HOST, 'x-request-id': 'req-42' } });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    expect(proxy.adminPort).toBeGreaterThan(0);
    const clusters = (await (await request(`http://127.0.0.1:${proxy.adminPort}/clusters`)).body.json()) as Array<{ name: string }>;
    expect(clusters.map((c) => c.name)).toContain(`outbound|80||${HOST}`);
    const metrics = await (await request(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body.text();
    expect(metrics).toMatch(/celgate_proxy_requests_total\{[^}]*listener="outbound"[^}]*\} 1/);
  } finally {
    await proxy.close();
    await app.close();
  }
  const entries = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const entry = entries.find((e) => e['request_id'] === 'req-42')!;
  expect(entry).toMatchObject({ listener: 'outbound', method: 'GET', status: 200, authority: HOST, cluster: `outbound|80||${HOST}`, upstream: `127.0.0.1:${app.port}`, attempts: 1, path: '/items' });
});

test('a ProxyConfig file loaded by loadProxyConfig starts and serves', async () => {
  const { loadProxyConfig } = await import('../../../src/proxy/config.js');
  const app = await startApp();
  const dir = tempDir();
  write(dir, 'mesh.yaml', serviceEntry('inventory', 'shop', HOST, [{ port: app.port }]));
  const file = write(
    dir,
    'proxy.yaml',
    `apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
metadata: {name: shopping}
spec:
  workload: {name: shopping, namespace: shop, serviceAccount: shopping, labels: {app: shopping}}
  mesh: {paths: [mesh.yaml], watch: false}
  listeners:
  - {name: outbound, mode: outbound, address: 127.0.0.1, port: 0}
  authorization: {mode: none}
  accessLog: "off"
  limits: {maxRequestBody: 64Ki, requestTimeout: 10s, headersTimeout: 5s}
`,
  );
  const proxy = await startProxy(loadProxyConfig(file));
  try {
    const response = await request(`http://127.0.0.1:${proxy.ports['outbound']}/from-file`, { headers: { host: HOST } });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    expect(app.seen.at(-1)!.url).toBe('/from-file');
  } finally {
    await proxy.close();
    await app.close();
  }
});
