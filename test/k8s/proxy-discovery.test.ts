/**
 * The proxy discovers services from the cluster: a real proxy (startProxy) with
 * `discovery.kubernetes` pointing at the loopback API server, Services and EndpointSlices whose
 * endpoints are real HTTP servers on loopback, and real requests through the outbound listener.
 *
 * Kubernetes docs relied on:
 * - EndpointSlice (kubernetes.io/docs/reference/kubernetes-api/discovery/): "For a given service
 *   there may be multiple EndpointSlice objects which must be joined to produce the full set of
 *   endpoints; you can find all of the slices for a given service by listing EndpointSlices in the
 *   service's namespace whose kubernetes.io/service-name label contains the service's name."
 * - EndpointConditions: ready "indicates that this endpoint is prepared to receive traffic [...] A
 *   nil value indicates an unknown state. In most cases consumers should interpret this unknown
 *   state as ready. For compatibility reasons, ready should never be "true" for terminating
 *   endpoints"; serving "is identical to ready except that it is set regardless of the terminating
 *   state".
 * - Endpoint targetRef: "a reference to a Kubernetes object that represents this endpoint" (the Pod).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { SERVICE_NAME_LABEL } from '../../src/k8s/endpoint-slices.js';
import { discoverForProxy } from '../../src/k8s/proxy-discovery.js';
import { mergeRegistries, SnapshotRegistry } from '../../src/proxy/discovery/index.js';
import { startProxy, type RunningProxy } from '../../src/proxy/server/index.js';
import type { Endpoint, ProxyConfig, Service } from '../../src/proxy/types.js';
import { proxyConfig, serviceEntry, write } from '../proxy/server/mesh.js';
import { DEFAULT_RESOURCES, startFakeApiServer, type FakeApiServer, type ResourceType } from './fake-apiserver.js';
import { eventually } from './objects.js';

const SERVICE: ResourceType = { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true };
const POD: ResourceType = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };
const SLICES = 'discovery.k8s.io/v1';
const HOST = 'inventory.shop.svc.cluster.local';

/** A named HTTP upstream on one loopback address (127.0.0.1, 127.0.0.2, ...: distinct "pod IPs"). */
interface Upstream {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  hits: number;
  close(): Promise<void>;
}

async function upstream(name: string, address: string, port = 0): Promise<Upstream> {
  const server: Server = createServer((req, res) => {
    result.hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(name);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  const result: Upstream = {
    name,
    address,
    port: (server.address() as AddressInfo).port,
    hits: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return result;
}

const service = (name: string, namespace = 'shop') => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
});

type SliceEndpoint = { address: string; pod?: string; ready?: boolean; terminating?: boolean };

const slice = (name: string, serviceName: string, port: number, endpoints: SliceEndpoint[], namespace = 'shop') => ({
  apiVersion: SLICES,
  kind: 'EndpointSlice',
  metadata: { name, namespace, labels: { [SERVICE_NAME_LABEL]: serviceName } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: endpoints.map((e) => ({
    addresses: [e.address],
    conditions: { ready: e.ready ?? true, serving: e.terminating ? true : (e.ready ?? true), terminating: e.terminating ?? false },
    ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace } } : {}),
  })),
});

const pod = (name: string, labels: Record<string, string>, serviceAccount: string, namespace = 'shop') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { serviceAccountName: serviceAccount, containers: [{ name: 'app', image: 'inventory:1' }] },
});

/** Sends one request through the proxy's outbound listener; the upstream's name, or `status N`. */
async function call(proxy: RunningProxy, host = HOST, headers: Record<string, string> = {}): Promise<string> {
  const response = await request(`http://127.0.0.1:${proxy.ports['outbound']}/items`, { headers: { host, ...headers } });
  const body = await response.body.text();
  return response.statusCode === 200 ? body : `status ${response.statusCode}`;
}

async function ready(proxy: RunningProxy): Promise<number> {
  const response = await request(`http://127.0.0.1:${proxy.adminPort}/ready`);
  await response.body.dump();
  return response.statusCode;
}

/** The endpoint ids of one cluster, from the admin server's /clusters. */
async function endpointsOf(proxy: RunningProxy, cluster: string): Promise<string[]> {
  const clusters = (await (await request(`http://127.0.0.1:${proxy.adminPort}/clusters`)).body.json()) as Array<{ name: string; endpoints: Array<{ endpoint: Endpoint }> }>;
  return (clusters.find((c) => c.name === cluster)?.endpoints ?? []).map((e) => e.endpoint.id).sort();
}

describe('the proxy discovers services from Kubernetes EndpointSlices', () => {
  let api: FakeApiServer;
  let dir: string;
  /** Mesh resource files (the kubeconfig lives beside, not inside). */
  let mesh: string;
  let a: Upstream;
  let b: Upstream;
  const proxies: RunningProxy[] = [];
  const extra: Upstream[] = [];

  beforeEach(async () => {
    api = await startFakeApiServer({ resources: [...DEFAULT_RESOURCES, SERVICE, POD] });
    dir = mkdtempSync(join(tmpdir(), 'celgate-proxy-k8s-'));
    mesh = join(dir, 'mesh');
    mkdirSync(mesh);
    // Two "pods" on the same target port at different addresses, as a Service's endpoints are.
    a = await upstream('pod-a', '127.0.0.1');
    b = await upstream('pod-b', '127.0.0.2', a.port);
  });

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all([a, b, ...extra.splice(0)].map((u) => u.close()));
    await api.close();
  });

  function config(kubernetes: Partial<NonNullable<NonNullable<ProxyConfig['discovery']>['kubernetes']>> = {}, meshPaths: string[] = []): ProxyConfig {
    return {
      ...proxyConfig({ dir, namespace: 'shop', serviceAccount: 'shopping', labels: { app: 'shopping' }, meshPaths, listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }], authorization: { mode: 'none' } }),
      admin: { address: '127.0.0.1', port: 0 },
      discovery: { kubernetes: { kubeconfig: api.writeKubeconfig(dir), clusterDomain: 'cluster.local', pods: true, ...kubernetes } },
    };
  }

  async function start(c: ProxyConfig): Promise<RunningProxy> {
    const proxy = await startProxy(c, { drainMs: 100, discovery: discoverForProxy });
    proxies.push(proxy);
    return proxy;
  }

  test('requests to NAME.NAMESPACE.svc.cluster.local reach the slice endpoints; traffic follows slice updates within a second', async () => {
    api.create(service('inventory'));
    api.create(slice('inventory-abc12', 'inventory', a.port, [{ address: a.address }]));
    const proxy = await start(config());
    await eventually(async () => (await ready(proxy)) === 200, 3000, '/ready');

    expect(await call(proxy)).toBe('pod-a');
    expect(await call(proxy, 'inventory.shop.svc.cluster.local:80')).toBe('pod-a');

    // A second endpoint appears in the slice: both receive traffic.
    api.update(slice('inventory-abc12', 'inventory', a.port, [{ address: a.address }, { address: b.address }]));
    const tookAdd = await eventually(async () => (await call(proxy)) === 'pod-b', 1000, 'traffic to the new endpoint');
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await call(proxy));
    expect([...seen].sort()).toEqual(['pod-a', 'pod-b']);

    // pod-a terminates: ready false (serving true while it drains). No new requests go to it.
    api.update(slice('inventory-abc12', 'inventory', a.port, [{ address: a.address, ready: false, terminating: true }, { address: b.address }]));
    await eventually(async () => JSON.stringify(await endpointsOf(proxy, `outbound|80||${HOST}`)) === JSON.stringify([`${b.address}:${b.port}`]), 1000, 'the terminating endpoint leaving the cluster');
    const hitsOfA = a.hits;
    for (let i = 0; i < 8; i++) expect(await call(proxy)).toBe('pod-b');
    expect(a.hits).toBe(hitsOfA);
    expect(tookAdd).toBeLessThan(1000);

    // The slice goes away: the service has no endpoints (Envoy answers 503 "no healthy upstream").
    api.remove(SLICES, 'EndpointSlice', 'inventory-abc12', 'shop');
    await eventually(async () => (await call(proxy)) === 'status 503', 1000, 'no endpoints → 503');
  });

  test('/ready is false until the first full list of every kind has arrived', async () => {
    api.create(service('inventory'));
    api.create(slice('inventory-abc12', 'inventory', a.port, [{ address: a.address }]));
    api.listDelayMs = 1000;
    const proxy = await start(config());
    // startProxy does not wait for the cluster: it serves files' services meanwhile, and says not ready.
    expect(await ready(proxy)).toBe(503);
    expect(await call(proxy)).not.toBe('pod-a');
    await eventually(async () => (await ready(proxy)) === 200, 3000, '/ready after sync');
    // Ready means the registry already holds the lists: the first request after it is routed.
    expect(await call(proxy)).toBe('pod-a');
    const paths = api.requests.filter((r) => r.method === 'GET' && r.query === '').map((r) => r.path);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices', '/api/v1/pods']));
  });

  test('pod labels from the endpoint targetRef select DestinationRule subsets; the pod service account is the endpoint principal', async () => {
    // Istio docs (destination-rule, Subset): "labels: Labels apply a filter over the endpoints of
    // a service in the service registry." — for Kubernetes services, the pods' labels.
    write(
      mesh,
      'routing.yaml',
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: inventory, namespace: shop}
spec:
  host: ${HOST}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inventory, namespace: shop}
spec:
  hosts: [${HOST}]
  http:
  - match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: ${HOST}, subset: v2}}]
  - route: [{destination: {host: ${HOST}, subset: v1}}]
`,
    );
    api.create(pod('inventory-v1-7d9f', { app: 'inventory', version: 'v1' }, 'inventory'));
    api.create(pod('inventory-v2-5c4b', { app: 'inventory', version: 'v2' }, 'inventory-canary'));
    api.create(service('inventory'));
    api.create(slice('inventory-abc12', 'inventory', a.port, [{ address: a.address, pod: 'inventory-v1-7d9f' }, { address: b.address, pod: 'inventory-v2-5c4b' }]));
    const proxy = await start(config({}, [mesh]));
    await eventually(async () => (await ready(proxy)) === 200, 3000, '/ready');
    for (let i = 0; i < 4; i++) expect(await call(proxy)).toBe('pod-a');
    for (let i = 0; i < 4; i++) expect(await call(proxy, HOST, { 'x-version': 'v2' })).toBe('pod-b');

    const clusters = (await (await request(`http://127.0.0.1:${proxy.adminPort}/clusters`)).body.json()) as Array<{ name: string; endpoints: Array<{ endpoint: Endpoint }> }>;
    const v2 = clusters.find((c) => c.name === `outbound|80|v2|${HOST}`)!;
    expect(v2.endpoints.map((e) => e.endpoint)).toEqual([
      expect.objectContaining({ address: '127.0.0.2', labels: { app: 'inventory', version: 'v2' }, principal: 'spiffe://cluster.local/ns/shop/sa/inventory-canary' }),
    ]);

    // A relabelled pod moves between subsets.
    api.update(pod('inventory-v2-5c4b', { app: 'inventory', version: 'v1' }, 'inventory-canary'));
    await eventually(async () => (await call(proxy, HOST, { 'x-version': 'v2' })) === 'status 503', 1000, 'v2 subset empty');
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await call(proxy));
    expect([...seen].sort()).toEqual(['pod-a', 'pod-b']);
  });

  test('with files too: a Kubernetes Service wins over a ServiceEntry of the same host; other ServiceEntries still resolve', async () => {
    // Istio gives a Kubernetes Service precedence over a ServiceEntry with the same hostname, so a
    // ServiceEntry cannot "squat" on a cluster service's name (istio/istio#32966).
    const vm = await upstream('vm', '127.0.0.1');
    extra.push(vm);
    write(mesh, 'inventory-se.yaml', serviceEntry('inventory-vm', 'shop', HOST, [{ port: vm.port }]));
    write(mesh, 'legacy-se.yaml', serviceEntry('legacy', 'shop', 'legacy.shop.example.com', [{ port: vm.port }]));
    api.create(service('inventory'));
    api.create(slice('inventory-abc12', 'inventory', a.port, [{ address: a.address }]));
    api.listDelayMs = 1000;
    const proxy = await start(config({}, [mesh]));
    // Before the cluster is synced, the ServiceEntry serves the host.
    expect(await ready(proxy)).toBe(503);
    expect(await call(proxy)).toBe('vm');
    await eventually(async () => (await ready(proxy)) === 200, 3000, '/ready');
    api.listDelayMs = 0;
    for (let i = 0; i < 4; i++) expect(await call(proxy)).toBe('pod-a');
    expect(await call(proxy, 'legacy.shop.example.com')).toBe('vm');

    // The Service goes away: the host falls back to the ServiceEntry.
    api.remove('v1', 'Service', 'inventory', 'shop');
    await eventually(async () => (await call(proxy)) === 'vm', 1000, 'fallback to the ServiceEntry');
    // And comes back.
    api.create(service('inventory'));
    await eventually(async () => (await call(proxy)) === 'pod-a', 1000, 'the Service wins again');
  });

  test('namespaces: only the listed namespaces are listed and watched', async () => {
    api.create(service('inventory'));
    api.create(slice('inventory-abc12', 'inventory', a.port, [{ address: a.address }]));
    api.create(service('inventory', 'other'));
    api.create(slice('inventory-xyz89', 'inventory', b.port, [{ address: b.address }], 'other'));
    const proxy = await start(config({ namespaces: ['shop'], pods: false }));
    await eventually(async () => (await ready(proxy)) === 200, 3000, '/ready');
    expect(await call(proxy)).toBe('pod-a');
    expect(await call(proxy, 'inventory.other.svc.cluster.local')).not.toBe('pod-b');
    const paths = new Set(api.requests.filter((r) => r.method === 'GET').map((r) => r.path));
    expect([...paths].filter((p) => /services|endpointslices|pods/.test(p)).sort()).toEqual(['/api/v1/namespaces/shop/services', '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices']);
  });

  test('a kubeconfig without a cluster is a start error naming the config file', async () => {
    const empty = write(dir, 'empty-kubeconfig.yaml', 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    const c = config({ kubeconfig: empty });
    await expect(startProxy(c, { discovery: discoverForProxy })).rejects.toThrow(`${c.file}: discovery.kubernetes: no Kubernetes cluster configured`);
  });
});

describe('mergeRegistries', () => {
  const svc = (host: string, port = 80): Service => ({ host, namespace: 'shop', ports: [{ number: port, name: 'http', protocol: 'HTTP' }], location: 'MESH_INTERNAL', resolution: 'STATIC' });
  const ep = (address: string): Endpoint => ({ id: `${address}:8080`, address, port: 8080, labels: {}, weight: 1 });

  test('the first registry owning a host serves its service and endpoints; changes of either part are announced', () => {
    const cluster = new SnapshotRegistry({ services: new Map([['a.shop', svc('a.shop')]]), endpoints: new Map([['a.shop|80', [ep('10.0.0.1')]]]) });
    const files = new SnapshotRegistry({
      services: new Map([
        ['a.shop', svc('a.shop', 81)],
        ['b.shop', svc('b.shop')],
      ]),
      endpoints: new Map([
        ['a.shop|81', [ep('10.9.9.9')]],
        ['b.shop|80', [ep('10.0.0.2')]],
      ]),
    });
    const merged = mergeRegistries([cluster, files]);
    let changes = 0;
    merged.onChange(() => changes++);
    expect(merged.service('a.shop')!.ports[0]!.number).toBe(80);
    expect(merged.endpoints('a.shop', 80).map((e) => e.address)).toEqual(['10.0.0.1']);
    // The hidden entry's port does not leak through the owner's host.
    expect(merged.endpoints('a.shop', 81)).toEqual([]);
    expect(merged.endpoints('b.shop', 80).map((e) => e.address)).toEqual(['10.0.0.2']);
    expect(merged.services().map((s) => `${s.host}:${s.ports[0]!.number}`)).toEqual(['a.shop:80', 'b.shop:80']);
    cluster.replace({ services: new Map(), endpoints: new Map() });
    expect(changes).toBe(1);
    expect(merged.services().map((s) => `${s.host}:${s.ports[0]!.number}`)).toEqual(['a.shop:81', 'b.shop:80']);
    expect(merged.endpoints('a.shop', 81).map((e) => e.address)).toEqual(['10.9.9.9']);
    merged.close();
    files.replace({ services: new Map(), endpoints: new Map() });
    expect(changes).toBe(1);
  });
});
