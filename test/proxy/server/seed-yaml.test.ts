/**
 * Resources written with a mangled apiVersion (`Istio::networking/v1alpha3`) are refused at
 * start with the file, the line and the apiVersion to use, never skipped silently.
 */
import { ProxyStartError, startProxy } from '../../../src/proxy/server/index.js';
import { proxyConfig, tempDir, write } from './mesh.js';

const SEED = `apiVersion: Istio::networking/v1alpha3
kind: Service
metadata: {name: shop, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: Istio::networking/v1alpha3
kind: Gateway
metadata: {name: shop, namespace: shop}
spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}
---
apiVersion: Istio::networking/v1alpha3
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec: {hosts: ['*'], gateways: [shop], http: [{route: [{destination: {host: shop}}]}]}
`;

test('the proxy refuses the seed YAML, naming each document and its right apiVersion', async () => {
  const dir = tempDir();
  const file = write(dir, 'seed.yaml', SEED);
  const config = proxyConfig({ dir, namespace: 'shop', serviceAccount: 'gateway', labels: {}, meshPaths: [dir], listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }] });
  const started = startProxy(config);
  await expect(started).rejects.toBeInstanceOf(ProxyStartError);
  const message = await started.then(
    () => '',
    (error: Error) => error.message,
  );
  expect(message).toContain(`${file}:1:13: unknown apiVersion 'Istio::networking/v1alpha3' for Service: Service is a Kubernetes kind served at v1`);
  expect(message).toContain(`${file}:6:13: unknown apiVersion 'Istio::networking/v1alpha3' for Gateway: did you mean networking.istio.io/v1alpha3?`);
  expect(message).toContain(`${file}:11:13: unknown apiVersion 'Istio::networking/v1alpha3' for VirtualService: did you mean networking.istio.io/v1alpha3?`);
});
