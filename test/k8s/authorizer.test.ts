/**
 * The SubjectAccessReview-backed `authorizer`: real @kubernetes/client-node against the loopback
 * fake API server (HTTPS, bearer token), and the real admission engine evaluating the policy.
 */
import { createServer } from 'node:http';
import { AuthorizationV1Api, KubeConfig } from '@kubernetes/client-node';
import { admit } from '../../src/engine/admission/index.js';
import type { AuthorizationAttributes } from '../../src/cel/lib/authorizer.js';
import {
  createSubjectAccessReviewDecider,
  decisionFromReview,
  reviewKey,
  subjectAccessReviewFor,
  type SubjectAccessReviewApi,
} from '../../src/k8s/authorizer.js';
import { EMPTY_CLUSTER, policiesFrom, requestFor } from '../engine/admission/helpers.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

// Kubernetes docs (ValidatingAdmissionPolicy, "Authorization checks"): the `authorizer` variable
// "can be used to perform authorization checks for the principal (user or service account) of the
// request"; `authorizer.requestResource` is the resource of the request.
const POLICY = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: may-create-secrets}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: "authorizer.group('').resource('secrets').namespace(object.metadata.namespace).check('create').allowed() || authorizer.path('/healthz').check('get').allowed()"
    message: the requester may not create secrets here
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: may-create-secrets}
spec: {policyName: may-create-secrets, validationActions: [Deny]}
`;

// The /healthz check runs only when the secrets check allowed: a check that depends on an answer.
const DEPENDENT_POLICY = POLICY.replace(
  /expression: ".*"/,
  `expression: "authorizer.group('').resource('secrets').check('create').allowed() ? authorizer.path('/healthz').check('get').allowed() : false"`,
);

const ERRORED_POLICY = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: errored}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: "!authorizer.group('').resource('secrets').check('create').errored()"
    messageExpression: "'authorizer errored: ' + authorizer.group('').resource('secrets').check('create').error()"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: errored}
spec: {policyName: errored, validationActions: [Deny]}
`;

const configMap = (namespace: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace }, data: {} });

function clientFor(server: FakeApiServer): AuthorizationV1Api {
  const config = new KubeConfig();
  config.loadFromString(server.kubeconfig());
  return config.makeApiClient(AuthorizationV1Api);
}

const sarCalls = (server: FakeApiServer) => server.requests.filter((r) => r.path.endsWith('/subjectaccessreviews')).length;

describe('SubjectAccessReview authorizer', () => {
  let server: FakeApiServer;
  beforeAll(async () => {
    server = await startFakeApiServer();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    server.authorize([]);
  });

  test('check() asks the API server; allowed() follows its answer for the request user', async () => {
    server.authorize([{ users: ['alice'], verbs: ['create'], apiGroups: [''], resources: ['secrets'], namespaces: ['team-a'] }]);
    const authorizer = createSubjectAccessReviewDecider(clientFor(server));
    const policies = policiesFrom(POLICY);
    const decide = (namespace: string, username: string) =>
      authorizer.evaluate((decider) => admit(policies, requestFor(configMap(namespace), { username }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider }));

    expect((await decide('team-a', 'alice')).allowed).toBe(true);
    const denied = await decide('team-b', 'alice');
    expect(denied.allowed).toBe(false);
    expect(denied.status?.message).toContain('the requester may not create secrets here');
    expect((await decide('team-a', 'bob')).allowed).toBe(false);
  });

  test('a check that only runs because of an earlier answer is fetched in a later round, then cached', async () => {
    // Round 1 asks for secrets (a pending check reads as not allowed, so the ternary skips
    // /healthz); round 2 knows secrets is allowed and asks for /healthz; round 3 decides.
    server.authorize([
      { users: ['carol'], verbs: ['create'], resources: ['secrets'] },
      { users: ['carol'], verbs: ['get'], nonResourceURLs: ['/healthz'] },
    ]);
    const authorizer = createSubjectAccessReviewDecider(clientFor(server));
    const policies = policiesFrom(DEPENDENT_POLICY);
    let rounds = 0;
    const run = () =>
      authorizer.evaluate((decider) => {
        rounds += 1;
        return admit(policies, requestFor(configMap('team-a'), { username: 'carol' }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider });
      });
    expect((await run()).allowed).toBe(true);
    expect(rounds).toBe(3);
    expect(sarCalls(server)).toBe(2);

    rounds = 0;
    expect((await run()).allowed).toBe(true);
    expect(rounds).toBe(1); // both answers cached
    expect(sarCalls(server)).toBe(2);
  });

  test('both operands of || are fetched in one round (a pending check reads as not allowed)', async () => {
    server.authorize([{ users: ['carol'], verbs: ['get'], nonResourceURLs: ['/healthz'] }]);
    const authorizer = createSubjectAccessReviewDecider(clientFor(server));
    const policies = policiesFrom(POLICY);
    let rounds = 0;
    const decision = await authorizer.evaluate((decider) => {
      rounds += 1;
      return admit(policies, requestFor(configMap('team-a'), { username: 'carol' }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider });
    });
    expect(decision.allowed).toBe(true);
    expect(rounds).toBe(2);
    expect(sarCalls(server)).toBe(2);
  });

  test('answers expire after ttlMs', async () => {
    let clock = 1_000;
    server.authorize([{ users: ['dave'], verbs: ['create'], resources: ['secrets'] }]);
    const authorizer = createSubjectAccessReviewDecider(clientFor(server), { ttlMs: 10_000, now: () => clock });
    const policies = policiesFrom(POLICY);
    const run = () =>
      authorizer.evaluate((decider) => admit(policies, requestFor(configMap('x'), { username: 'dave' }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider }));
    expect((await run()).allowed).toBe(true);
    server.authorize([]);
    clock += 9_000;
    expect((await run()).allowed).toBe(true); // still the cached answer
    clock += 2_000;
    expect((await run()).allowed).toBe(false); // re-asked: now denied
    expect(sarCalls(server)).toBe(4); // secrets + /healthz twice: nothing in between
  });

  test('an unreachable API server makes errored() true with the failure, never a crash', async () => {
    const authorizer = createSubjectAccessReviewDecider(
      { createSubjectAccessReview: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 503 })) } as unknown as SubjectAccessReviewApi,
    );
    const decision = await authorizer.evaluate((decider) =>
      admit(policiesFrom(ERRORED_POLICY), requestFor(configMap('x'), { username: 'erin' }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider }),
    );
    expect(decision.allowed).toBe(false);
    expect(decision.status?.message).toContain('authorizer errored: SubjectAccessReview failed (HTTP 503): connect ECONNREFUSED');
    expect(authorizer.stats().errors).toBeGreaterThan(0);
  });

  test('a review slower than timeoutMs is an errored decision', async () => {
    // A real HTTP endpoint that never answers.
    const hang = createServer(() => undefined);
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    try {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'hang', server: `http://127.0.0.1:${(hang.address() as { port: number }).port}`, skipTLSVerify: true }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'c', cluster: 'hang', user: 'u' }],
        currentContext: 'c',
      });
      const authorizer = createSubjectAccessReviewDecider(config.makeApiClient(AuthorizationV1Api), { timeoutMs: 200 });
      const started = Date.now();
      const decision = await authorizer.evaluate((decider) =>
        admit(policiesFrom(ERRORED_POLICY), requestFor(configMap('x'), { username: 'erin' }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider }),
      );
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(decision.status?.message).toContain('no answer within 200 ms');
    } finally {
      hang.closeAllConnections();
      hang.close();
    }
  });

  test('concurrent evaluations share one review per key', async () => {
    server.authorize([{ users: ['frank'], verbs: ['create'], resources: ['secrets'] }]);
    const authorizer = createSubjectAccessReviewDecider(clientFor(server));
    const policies = policiesFrom(POLICY);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        authorizer.evaluate((decider) => admit(policies, requestFor(configMap('x'), { username: 'frank' }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider })),
      ),
    );
    expect(results.every((r) => r.allowed)).toBe(true);
    expect(sarCalls(server)).toBe(2); // secrets and /healthz, once each
  });

  test('checks still missing after maxRounds are errored and say why', async () => {
    const authorizer = createSubjectAccessReviewDecider(clientFor(server));
    const decision = await authorizer.evaluate(
      (decider) => admit(policiesFrom(ERRORED_POLICY), requestFor(configMap('x'), { username: 'gina' }), { phase: 'validate', cluster: EMPTY_CLUSTER, decider }),
      { maxRounds: 1 },
    );
    expect(decision.status?.message).toContain('authorizer check not resolved: more than 1 rounds');
    expect(sarCalls(server)).toBe(0);
  });
});

describe('SubjectAccessReview mapping', () => {
  const base: AuthorizationAttributes = {
    user: 'alice',
    uid: 'u-1',
    groups: ['b', 'a'],
    extra: { scopes: ['y', 'x'] },
    verb: 'list',
    resourceRequest: true,
    path: '',
    apiGroup: 'apps',
    apiVersion: '*',
    resource: 'deployments',
    subresource: 'scale',
    namespace: 'ns',
    name: 'web',
    fieldSelector: 'spec.nodeName=n1',
    labelSelector: '',
  };

  test('resource checks send resourceAttributes (authorization.k8s.io/v1 field names)', () => {
    expect(subjectAccessReviewFor(base).spec).toEqual({
      user: 'alice',
      uid: 'u-1',
      groups: ['b', 'a'],
      extra: { scopes: ['y', 'x'] },
      resourceAttributes: {
        namespace: 'ns',
        verb: 'list',
        group: 'apps',
        version: '*',
        resource: 'deployments',
        subresource: 'scale',
        name: 'web',
        fieldSelector: { rawSelector: 'spec.nodeName=n1' },
      },
    });
  });

  test('path checks send nonResourceAttributes', () => {
    const spec = subjectAccessReviewFor({ ...base, resourceRequest: false, path: '/metrics', verb: 'get' }).spec;
    expect(spec.nonResourceAttributes).toEqual({ path: '/metrics', verb: 'get' });
    expect(spec.resourceAttributes).toBeUndefined();
  });

  test('the cache key covers every attribute and ignores group order', () => {
    expect(reviewKey(base)).toBe(reviewKey({ ...base, groups: ['a', 'b'] }));
    for (const change of [{ user: 'bob' }, { namespace: 'other' }, { verb: 'get' }, { subresource: '' }, { name: 'api' }, { labelSelector: 'a=b' }, { extra: {} }]) {
      expect(reviewKey({ ...base, ...change })).not.toBe(reviewKey(base));
    }
  });

  test('status: allowed → allow, denied → deny, else no opinion; evaluationError → errored', () => {
    // Kubernetes API (SubjectAccessReviewStatus): "denied ... If both allowed is false and denied
    // is false, then the authorizer has no opinion on whether to authorize the action."
    expect(decisionFromReview({ spec: {}, status: { allowed: true, reason: 'rbac' } })).toEqual({ decision: 'allow', reason: 'rbac' });
    expect(decisionFromReview({ spec: {}, status: { allowed: false, denied: true } })).toEqual({ decision: 'deny', reason: '' });
    expect(decisionFromReview({ spec: {}, status: { allowed: false } })).toEqual({ decision: 'noOpinion', reason: '' });
    expect(decisionFromReview({ spec: {}, status: { allowed: false, evaluationError: 'webhook down' } })).toEqual({ decision: 'noOpinion', reason: '', error: 'webhook down' });
    expect(decisionFromReview({ spec: {} }).error).toMatch(/no status.allowed/);
  });
});
