import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadResources, PolicyLoadError, type PolicyIssue } from '../../../src/policy/index.js';
import { registryFromResources, watchRegistry } from '../../../src/proxy/discovery/index.js';

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

async function load(file: string, options = {}) {
  const { resources, issues } = await loadResources([join(fixtures, file)]);
  expect(issues).toEqual([]);
  const registryIssues: PolicyIssue[] = [];
  const registry = registryFromResources(resources, registryIssues, options);
  return { registry, issues: registryIssues };
}

describe('registryFromResources', () => {
  test('ServiceEntry with STATIC endpoints: ports, weights, labels, locality and SPIFFE principals', async () => {
    const { registry, issues } = await load('shop.yaml');
    expect(issues).toEqual([]);
    const service = registry.service('inventory.shop.svc.cluster.local');
    expect(service).toEqual({
      host: 'inventory.shop.svc.cluster.local',
      namespace: 'shop',
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [
        { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 },
        { number: 9090, name: 'grpc', protocol: 'GRPC' },
      ],
    });
    // Istio (service-entry, WorkloadEntry.ports): "Set of ports associated with the endpoint. If the port
    // map is specified, it must be a map of servicePortName to this endpoint's port"; otherwise the
    // service port's targetPort, otherwise the service port number.
    const http = registry.endpoints('inventory.shop.svc.cluster.local', 80);
    expect(http.map((e) => e.id)).toEqual(['10.0.0.1:8080', '10.0.0.2:18080']);
    expect(http[0]).toEqual({
      id: '10.0.0.1:8080',
      address: '10.0.0.1',
      port: 8080,
      labels: { version: 'v1' },
      weight: 1, // Istio: weight defaults to 1 when omitted
      locality: 'eu-west/zone-a/rack-1',
      principal: 'spiffe://cluster.local/ns/shop/sa/inventory',
    });
    expect(http[1]!.weight).toBe(3);
    expect(registry.endpoints('inventory.shop.svc.cluster.local', 9090).map((e) => e.id)).toEqual(['10.0.0.1:9090', '10.0.0.2:9090']);
    expect(registry.endpoints('inventory.shop.svc.cluster.local', 81)).toEqual([]);
    expect(registry.endpoints('unknown.example.com', 80)).toEqual([]);
    // Only ServiceEntry hosts become services; the VirtualService in the same file is not discovery's.
    expect(registry.services().map((s) => s.host).sort()).toEqual(['*.googleapis.com', 'api.example.com', 'inventory.shop.svc.cluster.local', 'payment']);
  });

  test('the trust domain of principals is configurable', async () => {
    const { registry } = await load('shop.yaml', { trustDomain: 'shop.example' });
    expect(registry.endpoints('inventory.shop.svc.cluster.local', 80)[0]!.principal).toBe('spiffe://shop.example/ns/shop/sa/inventory');
  });

  test('workloadSelector selects WorkloadEntries by label in the entry\'s namespace', async () => {
    // Istio (workload-entry): "A ServiceEntry object can select multiple workload entries ... based on the
    // label selector specified in the service entry"; the selector applies within the entry's namespace.
    const { registry } = await load('shop.yaml');
    const endpoints = registry.endpoints('payment', 443);
    expect(endpoints).toEqual([
      {
        id: '192.168.1.10:8443',
        address: '192.168.1.10',
        port: 8443,
        labels: { app: 'payment', version: 'v1' },
        weight: 2,
        principal: 'spiffe://cluster.local/ns/shop/sa/payment-legacy',
      },
    ]);
  });

  test('ServiceEntry hosts are taken as written: a short name is not expanded', async () => {
    // Istio (service-entry): "hosts: The hosts associated with the ServiceEntry." Short names are
    // expanded against the namespace only in rules ("Istio will interpret the short name based on the
    // namespace of the rule", Destination.host); a ServiceEntry's hosts are the registry's names.
    const { registry } = await load('shop.yaml');
    expect(registry.service('payment')?.host).toBe('payment');
    expect(registry.service('payment.shop.svc.cluster.local')).toBeUndefined();
  });

  test('resolution DNS without endpoints resolves the host itself; NONE has no endpoints', async () => {
    // Istio (service-entry, Resolution DNS): "If no endpoints are specified, the proxy will resolve the
    // DNS address specified in the hosts field, if wildcards are not used."
    const { registry } = await load('shop.yaml');
    expect(registry.service('api.example.com')).toMatchObject({ location: 'MESH_EXTERNAL', resolution: 'DNS' });
    expect(registry.endpoints('api.example.com', 443)).toEqual([{ id: 'api.example.com:443', address: 'api.example.com', port: 443, labels: {}, weight: 1 }]);
    // Istio: location defaults to MESH_EXTERNAL, resolution NONE means "assume that incoming connections
    // have already been resolved (to a specific destination IP address)" — nothing to balance over.
    expect(registry.service('*.googleapis.com')).toMatchObject({ location: 'MESH_EXTERNAL', resolution: 'NONE' });
    expect(registry.endpoints('*.googleapis.com', 443)).toEqual([]);
  });

  test('a DNS entry may list endpoints by host name (resolved later by the upstream client)', () => {
    const issues: PolicyIssue[] = [];
    const registry = registryFromResources(
      [resource('ServiceEntry', 'db', { hosts: ['db.example.com'], resolution: 'DNS', ports: [{ number: 5432n, name: 'tcp', protocol: 'TCP' }], endpoints: [{ address: 'db-1.example.com' }, { address: '::1' }] })],
      issues,
    );
    expect(issues).toEqual([]);
    expect(registry.endpoints('db.example.com', 5432).map((e) => e.id)).toEqual(['db-1.example.com:5432', '[::1]:5432']);
  });

  test('errors name the file, line and column of the field', async () => {
    const file = join(fixtures, 'bad.yaml');
    const { resources, issues: loadIssues } = await loadResources([file]);
    expect(loadIssues).toEqual([]);
    const issues: PolicyIssue[] = [];
    const registry = registryFromResources(resources, issues);
    const at = (line: number, text: string) => issues.find((i) => i.line === line && i.message.includes(text));
    expect(issues.every((i) => i.file === file)).toBe(true);
    expect(at(11, 'number must be an integer from 1 to 65535')).toMatchObject({ column: 13, field: 'spec.ports[0].number' });
    expect(at(16, "unknown protocol 'SMTP'")).toMatchObject({ column: 15 });
    expect(at(18, "resolution STATIC needs IP addresses; 'db.internal' is a name")).toMatchObject({ column: 14 });
    expect(at(19, 'address is required')).toBeDefined();
    expect(issues.find((i) => i.message.includes('only one of endpoints or workloadSelector'))?.line).toBe(34);
    expect(issues.find((i) => i.message.includes('ServiceEntry shop/no-hosts: hosts must list at least one host'))).toBeDefined();
    expect(issues.find((i) => i.message === 'WorkloadEntry shop/vm-without-address: address is required')?.line).toBe(51);
    expect(at(52, 'weight must be an integer from 0 to 4294967295')).toMatchObject({ column: 11, field: 'spec.weight' });
    // An entry with problems is left out rather than half-used.
    expect(registry.services()).toEqual([]);
  });

  test('a host declared twice is an error at the second declaration', () => {
    const issues: PolicyIssue[] = [];
    const spec = { hosts: ['a.example.com'], resolution: 'STATIC', ports: [{ number: 80n, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '10.0.0.1' }] };
    const registry = registryFromResources([resource('ServiceEntry', 'one', spec), resource('ServiceEntry', 'two', spec)], issues);
    expect(issues.map((i) => i.message)).toEqual(['ServiceEntry shop/two: host a.example.com is already declared by ServiceEntry shop/one']);
    expect(registry.endpoints('a.example.com', 80)).toHaveLength(1);
  });
});

describe('watchRegistry', () => {
  test('reloads on file change, keeps the old registry when the new file has errors, and notifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celgate-registry-'));
    const file = join(dir, 'entries.yaml');
    writeFileSync(file, readFileSync(join(fixtures, 'shop.yaml')));
    const rejected: (readonly PolicyIssue[])[] = [];
    let changes = 0;
    let wake: () => void = () => undefined;
    const next = () => new Promise<void>((resolve) => (wake = resolve));
    const registry = await watchRegistry([dir], { debounceMs: 20, onIssues: (issues) => (rejected.push(issues), wake()) });
    registry.onChange(() => (changes++, wake()));
    try {
      expect(registry.endpoints('inventory.shop.svc.cluster.local', 80)).toHaveLength(2);

      // An endpoint leaves: the change is picked up from the file system.
      let changed = next();
      writeFileSync(file, readFileSync(file, 'utf8').replace('  - address: 10.0.0.2\n    ports: { http: 18080 }\n    labels: { version: v2 }\n    weight: 3\n    serviceAccount: inventory\n', ''));
      await changed;
      expect(changes).toBe(1);
      expect(registry.endpoints('inventory.shop.svc.cluster.local', 80).map((e) => e.id)).toEqual(['10.0.0.1:8080']);

      // A broken edit is rejected with its line; the previous registry keeps serving.
      changed = next();
      writeFileSync(file, readFileSync(file, 'utf8').replace('  - address: 10.0.0.1\n', '  - address: not-an-ip\n'));
      await changed;
      expect(changes).toBe(1);
      expect(rejected).toHaveLength(1);
      expect(rejected[0]![0]).toMatchObject({ file, line: 20, column: 14, message: expect.stringContaining("'not-an-ip' is a name") });
      expect(registry.endpoints('inventory.shop.svc.cluster.local', 80).map((e) => e.id)).toEqual(['10.0.0.1:8080']);
    } finally {
      registry.close();
    }
  });

  test('a first load with errors throws every issue', async () => {
    await expect(watchRegistry([join(fixtures, 'bad.yaml')], { watch: false })).rejects.toThrow(PolicyLoadError);
    await expect(watchRegistry([join(fixtures, 'bad.yaml')], { watch: false })).rejects.toThrow(/bad\.yaml:11:13: ServiceEntry shop\/broken: number must be an integer/);
  });
});

/** An in-memory resource whose positions all point at line 1. */
function resource(kind: string, name: string, spec: unknown) {
  const value = { apiVersion: 'networking.istio.io/v1', kind, metadata: { name, namespace: 'shop' }, spec };
  return {
    type: { group: 'networking.istio.io', version: 'v1', kind, face: 'proxy' as const },
    name,
    namespace: 'shop',
    value,
    document: { file: 'memory.yaml', positionOf: () => ({ line: 1, column: 1 }) } as never,
  };
}
