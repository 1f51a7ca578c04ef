/**
 * ClusterSource against the fake API server: list+watch, debounced rebuilds, a broken watch, 410 Gone,
 * param kinds discovered from policies, CRDs that appear, and two replicas converging.
 */
import { pino } from 'pino';
import { ClusterSource, type ClusterSnapshot } from '../../src/k8s/cluster-source.js';
import { loadKubeConfig } from '../../src/k8s/kube-config.js';
import { ISTIO_AND_CELGATE_RESOURCES, startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';
import { binding, eventually, namespace, noLatestPolicy, VAP } from './objects.js';

const log = pino({ level: 'silent' });
let api: FakeApiServer;
let kubeconfig: string;
const sources: ClusterSource[] = [];

function source(onChange?: (s: ClusterSnapshot) => void): ClusterSource {
  const s = new ClusterSource({ config: loadKubeConfig({ file: kubeconfig }), logger: log, initialBackoffMs: 50, maxBackoffMs: 200, ...(onChange ? { onChange } : {}) });
  sources.push(s);
  return s;
}

const names = (s: ClusterSource): string[] => (s.current()?.resources ?? []).map((r) => `${r.type.kind}/${r.name}`).sort();

beforeEach(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 100 });
  kubeconfig = api.writeKubeconfig();
});

afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
  await api.close();
});

test('the first sync lists every served kind; objects become PolicyResources named by their API path', async () => {
  api.create(noLatestPolicy());
  api.create(binding('no-latest', 'no-latest'));
  api.create(namespace('shop', { team: 'a' }));
  const s = source();
  const snapshot = await s.synced;
  expect(names(s)).toEqual(['ValidatingAdmissionPolicy/no-latest', 'ValidatingAdmissionPolicyBinding/no-latest']);
  const policy = snapshot.resources.find((r) => r.type.kind === 'ValidatingAdmissionPolicy')!;
  expect(policy.document.file).toBe('k8s:/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/no-latest');
  expect(policy.document.positionOf(['spec', 'validations', 0, 'expression']).line).toBeGreaterThan(1);
  expect(snapshot.objects).toEqual([expect.objectContaining({ apiVersion: 'v1', kind: 'Namespace', metadata: expect.objectContaining({ name: 'shop' }) })]);
  // Istio and AccessPolicy CRDs are not installed: not watched.
  expect(s.watching()).not.toContain('security.istio.io/v1/AuthorizationPolicy');
  expect(s.watching()).toContain('admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy');
});

test('a created and a deleted policy reach onChange within a second (debounced)', async () => {
  const seen: ClusterSnapshot[] = [];
  const s = source((snapshot) => seen.push(snapshot));
  await s.synced;
  api.create(noLatestPolicy());
  api.create(binding('no-latest', 'no-latest'));
  const took = await eventually(() => names(s).length === 2, 1000, 'the policy and binding arriving');
  expect(took).toBeLessThan(1000);
  // Two events 1 ms apart make one rebuild.
  expect(seen).toHaveLength(1);
  api.remove(VAP, 'ValidatingAdmissionPolicyBinding', 'no-latest');
  await eventually(() => names(s).length === 1, 1000, 'the binding going away');
});

test('a watch broken mid-stream resumes from its resourceVersion without losing what changed meanwhile', async () => {
  const s = source();
  await s.synced;
  api.create(noLatestPolicy('first'));
  await eventually(() => names(s).includes('ValidatingAdmissionPolicy/first'), 1000, 'first policy');
  const lists = api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/validatingadmissionpolicies') && !r.query.includes('watch')).length;
  expect(api.breakWatches()).toBeGreaterThan(0);
  // Created while no watch is open: only a resumed watch (or a re-list) can see it.
  api.create(noLatestPolicy('while-down'));
  await eventually(() => names(s).includes('ValidatingAdmissionPolicy/while-down'), 3000, 'the object created while the watch was down');
  // Resumed from the resourceVersion, not re-listed.
  const after = api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/validatingadmissionpolicies') && !r.query.includes('watch')).length;
  expect(after).toBe(lists);
  const resumed = api.requests.filter((r) => r.path.endsWith('/validatingadmissionpolicies') && r.query.includes('watch')).at(-1)!;
  expect(resumed.query).toMatch(/resourceVersion=\d+/);
  expect(resumed.query).toContain('allowWatchBookmarks=true');
});

test('410 Gone (history compacted while disconnected) makes the informer re-list and converge, deletions included', async () => {
  api.create(noLatestPolicy('keep'));
  api.create(noLatestPolicy('doomed'));
  const s = source();
  await s.synced;
  await new Promise((resolve) => setTimeout(resolve, 150)); // let bookmarks pass
  api.breakWatches();
  api.remove(VAP, 'ValidatingAdmissionPolicy', 'doomed');
  api.create(noLatestPolicy('new'));
  // Kubernetes API concepts: "When the requested watch operations fail because the historical version
  // of that resource is not available, clients must handle the case by recognizing the status code
  // 410 Gone, clearing their local cache, performing a list operation, and starting the watch from the
  // resourceVersion returned by that new list operation."
  api.compact();
  await eventually(() => names(s).join() === 'ValidatingAdmissionPolicy/keep,ValidatingAdmissionPolicy/new', 3000, 'convergence after 410');
  const relists = api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/validatingadmissionpolicies') && !r.query.includes('watch'));
  expect(relists.length).toBeGreaterThanOrEqual(2);
});

test('a paramKind named by a policy is discovered and watched; its objects are data', async () => {
  const policy = noLatestPolicy('with-params');
  (policy.spec as Record<string, unknown>).paramKind = { apiVersion: 'v1', kind: 'ConfigMap' };
  api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'limits', namespace: 'default' }, data: { max: '3' } });
  api.create(policy);
  const s = source();
  const snapshot = await s.synced;
  expect(s.watching()).toContain('v1/ConfigMap');
  expect(snapshot.objects).toEqual([expect.objectContaining({ kind: 'ConfigMap', apiVersion: 'v1', data: { max: '3' } })]);
  api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'more', namespace: 'default' }, data: {} });
  await eventually(() => s.current()!.objects.length === 2, 1000, 'the second ConfigMap');
});

test('Istio and AccessPolicy kinds are watched when their CRDs are served', async () => {
  for (const type of ISTIO_AND_CELGATE_RESOURCES) api.addResource(type);
  api.create({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-all', namespace: 'shop' }, spec: {} });
  const s = source();
  await s.synced;
  expect(s.watching()).toEqual(expect.arrayContaining(['security.istio.io/v1/AuthorizationPolicy', 'celgate.dev/v1alpha1/AccessPolicy']));
  expect(names(s)).toEqual(['AuthorizationPolicy/deny-all']);
  expect(s.current()!.resources[0]!.namespace).toBe('shop');
});

test('two replicas converge on the same set', async () => {
  const a = source();
  const b = source();
  await Promise.all([a.synced, b.synced]);
  for (let i = 0; i < 5; i++) api.create(noLatestPolicy(`p${i}`));
  api.remove(VAP, 'ValidatingAdmissionPolicy', 'p2');
  api.patch(VAP, 'ValidatingAdmissionPolicy', 'p3', { spec: { failurePolicy: 'Ignore' } });
  const expected = ['p0', 'p1', 'p3', 'p4'].map((n) => `ValidatingAdmissionPolicy/${n}`);
  await eventually(() => names(a).join() === expected.join() && names(b).join() === expected.join(), 2000, 'both replicas converging');
  const failurePolicy = (s: ClusterSource) => (s.current()!.resources.find((r) => r.name === 'p3')!.value.spec as { failurePolicy: string }).failurePolicy;
  expect(failurePolicy(a)).toBe('Ignore');
  expect(failurePolicy(b)).toBe('Ignore');
});

test('an unreachable API server is retried with backoff; synced waits for it', async () => {
  const dead = await startFakeApiServer();
  const file = dead.writeKubeconfig();
  await dead.close();
  const s = new ClusterSource({ config: loadKubeConfig({ file }), logger: log, initialBackoffMs: 20, maxBackoffMs: 50 });
  sources.push(s);
  const outcome = await Promise.race([s.synced.then(() => 'synced'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 300))]);
  expect(outcome).toBe('waiting');
  expect(s.current()).toBeUndefined();
});
