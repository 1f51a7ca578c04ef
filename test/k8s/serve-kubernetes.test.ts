/**
 * `celgate serve --kubernetes --kubeconfig FILE` as a process (the built binary; `npx tsc -p
 * tsconfig.json` first) against the fake API server: policies created, changed and deleted in the
 * cluster take effect without a restart; /readyz waits for the first full list; two replicas agree;
 * SIGTERM drains.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { request } from 'undici';
import { ISTIO_AND_CELGATE_RESOURCES, startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';
import { readyz, startReplica, stopReplicas, validate, type Replica } from './replicas.js';
import { binding, eventually, namespace, noLatestPolicy, podReview, VAP } from './objects.js';

const replicas: Replica[] = [];
let api: FakeApiServer;
let kubeconfig: string;

async function serve(extra: string[] = []): Promise<Replica> {
  const replica = await startReplica(kubeconfig, extra);
  replicas.push(replica);
  return replica;
}

beforeEach(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
  kubeconfig = api.writeKubeconfig();
});

afterEach(async () => {
  await stopReplicas(replicas);
  await api.close();
});

jest.setTimeout(40000);

test('/readyz is 503 until the cluster is listed; a policy created while serving denies within a second; deleting it stops it', async () => {
  api.listDelayMs = 1500;
  const replica = await serve();
  expect(await readyz(replica)).toBe(503);
  await eventually(async () => (await readyz(replica)) === 200, 10000, 'ready after the first list');
  api.listDelayMs = 0;
  expect((await validate(replica, podReview('nginx:latest'))).allowed).toBe(true);

  api.create(noLatestPolicy());
  api.create(binding('no-latest', 'no-latest'));
  const took = await eventually(async () => !(await validate(replica, podReview('nginx:latest'))).allowed, 1000, 'the new policy denying');
  expect(took).toBeLessThan(1000);
  const denied = await validate(replica, podReview('nginx:latest'));
  // The message kube-apiserver writes for a denying ValidatingAdmissionPolicy.
  expect(denied.message).toContain("ValidatingAdmissionPolicy 'no-latest' with binding 'no-latest' denied request");
  expect((await validate(replica, podReview('nginx:1.27'))).allowed).toBe(true);

  api.remove(VAP, 'ValidatingAdmissionPolicyBinding', 'no-latest');
  await eventually(async () => (await validate(replica, podReview('nginx:latest'))).allowed, 1000, 'the policy no longer applying');
});

test("a Namespace label change changes a binding's namespaceSelector outcome", async () => {
  api.create(namespace('shop', { enforce: 'no' }));
  api.create(noLatestPolicy());
  // Kubernetes (ValidatingAdmissionPolicyBinding matchResources.namespaceSelector): the policy applies
  // to objects in namespaces whose labels match the selector.
  api.create(binding('no-latest', 'no-latest', { matchResources: { namespaceSelector: { matchLabels: { enforce: 'yes' } } } }));
  const replica = await serve();
  await eventually(async () => (await readyz(replica)) === 200, 10000, 'ready');
  expect((await validate(replica, podReview('nginx:latest', 'shop'))).allowed).toBe(true);
  api.patch('v1', 'Namespace', 'shop', { metadata: { labels: { enforce: 'yes' } } });
  await eventually(async () => !(await validate(replica, podReview('nginx:latest', 'shop'))).allowed, 1000, 'the label change taking effect');
  api.patch('v1', 'Namespace', 'shop', { metadata: { labels: { enforce: null } } });
  await eventually(async () => (await validate(replica, podReview('nginx:latest', 'shop'))).allowed, 1000, 'the label removal taking effect');
});

test('a cluster policy that does not compile is logged by its API path and does not block the others', async () => {
  const broken = noLatestPolicy('broken', 'object.spec.containers.all(c, c.image.endsWith('); // a syntax error
  (broken.spec as Record<string, unknown>).failurePolicy = 'Ignore';
  api.create(broken);
  api.create(binding('broken', 'broken'));
  api.create(noLatestPolicy('good'));
  api.create(binding('good', 'good'));
  const replica = await serve();
  await eventually(async () => (await readyz(replica)) === 200, 10000, 'ready despite the broken policy');
  const decision = await validate(replica, podReview('nginx:latest'));
  expect(decision.allowed).toBe(false);
  expect(decision.message).toContain("ValidatingAdmissionPolicy 'good' with binding 'good' denied request");
  // The broken policy's failurePolicy (Ignore) applies to its failing expression, as in kube-apiserver.
  expect((await validate(replica, podReview('nginx:1.27'))).allowed).toBe(true);
  expect(replica.stderr()).toMatch(/k8s:\/apis\/admissionregistration\.k8s\.io\/v1\/validatingadmissionpolicies\/broken:\d+:\d+/);
});

test('two replicas converge on the same set', async () => {
  const [a, b] = await Promise.all([serve(), serve()]);
  await eventually(async () => (await readyz(a)) === 200 && (await readyz(b)) === 200, 10000, 'both ready');
  api.create(noLatestPolicy());
  api.create(binding('no-latest', 'no-latest'));
  await eventually(async () => !(await validate(a, podReview('x:latest'))).allowed && !(await validate(b, podReview('x:latest'))).allowed, 2000, 'both denying');
  api.breakWatches();
  api.remove(VAP, 'ValidatingAdmissionPolicyBinding', 'no-latest');
  await eventually(async () => (await validate(a, podReview('x:latest'))).allowed && (await validate(b, podReview('x:latest'))).allowed, 3000, 'both allowing again after a broken watch');
});

test('SIGTERM: /readyz turns 503, a review in flight still gets its answer, then the process exits 0', async () => {
  api.create(noLatestPolicy());
  api.create(binding('no-latest', 'no-latest'));
  const replica = await serve(['--shutdown-timeout', '5']);
  await eventually(async () => (await readyz(replica)) === 200, 10000, 'ready');
  const body = JSON.stringify(podReview('nginx:latest'));
  const { port } = new URL(replica.url);
  // A review whose body is only half sent when the signal arrives.
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/validate', method: 'POST', ca: replica.ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 100));
    setTimeout(() => {
      replica.child.kill('SIGTERM');
      setTimeout(async () => {
        try {
          expect(await readyz(replica)).toBe(503);
        } catch (error) {
          reject(error);
        }
        req.end(body.slice(100));
      }, 300);
    }, 200);
  });
  const { status, text } = await answer;
  expect(status).toBe(200);
  expect((JSON.parse(text) as { response: { allowed: boolean } }).response.allowed).toBe(false);
  expect(await replica.exited).toBe(0);
});

test('ext_authz decides with AuthorizationPolicies from the cluster once their CRD is served, and follows changes', async () => {
  for (const type of ISTIO_AND_CELGATE_RESOURCES) api.addResource(type);
  // Istio docs (authorization-policy): a DENY policy denies requests matching its rules.
  api.create({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'no-admin', namespace: 'default' },
    spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] },
  });
  const replica = await serve(['--authz-http-port', '0']);
  const check = async (path: string): Promise<number> => {
    const response = await request(`${replica.authzUrl!}${path}`, { dispatcher: replica.client });
    await response.body.dump();
    return response.statusCode;
  };
  expect(await check('/admin')).toBe(403);
  expect(await check('/public')).toBe(200);
  api.patch('security.istio.io/v1', 'AuthorizationPolicy', 'no-admin', { spec: { rules: [{ to: [{ operation: { paths: ['/public'] } }] }] } }, 'default');
  await eventually(async () => (await check('/public')) === 403 && (await check('/admin')) === 200, 1000, 'the changed policy applying');
});

test('--kubeconfig without --kubernetes, and a missing kubeconfig, are usage errors (exit 2) that say what to do', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('node', ['bin/celgate.js', 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const alone = await run(['--kubeconfig', kubeconfig, '--port', '0']);
  expect(alone.code).toBe(2);
  expect(alone.stderr).toContain('--kubeconfig needs --kubernetes');
  const missing = await run(['--kubernetes', '--kubeconfig', '/nonexistent/kubeconfig', '--port', '0']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('--kubeconfig /nonexistent/kubeconfig: no such file');
});
