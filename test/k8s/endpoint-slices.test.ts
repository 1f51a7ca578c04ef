/**
 * The EndpointSlice-backed ServiceRegistry: mapping rules on plain objects, then live through
 * the informers (src/k8s/informers.ts) watching the loopback API server.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createEndpointSliceRegistry, portProtocol, snapshotFromObjects, SERVICE_NAME_LABEL } from '../../src/k8s/endpoint-slices.js';
import { KubeClient } from '../../src/k8s/client.js';
import { KindInformer } from '../../src/k8s/informers.js';
import { DEFAULT_RESOURCES, startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

const service = (name: string, ports: object[], namespace = 'shop', extra: object = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec: { ports, ...extra },
});

const slice = (name: string, serviceName: string, ports: object[], endpoints: object[], namespace = 'shop', addressType = 'IPv4') => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace, labels: { [SERVICE_NAME_LABEL]: serviceName } },
  addressType,
  ports,
  endpoints,
});

const ep = (address: string, conditions: object = { ready: true }) => ({ addresses: [address], conditions });

describe('EndpointSlices → ServiceRegistry', () => {
  test('hosts and ports from Services; endpoint ports from the slice port of the same name', () => {
    const snapshot = snapshotFromObjects(
      [service('inventory', [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'grpc-api', port: 9000, targetPort: 'grpc' }])],
      [slice('inventory-abc', 'inventory', [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'grpc-api', port: 9090 }], [ep('10.0.0.1'), ep('10.0.0.2')])],
    );
    const host = 'inventory.shop.svc.cluster.local';
    expect(snapshot.services.get(host)).toEqual({
      host,
      namespace: 'shop',
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [
        { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 },
        { number: 9000, name: 'grpc-api', protocol: 'GRPC' },
      ],
    });
    expect(snapshot.endpoints.get(`${host}|80`)!.map((e) => e.id)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(snapshot.endpoints.get(`${host}|9000`)!.map((e) => e.id)).toEqual(['10.0.0.1:9090', '10.0.0.2:9090']);
  });

  test('ready endpoints only: unset ready counts as ready, terminating and not-ready do not', () => {
    // discovery.k8s.io/v1 EndpointConditions: ready "A nil value indicates an unknown state. In most
    // cases consumers should interpret this unknown state as ready. For compatibility reasons, ready
    // should never be "true" for terminating endpoints".
    const snapshot = snapshotFromObjects(
      [service('web', [{ name: '', port: 80 }])],
      [
        slice('web-1', 'web', [{ name: '', port: 8080 }], [
          ep('10.0.0.1'),
          ep('10.0.0.2', {}),
          ep('10.0.0.3', { ready: false }),
          ep('10.0.0.4', { ready: false, serving: true, terminating: true }),
          { addresses: ['10.0.0.5', '10.0.0.99'] }, // only the first address means anything
        ]),
      ],
    );
    expect(snapshot.endpoints.get('web.shop.svc.cluster.local|80')!.map((e) => e.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.5']);
  });

  test('several slices of one service merge; the same address in two slices counts once; other services\' slices do not mix in', () => {
    const snapshot = snapshotFromObjects(
      [service('web', [{ name: 'http', port: 80 }]), service('api', [{ name: 'http', port: 80 }]), service('web', [{ name: 'http', port: 80 }], 'other')],
      [
        slice('web-1', 'web', [{ name: 'http', port: 8080 }], [ep('10.0.0.1'), ep('10.0.0.2')]),
        slice('web-2', 'web', [{ name: 'http', port: 8080 }], [ep('10.0.0.2'), ep('10.0.0.3')]),
        slice('api-1', 'api', [{ name: 'http', port: 8080 }], [ep('10.0.1.1')]),
        slice('v6', 'web', [{ name: 'http', port: 8080 }], [ep('fd00::1')], 'other', 'IPv6'),
      ],
    );
    expect(snapshot.endpoints.get('web.shop.svc.cluster.local|80')!.map((e) => e.id)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
    expect(snapshot.endpoints.get('api.shop.svc.cluster.local|80')!.map((e) => e.id)).toEqual(['10.0.1.1:8080']);
    expect(snapshot.endpoints.get('web.other.svc.cluster.local|80')!.map((e) => e.id)).toEqual(['[fd00::1]:8080']);
  });

  test('UDP ports and ExternalName services are left out; a service without slices has no endpoints', () => {
    const snapshot = snapshotFromObjects(
      [service('dns', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }]), service('ext', [{ port: 443 }], 'shop', { type: 'ExternalName', externalName: 'example.com' })],
      [],
    );
    expect(snapshot.services.get('dns.shop.svc.cluster.local')!.ports.map((p) => p.name)).toEqual(['dns-tcp']);
    expect(snapshot.services.has('ext.shop.svc.cluster.local')).toBe(false);
    expect(snapshot.endpoints.get('dns.shop.svc.cluster.local|53')).toEqual([]);
  });

  test('pods named by targetRef give endpoints their labels and, with a trust domain, their service account principal', () => {
    // discovery.k8s.io/v1 Endpoint: targetRef "is a reference to a Kubernetes object that represents
    // this endpoint"; Istio selects DestinationRule subset endpoints by the pods' labels.
    const pods = [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-v1', namespace: 'shop', labels: { app: 'web', version: 'v1' } }, spec: { serviceAccountName: 'web' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-v1', namespace: 'other', labels: { app: 'web', version: 'other' } }, spec: { serviceAccountName: 'x' } },
    ];
    const slices = [
      slice('web-1', 'web', [{ name: 'http', port: 8080 }], [
        { addresses: ['10.0.0.1'], targetRef: { kind: 'Pod', name: 'web-v1', namespace: 'shop' } },
        { addresses: ['10.0.0.2'], targetRef: { kind: 'Pod', name: 'web-v2', namespace: 'shop' } }, // not seen (yet)
        { addresses: ['10.0.0.3'], targetRef: { kind: 'Node', name: 'web-v1' } }, // not a Pod
      ]),
    ];
    const endpoints = (options: Parameters<typeof snapshotFromObjects>[3]) =>
      snapshotFromObjects([service('web', [{ name: 'http', port: 80 }])], slices, 'cluster.local', options).endpoints.get('web.shop.svc.cluster.local|80')!;
    expect(endpoints({ pods, trustDomain: 'example.org' }).map((e) => [e.address, e.labels, e.principal])).toEqual([
      ['10.0.0.1', { app: 'web', version: 'v1' }, 'spiffe://example.org/ns/shop/sa/web'],
      ['10.0.0.2', {}, undefined],
      ['10.0.0.3', {}, undefined],
    ]);
    expect(endpoints({ pods }).map((e) => [e.labels, e.principal])[0]).toEqual([{ app: 'web', version: 'v1' }, undefined]);
    expect(endpoints({}).map((e) => e.labels)).toEqual([{}, {}, {}]);
  });

  test('protocol selection as Istio: appProtocol, then the <protocol>[-<suffix>] name prefix, else TCP', () => {
    // Istio docs (protocol selection): ports may be named `<protocol>[-<suffix>]` or set appProtocol.
    expect(portProtocol({ name: 'web', appProtocol: 'http2' })).toBe('HTTP2');
    expect(portProtocol({ name: 'http-metrics' })).toBe('HTTP');
    expect(portProtocol({ name: 'https' })).toBe('HTTPS');
    expect(portProtocol({ name: 'grpc-web-ui' })).toBe('HTTP');
    expect(portProtocol({ name: 'httpforecast' })).toBe('TCP'); // not `<protocol>-...`
    expect(portProtocol({ name: 'x', appProtocol: 'kubernetes.io/h2c' })).toBe('HTTP2');
  });
});

describe('EndpointSlice registry fed by informers from the API server', () => {
  const SERVICE_KIND = { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true } as const;
  const SLICE_KIND = { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true } as const;
  let server: FakeApiServer;
  let informers: KindInformer[] = [];

  beforeEach(async () => {
    server = await startFakeApiServer({ resources: [...DEFAULT_RESOURCES, SERVICE_KIND] });
  });
  afterEach(async () => {
    await Promise.all(informers.map((i) => i.stop()));
    informers = [];
    await server.close();
  });

  async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  test('endpoints follow slices as they are created, changed and deleted', async () => {
    server.create(service('inventory', [{ name: 'http', port: 80 }]));
    server.create(slice('inventory-1', 'inventory', [{ name: 'http', port: 8080 }], [ep('10.0.0.1')]));
    const config = new KubeConfig();
    config.loadFromString(server.kubeconfig());
    const client = new KubeClient(config);
    let refresh = (): void => undefined;
    const services = new KindInformer(config, client, SERVICE_KIND, { onChange: () => refresh() });
    const slices = new KindInformer(config, client, SLICE_KIND, { onChange: () => refresh() });
    informers = [services, slices];
    services.start();
    slices.start();
    await Promise.all([services.synced, slices.synced]);

    const registry = createEndpointSliceRegistry({ services, endpointSlices: slices, debounceMs: 5 });
    refresh = () => registry.refresh();
    let changes = 0;
    registry.onChange(() => changes++);
    const ids = () => registry.endpoints('inventory.shop.svc.cluster.local', 80).map((e) => e.id);
    expect(ids()).toEqual(['10.0.0.1:8080']);

    server.create(slice('inventory-2', 'inventory', [{ name: 'http', port: 8080 }], [ep('10.0.0.2')]));
    await until(() => ids().length === 2);
    expect(ids()).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);

    // A pod going away: the slice marks it terminating (not ready) before removing it.
    server.update(slice('inventory-1', 'inventory', [{ name: 'http', port: 8080 }], [ep('10.0.0.1', { ready: false, serving: true, terminating: true })]));
    await until(() => !ids().includes('10.0.0.1:8080'));
    expect(ids()).toEqual(['10.0.0.2:8080']);

    server.remove('discovery.k8s.io/v1', 'EndpointSlice', 'inventory-2', 'shop');
    await until(() => ids().length === 0);
    server.remove('v1', 'Service', 'inventory', 'shop');
    await until(() => registry.service('inventory.shop.svc.cluster.local') === undefined);
    expect(changes).toBeGreaterThanOrEqual(3);
    registry.close();
  });
});
