/** The proxy config file: real files in a temp dir, every error with file:line:col and field. */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProxyConfig, ProxyConfigError, parseDuration, parseSize } from '../../../src/proxy/config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'celgate-proxy-config-'));
  mkdirSync(join(dir, 'mesh'));
  mkdirSync(join(dir, 'certs'));
  for (const f of ['payment.crt', 'payment.key', 'ca.crt']) writeFileSync(join(dir, 'certs', f), 'x');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(text: string, name = 'proxy.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function errorsOf(file: string): string[] {
  try {
    loadProxyConfig(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyConfigError);
    return (error as Error).message.split('\n');
  }
  throw new Error('expected ProxyConfigError');
}

const FULL = `apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
metadata: { name: payment }
spec:
  workload: { name: payment, namespace: shop, serviceAccount: payment, labels: {app: payment, version: v1}, trustDomain: example.org }
  mesh: { paths: [mesh], watch: false, pathNormalization: MERGE_SLASHES, rootNamespace: mesh-root }
  identity: { cert: certs/payment.crt, key: certs/payment.key, ca: certs/ca.crt }
  listeners:
    - { name: inbound, mode: inbound, address: 127.0.0.1, port: 15006, application: http://127.0.0.1:8080 }
    - { name: outbound, mode: outbound, port: 15001 }
    - { name: ingress, mode: gateway, port: 8443, gateway: shop/shop-gateway }
  authorization: { mode: http, url: http://127.0.0.1:9000, timeout: 1.5s, failOpen: true, pathPrefix: /check }
  healthChecks:
    - { host: inventory.shop.svc.cluster.local, path: /healthz, interval: 2s, timeout: 500ms, healthyThreshold: 1, unhealthyThreshold: 2 }
  admin: { port: 15000 }
  accessLog: logs/access.log
  limits: { maxRequestBody: 1Mi, requestTimeout: 2m, headersTimeout: 300ms }
`;

describe('loadProxyConfig', () => {
  test('reads a complete file, resolving relative paths against its directory', () => {
    mkdirSync(join(dir, 'logs'));
    const config = loadProxyConfig(write(FULL));
    expect(config.workload).toEqual({
      name: 'payment',
      namespace: 'shop',
      serviceAccount: 'payment',
      labels: { app: 'payment', version: 'v1' },
      trustDomain: 'example.org',
      principal: 'spiffe://example.org/ns/shop/sa/payment',
    });
    expect(config.meshPaths).toEqual([join(dir, 'mesh')]);
    expect(config.watch).toBe(false);
    expect(config.pathNormalization).toBe('MERGE_SLASHES');
    expect(config.rootNamespace).toBe('mesh-root');
    expect(config.identity).toEqual({ cert: join(dir, 'certs/payment.crt'), key: join(dir, 'certs/payment.key'), ca: join(dir, 'certs/ca.crt') });
    expect(config.listeners).toEqual([
      { name: 'inbound', mode: 'inbound', address: '127.0.0.1', port: 15006, application: 'http://127.0.0.1:8080' },
      { name: 'outbound', mode: 'outbound', address: '127.0.0.1', port: 15001 },
      { name: 'ingress', mode: 'gateway', address: '127.0.0.1', port: 8443, gateway: 'shop/shop-gateway' },
    ]);
    expect(config.authorization).toEqual({ mode: 'http', url: 'http://127.0.0.1:9000', timeoutMs: 1500, failOpen: true, pathPrefix: '/check' });
    expect(config.healthChecks.get('inventory.shop.svc.cluster.local')).toEqual({ path: '/healthz', intervalMs: 2000, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 2 });
    expect(config.admin).toEqual({ address: '127.0.0.1', port: 15000 });
    expect(config.accessLog).toBe(join(dir, 'logs/access.log'));
    expect(config.limits).toEqual({ maxRequestBodyBytes: 1 << 20, requestTimeoutMs: 120_000, headersTimeoutMs: 300 });
  });

  test('applies defaults for everything optional', () => {
    const config = loadProxyConfig(
      write(`apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
spec:
  workload: { name: payment, namespace: shop }
  listeners: [{ name: out, mode: outbound, port: 15001 }]
`),
    );
    expect(config.workload.serviceAccount).toBe('default');
    expect(config.workload.trustDomain).toBe('cluster.local');
    expect(config.workload.principal).toBe('spiffe://cluster.local/ns/shop/sa/default');
    expect(config.workload.labels).toEqual({});
    expect(config.meshPaths).toEqual([]);
    expect(config.watch).toBe(true);
    expect(config.identity).toBeUndefined();
    expect(config.admin).toBeUndefined();
    expect(config.authorization).toEqual({ mode: 'in-process', failOpen: false });
    expect(config.healthChecks.size).toBe(0);
    expect(config.accessLog).toBe('stdout');
    expect(config.limits).toEqual({ maxRequestBodyBytes: 10 * 1024 * 1024, requestTimeoutMs: 60_000, headersTimeoutMs: 10_000 });
  });

  test('remote authorization defaults its timeout to 200ms; grpc accepts host:port', () => {
    const config = loadProxyConfig(
      write(`apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
spec:
  workload: { name: payment, namespace: shop }
  listeners: [{ name: out, mode: outbound, port: 0 }, { name: out2, mode: outbound, port: 0 }]
  authorization: { mode: grpc, url: "authz.shop:9001" }
`),
    );
    expect(config.authorization).toEqual({ mode: 'grpc', url: 'authz.shop:9001', timeoutMs: 200, failOpen: false });
  });

  test('lists every problem with file:line:col and the field path', () => {
    const file = write(`apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
spec:
  workload: { name: payment, namespace: Shop, labels: { version: 1 } }
  listners: []
  listeners:
    - { name: a, mode: inbound, port: 15006 }
    - { name: a, mode: outbound, port: 70000 }
    - { name: b, mode: outbound, port: 15006, application: http://x:1 }
    - { name: c, mode: gateway, port: 8443, gateway: shop-gateway }
    - { name: d, mode: sidecar, port: 1.5 }
    - { name: e, mode: inbound, port: 1, application: https://127.0.0.1:8080 }
  authorization: { mode: http, timeout: 200 }
  healthChecks:
    - { host: inventory, interval: 1s, timeout: 2s }
  limits: { maxRequestBody: 10MB, requestTimeout: soon }
`);
    const errors = errorsOf(file);
    const expected = [
      `${file}:4:41: spec.workload.namespace: "Shop" is not a valid namespace (lower-case DNS label)`,
      `${file}:4:66: spec.workload.labels.version: must be a string, found the integer 1 (quote it)`,
      `${file}:5:3: spec.listners: unknown field (did you mean "listeners"?)`,
      `${file}:7:7: spec.listeners[0].application: is required`,
      `${file}:8:15: spec.listeners[1].name: duplicate listener name "a" (first at spec.listeners[0])`,
      `${file}:8:40: spec.listeners[1].port: 70000 is out of range 0..65535`,
      `${file}:9:40: spec.listeners[2].port: port 15006 is already used by spec.listeners[0]`,
      `${file}:9:60: spec.listeners[2].application: is only for inbound listeners`,
      `${file}:10:54: spec.listeners[3].gateway: "shop-gateway" must name an Istio Gateway as namespace/name`,
      `${file}:11:24: spec.listeners[4].mode: "sidecar" is not one of inbound, outbound, gateway`,
      `${file}:11:39: spec.listeners[4].port: must be an integer, found the number 1.5`,
      `${file}:12:55: spec.listeners[5].application: "https://127.0.0.1:8080": the local application must be reached over plain http:// (the proxy terminates TLS)`,
      `${file}:13:18: spec.authorization.url: is required`,
      `${file}:13:41: spec.authorization.timeout: duration 200 needs a unit (ms, s, m, h), e.g. "200s"`,
      `${file}:15:49: spec.healthChecks[0].timeout: timeout (2000ms) must not exceed interval (1000ms)`,
      `${file}:16:29: spec.limits.maxRequestBody: "10MB" is not a size (write bytes, or e.g. "512Ki", "10Mi", "1Gi")`,
      `${file}:16:51: spec.limits.requestTimeout: "soon" is not a duration (write e.g. "500ms", "1.5s", "2m", "1m30s")`,
    ];
    expect(errors).toEqual(expected);
  });

  test('unknown fields get a closest-name hint at every level', () => {
    const errors = errorsOf(
      write(`apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
spec:
  workload: { name: payment, namespace: shop, serviceAcount: pay }
  listeners: [{ name: out, mode: outbound, prot: 15001 }]
  authorization: { mode: in-proces }
`),
    );
    expect(errors).toEqual([
      expect.stringMatching(/:4:47: spec\.workload\.serviceAcount: unknown field \(did you mean "serviceAccount"\?\)$/),
      expect.stringMatching(/:5:15: spec\.listeners\[0\]\.port: is required$/),
      expect.stringMatching(/:5:44: spec\.listeners\[0\]\.prot: unknown field \(did you mean "port"\?\)$/),
      expect.stringMatching(/:6:26: spec\.authorization\.mode: "in-proces" is not one of in-process, http, grpc, none \(did you mean "in-process"\?\)$/),
    ]);
  });

  test('missing mesh paths and identity files, wrong apiVersion/kind', () => {
    const errors = errorsOf(
      write(`apiVersion: celgate.dev/v1
kind: ProxyConfg
spec:
  workload: { name: payment, namespace: shop }
  mesh: { paths: [nowhere] }
  identity: { cert: certs/missing.crt, key: certs/payment.key }
  listeners: [{ name: out, mode: outbound, port: 15001 }]
  admin: { port: 15001 }
  accessLog: no-such-dir/access.log
`),
    );
    expect(errors).toEqual([
      expect.stringMatching(/:1:13: apiVersion: must be celgate\.dev\/v1alpha1, found "celgate\.dev\/v1"$/),
      expect.stringMatching(/:2:7: kind: must be ProxyConfig, found "ProxyConfg"$/),
      expect.stringContaining(`:5:19: spec.mesh.paths[0]: no such file or directory: ${join(dir, 'nowhere')}`),
      expect.stringMatching(/:6:13: spec\.identity\.ca: is required$/),
      expect.stringContaining(`:6:21: spec.identity.cert: no such file: ${join(dir, 'certs/missing.crt')}`),
      expect.stringMatching(/:8:18: spec\.admin\.port: port 15001 is already used by listener "out"$/),
      expect.stringContaining(`:9:14: spec.accessLog: directory ${join(dir, 'no-such-dir')} does not exist`),
    ]);
  });

  test('a missing file, a directory, bad YAML and an empty file each give a --config friendly error', () => {
    const missing = join(dir, 'nope.yaml');
    expect(errorsOf(missing)).toEqual([`${missing}:1:1: no such file (pass an existing ProxyConfig YAML file to --config)`]);
    expect(errorsOf(dir)).toEqual([`${dir}:1:1: is a directory; --config takes a ProxyConfig YAML file`]);
    const bad = write('spec:\n  listeners: [\n', 'bad.yaml');
    expect(errorsOf(bad)[0]).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: not valid YAML: `));
    const empty = write('# nothing\n', 'empty.yaml');
    expect(errorsOf(empty)).toEqual([`${empty}:1:1: the file is empty; expected a ProxyConfig (apiVersion celgate.dev/v1alpha1)`]);
    const two = write('kind: ProxyConfig\n---\nkind: ProxyConfig\n', 'two.yaml');
    expect(errorsOf(two)).toEqual([`${two}:3:1: expected one ProxyConfig document, found 2`]);
    const list = write('- 1\n', 'list.yaml');
    expect(errorsOf(list)).toEqual([`${list}:1:1: must be a mapping, found a list`]);
  });

  test('authorization url forms per mode', () => {
    const base = (authz: string) =>
      write(`apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
spec:
  workload: { name: payment, namespace: shop }
  listeners: [{ name: out, mode: outbound, port: 15001 }]
  authorization: ${authz}
`);
    expect(errorsOf(base('{ mode: http, url: "authz:9000" }'))).toEqual([expect.stringMatching(/spec\.authorization\.url: "authz:9000" must be an http:\/\/ or https:\/\/ URL/)]);
    expect(errorsOf(base('{ mode: grpc, url: "authz", pathPrefix: /x }'))).toEqual([
      expect.stringMatching(/spec\.authorization\.url: "authz" must be host:port or an http/),
      expect.stringMatching(/spec\.authorization\.pathPrefix: is only for mode http$/),
    ]);
    expect(errorsOf(base('{ mode: none, failOpen: true, url: "http://x" }'))).toEqual([
      expect.stringMatching(/spec\.authorization\.failOpen: has no meaning with mode none/),
      expect.stringMatching(/spec\.authorization\.url: is only for mode http or grpc$/),
    ]);
    expect(loadProxyConfig(base('{ mode: none }')).authorization).toEqual({ mode: 'none' });
    expect(loadProxyConfig(base('{ mode: grpc, url: "https://authz.shop:9001" }')).authorization).toMatchObject({ mode: 'grpc', url: 'https://authz.shop:9001' });
  });
});

describe('discovery.kubernetes', () => {
  const withDiscovery = (discovery: string): string =>
    write(`apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
spec:
  workload: { name: payment, namespace: shop }
  listeners: [{ name: out, mode: outbound, port: 15001 }]
  discovery:
${discovery}
`);

  test('absent: no cluster discovery; an empty mapping: every default; a kubeconfig resolves against the file', () => {
    expect(loadProxyConfig(withDiscovery('    {}')).discovery).toBeUndefined();
    expect(loadProxyConfig(withDiscovery('    kubernetes: {}')).discovery).toEqual({ kubernetes: { clusterDomain: 'cluster.local', pods: true } });
    writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
    const config = loadProxyConfig(withDiscovery('    kubernetes: { kubeconfig: kubeconfig, clusterDomain: corp.internal, namespaces: [shop, payments], pods: false }'));
    expect(config.discovery).toEqual({ kubernetes: { kubeconfig: join(dir, 'kubeconfig'), clusterDomain: 'corp.internal', namespaces: ['shop', 'payments'], pods: false } });
  });

  test('every problem with file:line:col and the field path', () => {
    const file = withDiscovery(`    kubernetes:
      kubeconfig: missing/kubeconfig
      clusterDomain: Cluster_Local
      namespaces: [shop, Shop, shop, 7]
      pods: "yes"
      namespace: shop`);
    expect(errorsOf(file)).toEqual([
      `${file}:8:19: spec.discovery.kubernetes.kubeconfig: no such file: ${join(dir, 'missing/kubeconfig')} (leave kubeconfig out to use KUBECONFIG or the Pod's service account)`,
      `${file}:9:22: spec.discovery.kubernetes.clusterDomain: "Cluster_Local" is not a valid cluster domain (lower-case DNS name, e.g. cluster.local)`,
      `${file}:10:26: spec.discovery.kubernetes.namespaces[1]: "Shop" is not a valid namespace (lower-case DNS label)`,
      `${file}:10:32: spec.discovery.kubernetes.namespaces[2]: duplicate namespace "shop" (first at spec.discovery.kubernetes.namespaces[0])`,
      `${file}:10:38: spec.discovery.kubernetes.namespaces[3]: must be a string, found the integer 7 (quote it)`,
      `${file}:11:13: spec.discovery.kubernetes.pods: must be true or false, found the string "yes"`,
      `${file}:12:7: spec.discovery.kubernetes.namespace: unknown field (did you mean "namespaces"?)`,
    ]);
    expect(errorsOf(withDiscovery('    kubernetes: { namespaces: [] }'))).toEqual([
      `${join(dir, 'proxy.yaml')}:7:31: spec.discovery.kubernetes.namespaces: must list at least one namespace (leave namespaces out to watch all of them)`,
    ]);
    expect(errorsOf(withDiscovery('    kubernetes: true'))).toEqual([`${join(dir, 'proxy.yaml')}:7:17: spec.discovery.kubernetes: must be a mapping, found the boolean true`]);
  });
});

test('YAML anchors and aliases resolve like any other value', () => {
  const config = loadProxyConfig(
    write(`apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
spec:
  workload: { name: payment, namespace: shop }
  listeners:
    - { name: out, mode: outbound, port: &port 15001 }
  admin: { port: 15000 }
  healthChecks:
    - { host: a.shop.svc.cluster.local, interval: &every 3s }
    - { host: b.shop.svc.cluster.local, interval: *every }
`),
  );
  expect(config.listeners).toEqual([{ name: 'out', mode: 'outbound', address: '127.0.0.1', port: 15001 }]);
  expect([...config.healthChecks.keys()]).toEqual(['a.shop.svc.cluster.local', 'b.shop.svc.cluster.local']);
  expect(config.healthChecks.get('b.shop.svc.cluster.local')).toEqual({ path: '/healthz', intervalMs: 3000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 });
});

describe('units', () => {
  test('durations in Go/Istio form', () => {
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('300ms')).toBe(300);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('250us')).toBe(1); // sub-millisecond rounds up, never to 0
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('5')).toEqual({ error: expect.stringContaining('needs a unit') });
    expect(parseDuration('1.5 s')).toEqual({ error: expect.stringContaining('is not a duration') });
    expect(parseDuration('-1s')).toEqual({ error: expect.stringContaining('is not a duration') });
  });

  test('sizes as Kubernetes quantities or plain bytes', () => {
    expect(parseSize('10Mi')).toBe(10 * 2 ** 20);
    expect(parseSize('1Gi')).toBe(2 ** 30);
    expect(parseSize('512Ki')).toBe(512 * 1024);
    expect(parseSize('1.5Mi')).toBe(1.5 * 2 ** 20);
    expect(parseSize('2k')).toBe(2000);
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('1.5')).toEqual({ error: expect.stringContaining('whole number') });
    expect(parseSize('10MB')).toEqual({ error: expect.stringContaining('is not a size') });
    expect(parseSize(-1)).toEqual({ error: expect.stringContaining('whole number') });
  });
});
