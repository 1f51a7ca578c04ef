import { clusterStateFrom } from '../../../src/engine/admission/index.js';
import { deployment, namespace, policiesFrom, requestFor, run } from './helpers.js';

/** A policy that denies everything it matches, so `allowed` tells whether it matched. */
function denyAll(constraints: string, binding = ''): string {
  return `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
  matchConstraints:
${constraints.replace(/^/gm, '    ')}
  validations:
  - expression: 'false'
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec:
  policyName: p
  validationActions: [Deny]
${binding.replace(/^/gm, '  ')}
`;
}

const matches = (yaml: string, request: Parameters<typeof run>[1], cluster = clusterStateFrom([])): boolean => !run(policiesFrom(yaml), request, { cluster }).allowed;

const pod = (labels: Record<string, string> = {}, ns = 'default') => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: ns, labels }, spec: {} });
const ns = (name: string, labels: Record<string, string> = {}) => namespace(name, labels);

describe('resourceRules', () => {
  // Kubernetes API reference (NamedRuleWithOperations): "'*' means all resources, but not
  // subresources. 'pods/*' means all subresources of pods. '*/scale' means all scale subresources.
  // '*/*' means all resources and their subresources."
  const rule = (resources: string) => denyAll(`resourceRules:\n- {apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ${resources}}`);

  it('"*" matches resources but not subresources', () => {
    expect(matches(rule("['*']"), requestFor(pod()))).toBe(true);
    expect(matches(rule("['*']"), requestFor(pod(), { subResource: 'status', operation: 'UPDATE' }))).toBe(false);
  });

  it('"pods/status", "*/status" and "*/*" match subresources', () => {
    const status = requestFor(pod(), { subResource: 'status', operation: 'UPDATE' });
    expect(matches(rule("['pods/status']"), status)).toBe(true);
    expect(matches(rule("['pods/status']"), requestFor(pod()))).toBe(false);
    expect(matches(rule("['*/status']"), status)).toBe(true);
    expect(matches(rule("['*/*']"), status)).toBe(true);
    expect(matches(rule("['*/*']"), requestFor(pod()))).toBe(true);
    expect(matches(rule("['pods/*']"), requestFor(pod()))).toBe(true);
  });

  it('matches operations, groups and versions exactly or by "*"', () => {
    const create = denyAll(`resourceRules:\n- {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}`);
    expect(matches(create, requestFor(pod()))).toBe(true);
    expect(matches(create, requestFor(pod(), { operation: 'UPDATE', oldObject: pod() }))).toBe(false);
    expect(matches(create, requestFor(deployment(1)))).toBe(false);
  });

  it('scope: Namespaced and Cluster; a Namespace object is cluster-scoped', () => {
    const scoped = (scope: string) => denyAll(`resourceRules:\n- {apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'], scope: ${scope}}`);
    expect(matches(scoped('Namespaced'), requestFor(pod()))).toBe(true);
    expect(matches(scoped('Cluster'), requestFor(pod()))).toBe(false);
    expect(matches(scoped('Cluster'), requestFor(ns('team-a')))).toBe(true);
    expect(matches(scoped('Namespaced'), requestFor({ ...ns('team-a'), metadata: { name: 'team-a' } }))).toBe(false);
  });

  it('resourceNames restricts by name; excludeResourceRules wins', () => {
    const named = denyAll(`resourceRules:\n- {apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: [pods], resourceNames: [p1]}`);
    expect(matches(named, requestFor(pod()))).toBe(true);
    expect(matches(named, requestFor({ ...pod(), metadata: { name: 'other', namespace: 'default' } }))).toBe(false);
    const excluded = denyAll(`resourceRules:
- {apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}
excludeResourceRules:
- {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}`);
    expect(matches(excluded, requestFor(pod()))).toBe(false);
    expect(matches(excluded, requestFor(deployment(1)))).toBe(true);
  });

  it('matchPolicy Equivalent (default) matches a rule for another version of the same resource', () => {
    // Kubernetes docs (matchPolicy): with Equivalent, a rule for apps/v1beta1 deployments also
    // matches a request made to apps/v1 deployments, and extensions/v1beta1.
    const v1beta1 = (policy: string) => denyAll(`${policy}resourceRules:\n- {apiGroups: [extensions], apiVersions: [v1beta1], operations: ['*'], resources: [deployments]}`);
    expect(matches(v1beta1(''), requestFor(deployment(1)))).toBe(true);
    expect(matches(v1beta1('matchPolicy: Exact\n'), requestFor(deployment(1)))).toBe(false);
  });

  it('Equivalent gives the matched kind and resource to request.kind/resource, the original to requestKind', () => {
    const yaml = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1beta1], operations: ['*'], resources: [deployments]}
  validations:
  - expression: "request.kind.version == 'v1beta1' && request.resource.version == 'v1beta1' && request.requestKind.version == 'v1' && request.requestResource.version == 'v1'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec: {policyName: p, validationActions: [Deny]}
`;
    expect(run(policiesFrom(yaml), requestFor(deployment(1))).allowed).toBe(true);
  });
});

describe('selectors', () => {
  const any = `resourceRules:\n- {apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}`;

  it('namespaceSelector with matchExpressions In/NotIn/Exists/DoesNotExist', () => {
    const cluster = clusterStateFrom([ns('prod', { env: 'prod', team: 'a' }), ns('dev', { env: 'dev' }), ns('bare')]);
    const sel = (expr: string) => denyAll(`${any}\nnamespaceSelector:\n  matchExpressions:\n  - ${expr}`);
    expect(matches(sel('{key: env, operator: In, values: [prod]}'), requestFor(pod({}, 'prod')), cluster)).toBe(true);
    expect(matches(sel('{key: env, operator: In, values: [prod]}'), requestFor(pod({}, 'dev')), cluster)).toBe(false);
    expect(matches(sel('{key: env, operator: NotIn, values: [prod]}'), requestFor(pod({}, 'bare')), cluster)).toBe(true);
    expect(matches(sel('{key: team, operator: Exists}'), requestFor(pod({}, 'prod')), cluster)).toBe(true);
    expect(matches(sel('{key: team, operator: DoesNotExist}'), requestFor(pod({}, 'prod')), cluster)).toBe(false);
    // A namespace the cluster state does not describe has no labels.
    expect(matches(sel('{key: env, operator: DoesNotExist}'), requestFor(pod({}, 'unknown')), cluster)).toBe(true);
  });

  it('cluster-scoped objects always match a namespaceSelector; a Namespace is matched by its own labels', () => {
    // Kubernetes API reference (namespaceSelector): "If the object itself is a namespace, the
    // matching is performed on object.metadata.labels. If the object is another cluster scoped
    // resource, it never skips the policy."
    const yaml = denyAll(`${any}\nnamespaceSelector:\n  matchLabels: {env: prod}`);
    const clusterRole = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'r' } };
    expect(matches(yaml, requestFor(clusterRole))).toBe(true);
    expect(matches(yaml, requestFor(ns('x', { env: 'prod' })))).toBe(true);
    expect(matches(yaml, requestFor(ns('x', { env: 'dev' })))).toBe(false);
  });

  it('objectSelector matches the object or the old object', () => {
    const yaml = denyAll(`${any}\nobjectSelector:\n  matchLabels: {app: web}`);
    expect(matches(yaml, requestFor(pod({ app: 'web' })))).toBe(true);
    expect(matches(yaml, requestFor(pod({ app: 'api' })))).toBe(false);
    expect(matches(yaml, requestFor(pod({ app: 'api' }), { operation: 'UPDATE', oldObject: pod({ app: 'web' }) }))).toBe(true);
    expect(matches(yaml, requestFor(pod({ app: 'web' }), { operation: 'DELETE', oldObject: pod({ app: 'web' }) }))).toBe(true);
  });

  it("the binding's matchResources narrows the policy's, never widens it", () => {
    const narrowed = denyAll(`resourceRules:\n- {apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: [pods]}`, `matchResources:\n  resourceRules:\n  - {apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}\n  objectSelector: {matchLabels: {app: web}}`);
    expect(matches(narrowed, requestFor(pod({ app: 'web' })))).toBe(true);
    expect(matches(narrowed, requestFor(pod({ app: 'api' })))).toBe(false);
    expect(matches(narrowed, requestFor(deployment(1, { labels: { app: 'web' } })))).toBe(false);
  });
});
