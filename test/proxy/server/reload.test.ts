/** Reloading the mesh configuration: all or nothing, the previous set serving while a broken one is refused. */
import { request } from 'undici';
import { startProxy, type ProxyLog, type RunningProxy } from '../../../src/proxy/server/index.js';
import { proxyConfig, serviceEntry, startApp, tempDir, write, type TestApp } from './mesh.js';

const HOST = 'inventory.shop.svc.cluster.local';

describe('reload', () => {
  let app: TestApp;
  let proxy: RunningProxy;
  let dir: string;
  const errors: string[] = [];
  const log: ProxyLog = { info() {}, warn() {}, error: (message) => void errors.push(message) };

  beforeAll(async () => {
    app = await startApp();
    dir = tempDir();
    write(dir, 'services.yaml', serviceEntry('inventory', 'shop', HOST, [{ port: app.port }]));
    proxy = await startProxy(proxyConfig({ dir, namespace: 'shop', serviceAccount: 'shopping', labels: {}, meshPaths: [dir], listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }] }), { log });
  });
  afterAll(async () => {
    await proxy?.close();
    await app?.close();
  });

  const status = async () => {
    const response = await request(`http://127.0.0.1:${proxy.ports['outbound']}/x`, { headers: { host: HOST } });
    await response.body.dump();
    return response.statusCode;
  };

  test('a broken set is refused with file:line and the old one keeps serving; a good one applies', async () => {
    expect(await status()).toBe(200);
    const file = write(dir, 'vs.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inventory, namespace: shop}
spec:
  hosts: [${HOST}]
  http:
  - route: [{destination: {host: ${HOST}}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    timeout: soon
`);
    expect(await proxy.reload()).toBe(false);
    expect(errors.join('\n')).toContain(`${file}:9:`);
    expect(await status()).toBe(200);
    write(dir, 'vs.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inventory, namespace: shop}
spec:
  hosts: [${HOST}]
  http:
  - route: [{destination: {host: ${HOST}}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
`);
    expect(await proxy.reload()).toBe(true);
    // Istio HTTPFaultInjection.Abort: percentage 100 aborts every request with httpStatus.
    expect(await status()).toBe(418);
  });
});
