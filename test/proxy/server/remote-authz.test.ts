/**
 * The same request gets the same decision whether the inbound proxy decides in-process or asks
 * celgate's own ext_authz servers (HTTP http_service and gRPC Authorization/Check) remotely.
 */
import { Agent, request } from 'undici';
import { startAuthzGrpcServer, startAuthzHttpServer, type AuthzServer } from '../../../src/authz/index.js';
import { compileAccessPolicies } from '../../../src/engine/access/index.js';
import { loadResources } from '../../../src/policy/index.js';
import { startProxy, type RunningProxy } from '../../../src/proxy/server/index.js';
import type { AuthorizationConfig } from '../../../src/proxy/types.js';
import { meshCa, proxyConfig, startApp, tempDir, workloadFiles, write, type TestApp } from './mesh.js';

const POLICIES = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payment, namespace: shop}
spec:
  selector: {matchLabels: {app: payment}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/shopping]}}]
    to: [{operation: {methods: [POST], paths: [/api/v1/pay]}}]
  - to: [{operation: {methods: [GET], paths: [/public/*]}}]
    when: [{key: 'request.headers[x-tenant]', values: [acme]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  selector: {matchLabels: {app: payment}}
  action: DENY
  rules:
  - to: [{operation: {paths: [/public/admin*]}}]
`;

describe('remote ext_authz gives the same decisions as in-process', () => {
  const ca = meshCa();
  let app: TestApp;
  let httpAuthz: AuthzServer;
  let grpcAuthz: AuthzServer;
  const proxies: Record<string, RunningProxy> = {};
  const agents: Record<string, Agent> = {};

  beforeAll(async () => {
    app = await startApp();
    const dir = tempDir();
    write(dir, 'policies.yaml', POLICIES);
    const { resources, issues } = await loadResources([dir]);
    const policies = compileAccessPolicies(resources, issues);
    expect(issues).toEqual([]);
    const workload = { namespace: 'shop', labels: { app: 'payment' } };
    httpAuthz = await startAuthzHttpServer({ policies, decisionLog: false, trustForwardedClientCert: true, destination: workload });
    grpcAuthz = await startAuthzGrpcServer({ policies, decisionLog: false, destination: workload });
    const modes: Record<string, AuthorizationConfig> = {
      'in-process': { mode: 'in-process', failOpen: false },
      http: { mode: 'http', url: `http://${httpAuthz.address}`, timeoutMs: 2000, failOpen: false },
      grpc: { mode: 'grpc', url: `grpc://${grpcAuthz.address}`, timeoutMs: 2000, failOpen: false },
    };
    const identity = workloadFiles(ca, dir, 'shop', 'payment');
    for (const [name, authorization] of Object.entries(modes)) {
      proxies[name] = await startProxy(
        proxyConfig({ dir, namespace: 'shop', serviceAccount: 'payment', labels: { app: 'payment' }, meshPaths: [dir], identity, authorization, listeners: [{ mode: 'inbound', name: 'inbound', address: '127.0.0.1', port: 0, application: app.url }] }),
      );
    }
    for (const sa of ['shopping', 'other']) {
      const files = workloadFiles(ca, tempDir(), 'shop', sa);
      agents[sa] = new Agent({ connect: { cert: files.pem.cert, key: files.pem.key, ca: files.pem.ca, checkServerIdentity: () => undefined } });
    }
  });

  afterAll(async () => {
    await Promise.all(Object.values(proxies).map((p) => p.close()));
    await Promise.all(Object.values(agents).map((a) => a.close()));
    await httpAuthz?.close();
    await grpcAuthz?.close();
    await app?.close();
  });

  const cases: Array<[string, string, string, Record<string, string>]> = [
    ['shopping', 'POST', '/api/v1/pay', {}],
    ['other', 'POST', '/api/v1/pay', {}],
    ['other', 'GET', '/public/items', { 'x-tenant': 'acme' }],
    ['other', 'GET', '/public/items', { 'x-tenant': 'other' }],
    ['shopping', 'GET', '/public/admin/users', { 'x-tenant': 'acme' }],
    ['shopping', 'GET', '/public/../public/items?q=1', { 'x-tenant': 'acme' }],
  ];

  test.each(cases)('%s %s %s %j', async (sa, method, path, headers) => {
    const statuses: Record<string, number> = {};
    for (const mode of Object.keys(proxies)) {
      const response = await request(`https://127.0.0.1:${proxies[mode]!.ports['inbound']}${path}`, {
        method: method as 'GET',
        dispatcher: agents[sa],
        headers: { host: 'payment.shop.svc.cluster.local', ...headers },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      statuses[mode] = response.statusCode;
      await response.body.dump();
    }
    expect(statuses['http']).toBe(statuses['in-process']);
    expect(statuses['grpc']).toBe(statuses['in-process']);
    expect([200, 403]).toContain(statuses['in-process']);
  });

  test('the cases include both outcomes (the comparison is not vacuous)', async () => {
    const seenBefore = app.seen.length;
    const allowed = await request(`https://127.0.0.1:${proxies['http']!.ports['inbound']}/api/v1/pay`, { method: 'POST', body: '{}', dispatcher: agents['shopping'], headers: { host: 'payment' } });
    expect(allowed.statusCode).toBe(200);
    await allowed.body.dump();
    const denied = await request(`https://127.0.0.1:${proxies['grpc']!.ports['inbound']}/api/v1/pay`, { method: 'POST', body: '{}', dispatcher: agents['other'], headers: { host: 'payment' } });
    expect(denied.statusCode).toBe(403);
    await denied.body.dump();
    expect(app.seen.length).toBe(seenBefore + 1);
  });

  test('an unreachable ext_authz server fails closed (403) within its timeout', async () => {
    const dir = tempDir();
    const identity = workloadFiles(ca, dir, 'shop', 'payment');
    const proxy = await startProxy(
      proxyConfig({ dir, namespace: 'shop', serviceAccount: 'payment', labels: { app: 'payment' }, meshPaths: [dir], identity, authorization: { mode: 'http', url: 'http://127.0.0.1:1', timeoutMs: 300, failOpen: false }, listeners: [{ mode: 'inbound', name: 'inbound', address: '127.0.0.1', port: 0, application: app.url }] }),
    );
    try {
      const response = await request(`https://127.0.0.1:${proxy.ports['inbound']}/public/x`, { dispatcher: agents['shopping'], headers: { host: 'payment' } });
      expect(response.statusCode).toBe(403);
      await response.body.dump();
    } finally {
      await proxy.close();
    }
  });
});
