/**
 * Webhook self-registration against the loopback API server with a real client-node client.
 */
import { AdmissionregistrationV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { createWebhookRegistrar, desiredWebhooks, reconcileWebhooks, rulesForPolicies, type WebhookApi } from '../../src/k8s/registration.js';
import { makeTestCerts } from '../authz/certs.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

const CA = makeTestCerts().ca.toString('utf8');

const docs = (text: string): unknown[] => text.split(/^---$/m).map((d) => parse(d));

const POLICIES = docs(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: pods}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods], resourceNames: [only-this-one]}
    excludeResourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [pods]}
  validations: [{expression: "true"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: workloads}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [UPDATE, CREATE], resources: [pods/ephemeralcontainers]}
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments], scope: Namespaced}
  validations: [{expression: "true"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: unbound}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*"]}
  validations: [{expression: "true"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: pods}
spec: {policyName: pods, validationActions: [Deny]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: workloads}
spec: {policyName: workloads, validationActions: [Deny], matchResources: {namespaceSelector: {matchLabels: {team: a}}}}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: defaults}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [batch], apiVersions: [v1], operations: [CREATE], resources: [jobs]}
  mutations: []
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: defaults}
spec: {policyName: defaults}
`);

const OPTIONS = { caPem: CA, endpoint: { service: { namespace: 'celgate', name: 'celgate' } } } as const;

function client(server: FakeApiServer): AdmissionregistrationV1Api {
  const config = new KubeConfig();
  config.loadFromString(server.kubeconfig());
  return config.makeApiClient(AdmissionregistrationV1Api);
}

const stored = (server: FakeApiServer, kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration') =>
  server.get('admissionregistration.k8s.io/v1', kind, 'celgate') as { metadata: { resourceVersion: string }; webhooks: any[] };

describe('webhook rules from policies', () => {
  test('the union of bound policies\' resourceRules; unbound policies, exclusions and resourceNames do not narrow or widen', () => {
    // Kubernetes docs (ValidatingAdmissionPolicy): "A policy without a binding is ineffective";
    // webhook rules cannot express exclusions, so the webhook is called and the engine excludes.
    expect(rulesForPolicies(POLICIES, { policy: 'ValidatingAdmissionPolicy', binding: 'ValidatingAdmissionPolicyBinding' })).toEqual([
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'], scope: '*' },
      { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['deployments'], scope: 'Namespaced' },
    ]);
    expect(rulesForPolicies(POLICIES, { policy: 'MutatingAdmissionPolicy', binding: 'MutatingAdmissionPolicyBinding' })).toEqual([
      { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['jobs'], scope: '*' },
    ]);
  });

  test('the configurations carry the caBundle, service, failurePolicy, sideEffects None and v1 reviews', () => {
    const { validating, mutating } = desiredWebhooks(POLICIES, { ...OPTIONS, failurePolicy: 'Ignore', timeoutSeconds: 3 });
    const v = validating.webhooks![0]!;
    expect(v.clientConfig).toEqual({ service: { namespace: 'celgate', name: 'celgate', path: '/validate', port: 443 }, caBundle: Buffer.from(CA).toString('base64') });
    expect(v).toMatchObject({ failurePolicy: 'Ignore', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 3, matchPolicy: 'Equivalent' });
    expect(v.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['celgate', 'kube-system'] }] });
    expect(mutating.webhooks![0]).toMatchObject({ name: 'mutate.celgate.dev', reinvocationPolicy: 'IfNeeded', clientConfig: { service: { path: '/mutate' } } });
    const byUrl = desiredWebhooks(POLICIES, { caPem: CA, endpoint: { url: 'https://celgate.example:8443/' } });
    expect(byUrl.validating.webhooks![0]!.clientConfig.url).toBe('https://celgate.example:8443/validate');
  });

  test('bad options are refused with a message naming the field', () => {
    expect(() => desiredWebhooks([], { ...OPTIONS, caPem: 'nope' })).toThrow(/caPem must hold a PEM certificate/);
    expect(() => desiredWebhooks([], { ...OPTIONS, timeoutSeconds: 31 })).toThrow(/timeoutSeconds must be a whole number from 1 to 30/);
    // admissionregistration/v1 WebhookClientConfig.url: "The scheme must be "https"".
    expect(() => desiredWebhooks([], { caPem: CA, endpoint: { url: 'http://x/' } })).toThrow(/url must be https/);
  });
});

describe('reconcileWebhooks against the API server', () => {
  let server: FakeApiServer;
  beforeEach(async () => {
    server = await startFakeApiServer();
  });
  afterEach(async () => {
    await server.close();
  });

  test('creates, leaves an up-to-date configuration alone, and updates when policies change', async () => {
    const api = client(server);
    expect(await reconcileWebhooks(api, desiredWebhooks(POLICIES, OPTIONS))).toEqual({ validating: 'created', mutating: 'created' });
    const first = stored(server, 'ValidatingWebhookConfiguration');
    expect(first.webhooks[0].rules).toHaveLength(2);
    expect(stored(server, 'MutatingWebhookConfiguration').webhooks[0].rules[0].resources).toEqual(['jobs']);

    expect(await reconcileWebhooks(api, desiredWebhooks(POLICIES, OPTIONS))).toEqual({ validating: 'unchanged', mutating: 'unchanged' });
    expect(stored(server, 'ValidatingWebhookConfiguration').metadata.resourceVersion).toBe(first.metadata.resourceVersion);

    const fewer = POLICIES.filter((p: any) => p.metadata.name !== 'workloads');
    expect(await reconcileWebhooks(api, desiredWebhooks(fewer, OPTIONS))).toEqual({ validating: 'updated', mutating: 'unchanged' });
    expect(stored(server, 'ValidatingWebhookConfiguration').webhooks[0].rules).toEqual([
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: '*' },
    ]);
  });

  test('a concurrent write (409 Conflict on a stale resourceVersion) is retried on a fresh read', async () => {
    const api = client(server);
    await reconcileWebhooks(api, desiredWebhooks(POLICIES, OPTIONS));
    let interfered = false;
    const racing: WebhookApi = {
      readValidatingWebhookConfiguration: async (p) => {
        const result = await api.readValidatingWebhookConfiguration(p);
        if (!interfered) {
          interfered = true; // someone else writes between our read and our replace
          const current = server.get('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'celgate');
          server.update({ ...current, metadata: { ...(current.metadata as object), labels: { touched: 'yes' } } });
        }
        return result;
      },
      createValidatingWebhookConfiguration: (p) => api.createValidatingWebhookConfiguration(p),
      replaceValidatingWebhookConfiguration: (p) => api.replaceValidatingWebhookConfiguration(p),
      readMutatingWebhookConfiguration: (p) => api.readMutatingWebhookConfiguration(p),
      createMutatingWebhookConfiguration: (p) => api.createMutatingWebhookConfiguration(p),
      replaceMutatingWebhookConfiguration: (p) => api.replaceMutatingWebhookConfiguration(p),
    };
    const fewer = POLICIES.filter((p: any) => p.metadata.name !== 'pods');
    expect((await reconcileWebhooks(racing, desiredWebhooks(fewer, OPTIONS))).validating).toBe('updated');
    const result = stored(server, 'ValidatingWebhookConfiguration') as any;
    expect(result.metadata.labels.touched).toBe('yes'); // the other writer's change survived
    expect(result.webhooks[0].rules.map((r: any) => r.resources)).toEqual([['pods/ephemeralcontainers'], ['deployments']]);
    expect(server.requests.filter((r) => r.method === 'PUT' && r.path.includes('validatingwebhookconfigurations')).length).toBe(2);
  });

  test('the registrar keeps the configurations current and reports API errors', async () => {
    const api = client(server);
    const outcomes: string[] = [];
    const registrar = createWebhookRegistrar(api, { ...OPTIONS, onReconciled: (r) => outcomes.push(`${r.validating}/${r.mutating}`) });
    await registrar.update(POLICIES);
    await registrar.update(POLICIES.filter((p: any) => p.kind.startsWith('Validating')));
    expect(outcomes).toEqual(['created/created', 'unchanged/updated']);
    expect(stored(server, 'MutatingWebhookConfiguration').webhooks[0].rules).toEqual([]);
    registrar.close();

    const errors: string[] = [];
    const forbidden: WebhookApi = Object.assign(Object.create(api) as WebhookApi, {
      readValidatingWebhookConfiguration: () => Promise.reject(Object.assign(new Error('forbidden'), { code: 403 })),
    });
    const failing = createWebhookRegistrar(forbidden, {
      ...OPTIONS,
      onError: (e) => errors.push(e.message),
    });
    await failing.update(POLICIES);
    failing.close();
    expect(errors).toEqual(['cannot read ValidatingWebhookConfiguration celgate: forbidden']);
  });
});
