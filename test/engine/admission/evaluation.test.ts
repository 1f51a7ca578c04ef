import { clusterStateFrom, type ExpressionEvent } from '../../../src/engine/admission/index.js';
import { deployment, issuesOf, namespace, policiesFrom, requestFor, run } from './helpers.js';

// Kubernetes docs (validating-admission-policy, "Parameter resources"): the ReplicaLimit example.
const REPLICA_LIMIT = (paramRef: string) => `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "replicalimit-policy.example.com"
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: rules.example.com/v1
    kind: ReplicaLimit
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= params.maxReplicas"
      reason: Invalid
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "replicalimit-binding-test.example.com"
spec:
  policyName: "replicalimit-policy.example.com"
  validationActions: [Deny]
  paramRef:
${paramRef.replace(/^/gm, '    ')}
`;

const limit = (name: string, max: number, ns = 'default', labels: Record<string, string> = {}) => ({
  apiVersion: 'rules.example.com/v1',
  kind: 'ReplicaLimit',
  metadata: { name, namespace: ns, labels },
  maxReplicas: max,
});

describe('params', () => {
  const cluster = clusterStateFrom([limit('replica-limit-test.example.com', 3), limit('other', 10, 'team', { environment: 'test' }), limit('third', 1, 'team', { environment: 'test' })]);

  it('uses the named param object', () => {
    const p = policiesFrom(REPLICA_LIMIT('name: "replica-limit-test.example.com"\nnamespace: "default"\nparameterNotFoundAction: Deny'));
    const d = run(p, requestFor(deployment(4)), { cluster });
    // Docs: "ValidatingAdmissionPolicy 'replicalimit-policy.example.com' with binding
    // 'replicalimit-binding-test.example.com' denied request: failed expression: object.spec.replicas <= params.maxReplicas"
    expect(d.status?.message).toBe(
      `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'replicalimit-policy.example.com' with binding 'replicalimit-binding-test.example.com' denied request: failed expression: object.spec.replicas <= params.maxReplicas`,
    );
    expect(run(p, requestFor(deployment(3)), { cluster }).allowed).toBe(true);
  });

  it("looks a namespaced param up in the request's namespace when paramRef.namespace is empty", () => {
    const p = policiesFrom(REPLICA_LIMIT('name: other\nparameterNotFoundAction: Deny'));
    expect(run(p, requestFor(deployment(9, { namespace: 'team' })), { cluster }).allowed).toBe(true);
    // Not in "default": Deny makes the missing param a failure, under failurePolicy Fail.
    const missing = run(p, requestFor(deployment(9)), { cluster });
    expect(missing.status?.message).toBe(
      `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'replicalimit-policy.example.com' with binding 'replicalimit-binding-test.example.com' denied request: failed to configure binding: no params found for policy binding with \`Deny\` parameterNotFoundAction`,
    );
  });

  it('parameterNotFoundAction Allow skips the binding when nothing is found', () => {
    const p = policiesFrom(REPLICA_LIMIT('name: absent\nparameterNotFoundAction: Allow'));
    const d = run(p, requestFor(deployment(9)), { cluster });
    expect(d.allowed).toBe(true);
    expect(d.evaluations[0]).toMatchObject({ result: 'skip' });
  });

  it('with a selector, evaluates every matching param', () => {
    const p = policiesFrom(REPLICA_LIMIT('selector:\n  matchLabels: {environment: test}\nnamespace: team\nparameterNotFoundAction: Deny'));
    const d = run(p, requestFor(deployment(5)), { cluster });
    expect(d.evaluations.map((e) => e.result)).toEqual(['pass', 'deny']);
    expect(d.allowed).toBe(false);
  });

  it('requires parameterNotFoundAction (the API does)', () => {
    expect(() => policiesFrom(REPLICA_LIMIT('name: x'))).toThrow(/parameterNotFoundAction is required/);
  });
});

function vap(spec: string, failurePolicy = 'Fail'): string {
  return `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
  failurePolicy: ${failurePolicy}
  matchConstraints:
    resourceRules:
    - {apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}
${spec.replace(/^/gm, '  ')}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec: {policyName: p, validationActions: [Deny]}
`;
}

describe('matchConditions', () => {
  // Kubernetes API reference (matchConditions): "1. If ANY matchCondition evaluates to FALSE,
  // the policy is skipped. 2. If ALL matchConditions evaluate to TRUE, the policy is evaluated.
  // 3. If any matchCondition evaluates to an error (but none are FALSE): If failurePolicy=Fail,
  // reject the request; If failurePolicy=Ignore, the policy is skipped."
  const spec = (cond: string) => `matchConditions:\n- name: a\n  expression: "${cond}"\n- name: b\n  expression: "object.metadata.name != 'skip-me'"\nvalidations:\n- expression: 'false'\n  message: denied`;

  it('any false skips the policy', () => {
    expect(run(policiesFrom(vap(spec('true'))), requestFor(deployment(1, { name: 'skip-me' }))).allowed).toBe(true);
    expect(run(policiesFrom(vap(spec('true'))), requestFor(deployment(1))).allowed).toBe(false);
  });

  it('an error with no false follows failurePolicy', () => {
    const fail = run(policiesFrom(vap(spec('object.nope == 1'))), requestFor(deployment(1)));
    expect(fail.allowed).toBe(false);
    expect(fail.status?.message).toMatch(/denied request: expression 'object.nope == 1' resulted in error: /);
    expect(run(policiesFrom(vap(spec('object.nope == 1'))), requestFor(deployment(1, { name: 'skip-me' }))).allowed).toBe(true);
    expect(run(policiesFrom(vap(spec('object.nope == 1'), 'Ignore')), requestFor(deployment(1))).allowed).toBe(true);
  });
});

describe('names the API server refuses are load errors', () => {
  // pkg/apis/admissionregistration/validation (validateMatchCondition, validateVariable,
  // validateAuditAnnotation, validateValidatingAdmissionPolicyBindingSpec): a matchCondition name
  // must be a qualified name and there are at most 64 conditions; a variable name must be a CEL
  // identifier that is not reserved; POLICY/KEY of an audit annotation must be a qualified name;
  // a binding's policyName must be a DNS subdomain. kube-apiserver answers 422 to such a policy, so
  // it never runs there, and celgate must not run it either.
  it('reports each at its line, naming the field', () => {
    const issues = issuesOf(
      vap(
        [
          'matchConditions:',
          '- {name: "Operation should not be DELETE", expression: "true"}',
          '- {name: "example.com/ok-name", expression: "true"}',
          'variables:',
          '- {name: "my-var", expression: "1"}',
          '- {name: "namespace", expression: "2"}',
          '- {name: "_fine2", expression: "3"}',
          'validations:',
          '- expression: "true"',
          'auditAnnotations:',
          '- {key: "bad key", valueExpression: "\'x\'"}',
          '- {key: "good-key", valueExpression: "\'x\'"}',
        ].join('\n'),
      ).replace('policyName: p', 'policyName: Not_A_DNS_Name'),
    );
    expect(issues).toEqual([
      expect.stringMatching(/^policy\.yaml:\d+:\d+: invalid matchCondition name 'Operation should not be DELETE': name part must consist of alphanumeric characters/),
      expect.stringMatching(/invalid variable name 'my-var': name is not a valid CEL identifier/),
      expect.stringMatching(/invalid variable name 'namespace': name is not a valid CEL identifier/),
      expect.stringMatching(/invalid auditAnnotations key 'bad key': name part must consist of alphanumeric characters/),
      expect.stringMatching(/invalid policyName 'Not_A_DNS_Name': a lowercase RFC 1123 subdomain/),
      expect.stringMatching(/refers to ValidatingAdmissionPolicy 'Not_A_DNS_Name', which is not loaded/),
    ]);
  });

  it('allows at most 64 matchConditions', () => {
    const conditions = Array.from({ length: 65 }, (_, i) => `- {name: c${i}, expression: "true"}`).join('\n');
    expect(issuesOf(vap(`matchConditions:\n${conditions}\nvalidations:\n- expression: "true"`))).toEqual([expect.stringMatching(/spec\.matchConditions must have at most 64 items/)]);
    const sixtyFour = Array.from({ length: 64 }, (_, i) => `- {name: c${i}, expression: "true"}`).join('\n');
    expect(issuesOf(vap(`matchConditions:\n${sixtyFour}\nvalidations:\n- expression: "true"`))).toEqual([]);
  });
});

describe('variables', () => {
  it('are computed lazily, at most once, and may use earlier variables', () => {
    const p = policiesFrom(
      vap(`variables:
- name: replicas
  expression: object.spec.replicas
- name: doubled
  expression: variables.replicas * 2
- name: broken
  expression: object.nope
validations:
- expression: variables.doubled <= 10 && variables.doubled + variables.replicas >= 0
  messageExpression: "'doubled is ' + string(variables.doubled)"`),
    );
    const events: ExpressionEvent[] = [];
    const d = run(p, requestFor(deployment(6)), { onExpression: (e) => events.push(e) });
    expect(d.status?.message).toMatch(/denied request: doubled is 12$/);
    const fields = events.map((e) => e.field);
    // Each variable once, the unused one never.
    expect(fields.filter((f) => f === 'spec.variables[0].expression')).toHaveLength(1);
    expect(fields.filter((f) => f === 'spec.variables[1].expression')).toHaveLength(1);
    expect(fields).not.toContain('spec.variables[2].expression');
  });

  it('an error in a variable is an error of the expression that uses it', () => {
    const p = policiesFrom(vap(`variables:\n- name: broken\n  expression: object.nope\nvalidations:\n- expression: variables.broken == 1`));
    expect(run(p, requestFor(deployment(1))).status?.message).toMatch(/denied request: expression 'variables.broken == 1' resulted in error: .*nope/);
  });
});

describe('CEL variables', () => {
  it('request carries the AdmissionRequest attributes; oldObject is null on CREATE', () => {
    const p = policiesFrom(
      vap(`validations:
- expression: >
    request.operation == 'CREATE' && request.name == 'nginx' && request.namespace == 'default' &&
    request.userInfo.username == 'alice' && 'devs' in request.userInfo.groups && request.kind.kind == 'Deployment' &&
    request.resource.resource == 'deployments' && request.subResource == '' && request.dryRun == false && oldObject == null`),
    );
    expect(run(p, requestFor(deployment(1), { groups: ['devs'] })).allowed).toBe(true);
  });

  it('namespaceObject is the namespace of the request, null for cluster-scoped objects', () => {
    const cluster = clusterStateFrom([namespace('default', { tier: 'gold' })]);
    const p = policiesFrom(vap(`validations:\n- expression: "namespaceObject == null || namespaceObject.metadata.labels.tier == 'gold'"`));
    expect(run(p, requestFor(deployment(1)), { cluster }).allowed).toBe(true);
    expect(run(p, requestFor(namespace('x')), { cluster }).allowed).toBe(true);
    const strict = policiesFrom(vap(`validations:\n- expression: "namespaceObject.metadata.name == 'default'"`));
    expect(run(strict, requestFor(deployment(1))).allowed).toBe(true);
  });

  it('authorizer checks go to the decider (default: deny)', () => {
    const p = policiesFrom(vap(`validations:\n- expression: "authorizer.group('apps').resource('deployments').namespace('default').check('delete').allowed()"\n  message: not allowed`));
    expect(run(p, requestFor(deployment(1))).allowed).toBe(false);
    const seen: string[] = [];
    const allowed = run(p, requestFor(deployment(1)), {
      decider: (a) => {
        seen.push(`${a.user} ${a.verb} ${a.apiGroup}/${a.resource} in ${a.namespace}`);
        return { decision: 'allow' };
      },
    });
    expect(allowed.allowed).toBe(true);
    expect(seen).toEqual(['alice delete apps/deployments in default']);
  });

  it('authorizer.requestResource is the request resource', () => {
    const p = policiesFrom(vap(`validations:\n- expression: "authorizer.requestResource.check('update').allowed()"`));
    const seen: string[] = [];
    run(p, requestFor(deployment(1)), { decider: (a) => (seen.push(`${a.verb} ${a.apiGroup}/${a.resource} ${a.namespace}/${a.name}`), { decision: 'deny' }) });
    expect(seen).toEqual(['update apps/deployments default/nginx']);
  });
});

describe('cost', () => {
  it('an expression over the per-expression limit is an error under failurePolicy', () => {
    const p = policiesFrom(vap(`validations:\n- expression: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a + b + c + d + e + f > 0))))))"`));
    const d = run(p, requestFor(deployment(1)));
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toMatch(/resulted in error: operation cancelled: actual cost limit exceeded$|running out of cost budget/);
  });
});

describe('onExpression events', () => {
  it('report policy, binding, field, file:line and outcome', () => {
    const p = policiesFrom(vap(`validations:\n- expression: object.spec.replicas < 3\n- expression: object.nope`), 'x.yaml');
    const events: ExpressionEvent[] = [];
    run(p, requestFor(deployment(5)), { onExpression: (e) => events.push(e) });
    expect(events).toEqual([
      { policy: 'p', binding: 'b', field: 'spec.validations[0].expression', file: 'x.yaml', line: 11, outcome: false },
      { policy: 'p', binding: 'b', field: 'spec.validations[1].expression', file: 'x.yaml', line: 12, outcome: 'error' },
    ]);
  });
});

describe('cost budget per evaluation', () => {
  it('stops with the apiserver message once the 10,000,000 budget of one policy evaluation is spent', () => {
    // Each expression costs about 737,000: under the per-expression limit; 14 exceed the budget.
    const list = `[${Array.from({ length: 40 }, (_, i) => i).join(',')}]`;
    const heavy = `${list}.all(a, ${list}.all(b, ${list}.all(c, a + b + c >= 0)))`;
    const validations = Array.from({ length: 14 }, () => `- expression: "${heavy}"`).join('\n');
    const d = run(policiesFrom(vap(`validations:\n${validations}`)), requestFor(deployment(1)));
    expect(d.allowed).toBe(false);
    // k8s.io/apiserver cel filter: the out-of-budget error ends the policy's evaluation.
    expect(d.status?.message).toMatch(/denied request: validation failed due to running out of cost budget, no further validation rules will be run$/);
    const thirteen = Array.from({ length: 13 }, () => `- expression: "${heavy}"`).join('\n');
    expect(run(policiesFrom(vap(`validations:\n${thirteen}`)), requestFor(deployment(1))).allowed).toBe(true);
  });
});
