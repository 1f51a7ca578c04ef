// The candidate filter only skips work: a policy it leaves out must be one matchRequest
// would neither match nor report an error for. Checked here on a grid of rules and requests.
import { candidatesFor } from '../../../src/engine/admission/candidates.js';
import { matchRequest, requestShape } from '../../../src/engine/admission/match.js';
import { clusterStateFrom } from '../../../src/engine/admission/index.js';
import type { Operation } from '../../../src/engine/admission/types.js';
import { deployment, policiesFrom, requestFor } from './helpers.js';

const RULES = [
  "{apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods']}",
  "{apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/status']}",
  "{apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}",
  "{apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*/*']}",
  // Equivalent: a rule for extensions/v1beta1 deployments also matches apps/v1 ones.
  "{apiGroups: ['extensions'], apiVersions: ['v1beta1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments']}",
  "{apiGroups: ['apps'], apiVersions: ['v1'], operations: ['DELETE'], resources: ['deployments'], resourceNames: ['other']}",
  "{apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps']}",
];

const policies = policiesFrom(
  RULES.map(
    (rule, i) => `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p${i}}
spec:
  matchConstraints:
    namespaceSelector: {matchLabels: {team: a}}
    resourceRules: [${rule}]
  validations: [{expression: 'true'}]
`,
  ).join('\n---\n'),
).validating;

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: {} };
const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } };
const requests = (['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as Operation[]).flatMap((operation) => [
  requestFor(pod, { operation }),
  requestFor(pod, { operation, subResource: 'status' }),
  requestFor(deployment(1), { operation }),
  requestFor(configMap, { operation }),
]);
const clusters = [clusterStateFrom([]), clusterStateFrom([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { team: 'a' } } }])];

describe('candidatesFor', () => {
  it('keeps every policy that matches a request', () => {
    let matched = 0;
    for (const request of requests) {
      const candidates = candidatesFor(policies, request);
      for (const cluster of clusters) {
        for (const policy of policies) {
          if (!matchRequest(policy.match, request, cluster).matches) continue;
          matched += 1;
          expect(candidates).toContain(policy);
        }
      }
    }
    // The grid exercises real matches (the labelled namespace), not only misses.
    expect(matched).toBeGreaterThan(10);
  });

  it('leaves out policies whose rules name another resource, subresource or operation', () => {
    const names = (request: (typeof requests)[number]) => candidatesFor(policies, request).map((p) => p.name);
    expect(names(requestFor(pod))).toEqual(['p0', 'p2', 'p3']);
    expect(names(requestFor(pod, { operation: 'UPDATE', subResource: 'status' }))).toEqual(['p1', 'p3']);
    expect(names(requestFor(deployment(1), { operation: 'UPDATE' }))).toEqual(['p2', 'p3', 'p4']);
    expect(names(requestFor(configMap, { operation: 'DELETE' }))).toEqual(['p2', 'p3', 'p6']);
  });

  it('keeps the policies in their order', () => {
    expect(candidatesFor(policies, requestFor(pod, { operation: 'CONNECT' })).map((p) => p.name)).toEqual(['p2', 'p3']);
  });
});

describe('matchRequest with a request shape', () => {
  // The rules' verdict is remembered per MatchResources and request shape; it must give
  // what matching afresh gives, whatever order requests of different shapes come in.
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { team: 'a' } } };
  const grid = [
    ...requests,
    requestFor(namespace),
    requestFor(deployment(1, { name: 'other' }), { operation: 'DELETE' }),
    requestFor(deployment(1, { name: 'web' }), { operation: 'DELETE' }),
    requestFor({ ...deployment(1), apiVersion: 'extensions/v1beta1' }, { operation: 'UPDATE' }),
  ];

  it('gives what matching without a shape gives, over every request twice in different orders', () => {
    let matched = 0;
    for (const order of [grid, [...grid].reverse()]) {
      for (const request of order) {
        const shape = requestShape(request);
        for (const cluster of clusters) {
          for (const policy of policies) {
            const fresh = matchRequest(policy.match, request, cluster);
            expect(matchRequest(policy.match, request, cluster, shape)).toEqual(fresh);
            if (fresh.matches) matched += 1;
          }
        }
      }
    }
    expect(matched).toBeGreaterThan(20);
  });

  it("keeps the request's own resource and kind objects for an exact match", () => {
    const request = requestFor(pod);
    const outcome = matchRequest(policies[0]!.match, request, clusters[1]!, requestShape(request));
    expect(outcome.matches && outcome.resource).toBe(request.resource);
    expect(outcome.matches && outcome.kind).toBe(request.kind);
  });
});
