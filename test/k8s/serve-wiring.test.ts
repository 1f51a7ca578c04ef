/**
 * What `celgate serve --kubernetes` wires beyond the policy feed, tested as a process (the built
 * binary; `npx tsc -p tsconfig.json` first) against the fake API server: CEL `authorizer` checks
 * answered by SubjectAccessReviews, Lease leader election with hand-over on SIGTERM, webhook
 * self-registration (--register-webhooks) and the leader's status conditions.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from './fake-apiserver.js';
import { readyz, startReplica, stopReplicas, validate, type Replica } from './replicas.js';
import { binding, eventually, noLatestPolicy, VAP } from './objects.js';

const replicas: Replica[] = [];
let api: FakeApiServer;
let kubeconfig: string;

async function serve(extra: string[] = [], env: Record<string, string> = {}): Promise<Replica> {
  const replica = await startReplica(kubeconfig, extra, { POD_NAMESPACE: 'celgate', ...env });
  replicas.push(replica);
  return replica;
}

async function ready(replica: Replica): Promise<boolean> {
  return (await readyz(replica)) === 200;
}

/** An AdmissionReview creating a ConfigMap in `ns` as `username`. */
function configMapReview(username: string, ns: string): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b1f3d7a2-0000-4000-8000-00000000000a',
      operation: 'CREATE',
      namespace: ns,
      name: 'settings',
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      userInfo: { username, groups: ['system:authenticated'] },
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data: {} },
    },
  };
}

function tryGet(apiVersion: string, kind: string, name: string, namespace?: string): Record<string, any> | undefined {
  try {
    return api.get(apiVersion, kind, name, namespace) as Record<string, any>;
  } catch {
    return undefined;
  }
}

const holder = (): string | undefined => tryGet('coordination.k8s.io/v1', 'Lease', 'celgate', 'celgate')?.spec?.holderIdentity;

function policy(name: string, rule: Record<string, unknown>, expression = 'true'): KubeObject {
  return {
    apiVersion: VAP,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: { failurePolicy: 'Fail', matchConstraints: { resourceRules: [rule] }, validations: [{ expression }] },
  };
}

beforeEach(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
  kubeconfig = api.writeKubeconfig();
});

afterEach(async () => {
  await stopReplicas(replicas);
  await api.close();
});

jest.setTimeout(25000);

test("CEL authorizer checks are SubjectAccessReviews: the cluster's answer decides admission", async () => {
  // Kubernetes (ValidatingAdmissionPolicy, expression variables): "'authorizer.requestResource' - A CEL
  // ResourceCheck constructed from the 'authorizer' and configured with the request resource", checked
  // for the principal (user or service account) of the request.
  api.create(
    policy('may-delete-what-it-creates', { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }, "authorizer.requestResource.check('delete').allowed()"),
  );
  api.create(binding('may-delete-what-it-creates', 'may-delete-what-it-creates'));
  // The RBAC-like table the fake API server answers SubjectAccessReviews from: alice may delete
  // configmaps in team-a, nobody else may delete anything.
  api.authorize([{ users: ['alice'], verbs: ['delete'], apiGroups: [''], resources: ['configmaps'], namespaces: ['team-a'] }]);
  const replica = await serve();
  await eventually(() => ready(replica), 10000, 'ready');

  expect((await validate(replica, configMapReview('alice', 'team-a'))).allowed).toBe(true);
  const otherNamespace = await validate(replica, configMapReview('alice', 'team-b'));
  expect(otherNamespace.allowed).toBe(false);
  expect(otherNamespace.message).toContain("ValidatingAdmissionPolicy 'may-delete-what-it-creates' with binding 'may-delete-what-it-creates' denied request");
  expect((await validate(replica, configMapReview('bob', 'team-a'))).allowed).toBe(false);
  const reviews = api.requests.filter((r) => r.method === 'POST' && r.path === '/apis/authorization.k8s.io/v1/subjectaccessreviews');
  expect(reviews).toHaveLength(3);

  // A repeated check is answered from the short-lived cache: no new review.
  expect((await validate(replica, configMapReview('alice', 'team-a'))).allowed).toBe(true);
  expect(api.requests.filter((r) => r.method === 'POST' && r.path === '/apis/authorization.k8s.io/v1/subjectaccessreviews')).toHaveLength(3);
});

test('two replicas: exactly one holds the Lease; after SIGTERM the leader releases it and the other takes over', async () => {
  const [a, b] = await Promise.all([serve([], { POD_NAME: 'celgate-a' }), serve([], { POD_NAME: 'celgate-b' })]);
  await eventually(() => holder() === 'celgate-a' || holder() === 'celgate-b', 8000, 'a replica holding the Lease');
  const first = holder()!;
  // Both keep running several retry periods (2 s): the holder renews, the other does not take over.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  expect(holder()).toBe(first);
  const [leader, follower] = first === 'celgate-a' ? [a, b] : [b, a];
  const followerName = first === 'celgate-a' ? 'celgate-b' : 'celgate-a';
  expect(leader.stderr()).toContain('elected leader');
  expect(follower.stderr()).not.toContain('elected leader');

  const stopped = Date.now();
  leader.child.kill('SIGTERM');
  expect(await leader.exited).toBe(0);
  // client-go semantics: a released Lease (empty holder) may be taken at once; the follower retries
  // every 2 s (+20% jitter), far sooner than the 15 s lease duration it would otherwise wait for.
  await eventually(() => holder() === followerName, 5000, 'the other replica taking the Lease');
  expect(Date.now() - stopped).toBeLessThan(5000);
  await eventually(() => follower.stderr().includes('elected leader'), 2000, 'the follower logging its election');
});

test('--register-webhooks: the leader registers the rules of the bound policies with the serving CA, and follows new policies', async () => {
  api.create(noLatestPolicy());
  api.create(binding('no-latest', 'no-latest'));
  const replica = await serve(['--register-webhooks', '--webhook-timeout', '7'], { POD_NAME: 'celgate-a' });
  const configuration = (): Record<string, any> | undefined => tryGet('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'celgate');
  const mutating = (): Record<string, any> | undefined => tryGet('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'celgate');
  await eventually(() => configuration() !== undefined && mutating() !== undefined, 8000, 'both webhook configurations being created');
  const webhook = configuration()!.webhooks[0];
  // Kubernetes (WebhookClientConfig): "caBundle is a PEM encoded CA bundle which will be used to
  // validate the webhook's server certificate" — here the CA that signed celgate's serving certificate.
  const ca = await readFile(join(replica.certs, 'ca.crt'), 'utf8');
  expect(Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8')).toBe(ca);
  expect(webhook.clientConfig.service).toEqual({ namespace: 'celgate', name: 'celgate', path: '/validate', port: 443 });
  expect(webhook).toMatchObject({ name: 'validate.celgate.dev', failurePolicy: 'Fail', timeoutSeconds: 7, sideEffects: 'None' });
  expect(webhook.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: '*' }]);
  // No mutating policy is bound: the mutating webhook exists and is called for nothing.
  expect(mutating()!.webhooks[0]).toMatchObject({ name: 'mutate.celgate.dev', rules: [] });

  // A policy for another resource: the rules become the union.
  api.create(policy('replicas', { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }, 'object.spec.replicas >= 2'));
  api.create(binding('replicas', 'replicas'));
  await eventually(() => configuration()!.webhooks[0].rules.length === 2, 3000, 'the new policy reaching the webhook rules');
  expect(configuration()!.webhooks[0].rules).toEqual([
    { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: '*' },
    { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'], scope: '*' },
  ]);
  expect(replica.stderr()).toContain('webhook configurations reconciled');
});

test('the leader sets celgate.dev/Compiled=False on a cluster policy that does not compile, and True once it is fixed', async () => {
  const broken = noLatestPolicy('broken', 'object.spec.containers.all(c, c.image.endsWith('); // a syntax error
  api.create(broken);
  api.create(binding('broken', 'broken'));
  api.create(noLatestPolicy('good'));
  api.create(binding('good', 'good'));
  const replica = await serve([], { POD_NAME: 'celgate-a' });
  const condition = (name: string): Record<string, any> | undefined =>
    tryGet(VAP, 'ValidatingAdmissionPolicy', name)?.status?.conditions?.find((c: { type: string }) => c.type === 'celgate.dev/Compiled');
  await eventually(() => condition('broken') !== undefined, 8000, 'the condition being written');
  expect(condition('broken')).toMatchObject({ status: 'False', reason: 'CompileError', observedGeneration: 1 });
  expect(condition('broken')!.message).toContain('spec.validations[0].expression');
  // A policy that compiles and never failed gets no condition (no status writes in a healthy cluster).
  expect(tryGet(VAP, 'ValidatingAdmissionPolicy', 'good')!.status).toBeUndefined();

  const fixed = api.get(VAP, 'ValidatingAdmissionPolicy', 'broken') as Record<string, any>;
  fixed.spec.validations[0].expression = "object.spec.containers.all(c, !c.image.endsWith(':latest'))";
  api.update(fixed);
  await eventually(() => condition('broken')?.status === 'True', 3000, 'the condition turning True');
  expect(condition('broken')).toMatchObject({ reason: 'Compiled', observedGeneration: 2 });
  expect(await ready(replica)).toBe(true);
});

test('webhook registration flags are checked before anything starts (exit 2, saying what to do)', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('node', ['bin/celgate.js', 'serve', '--port', '0', '--authz-http-port', 'off', '--authz-grpc-port', 'off', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const cases: [string[], string][] = [
    [['--register-webhooks'], '--register-webhooks needs --kubernetes'],
    [['--kubernetes', '--kubeconfig', kubeconfig, '--webhook-url', 'https://celgate.example.com'], '--webhook-url needs --register-webhooks'],
    [['--kubernetes', '--kubeconfig', kubeconfig, '--register-webhooks', '--webhook-url', 'http://celgate.example.com'], '--webhook-url must be https'],
    [['--kubernetes', '--kubeconfig', kubeconfig, '--register-webhooks', '--webhook-service', 'celgate'], '--webhook-service: expected NAMESPACE/NAME'],
    [['--kubernetes', '--kubeconfig', kubeconfig, '--register-webhooks', '--webhook-timeout', '31'], '--webhook-timeout must be a whole number of seconds from 1 to 30'],
    [['--kubernetes', '--kubeconfig', kubeconfig, '--register-webhooks', '--webhook-failure-policy', 'fail'], '--webhook-failure-policy must be Fail or Ignore'],
    [['--kubernetes', '--kubeconfig', kubeconfig, '--register-webhooks', '--tls-cert', 'a.crt', '--tls-key', 'a.key'], '--register-webhooks with --tls-cert needs --webhook-ca-bundle FILE'],
  ];
  const dir = await mkdtemp(join(tmpdir(), 'celgate-k8s-flags-'));
  await writeFile(join(dir, 'not-a-ca.pem'), 'not a certificate\n');
  cases.push(
    [['--kubernetes', '--kubeconfig', kubeconfig, '--certs', join(dir, 'certs'), '--register-webhooks', '--webhook-ca-bundle', join(dir, 'missing.pem')], `cannot read the webhook CA bundle ${join(dir, 'missing.pem')}`],
    [['--kubernetes', '--kubeconfig', kubeconfig, '--certs', join(dir, 'certs'), '--register-webhooks', '--webhook-ca-bundle', join(dir, 'not-a-ca.pem')], 'caPem must hold a PEM certificate'],
  );
  const results = await Promise.all(cases.map(([args]) => run(args)));
  results.forEach((result, i) => {
    expect([cases[i]![1], result.code]).toEqual([cases[i]![1], 2]);
    expect(result.stderr).toContain(cases[i]![1]);
  });
});
