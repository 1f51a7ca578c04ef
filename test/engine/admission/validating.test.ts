import { clusterStateFrom, compileAdmissionPolicies } from '../../../src/engine/admission/index.js';
import { deployment, issuesOf, resourcesFrom, namespace, policiesFrom, requestFor, run } from './helpers.js';

// Kubernetes docs (validating-admission-policy): the demo policy limiting replicas to 5,
// bound to namespaces labelled environment=test.
const DEMO = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "demo-policy.example.com"
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= 5"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "demo-binding-test.example.com"
spec:
  policyName: "demo-policy.example.com"
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
`;

const TEST_NS = clusterStateFrom([namespace('test', { environment: 'test' }), namespace('prod', { environment: 'prod' })]);

describe('ValidatingAdmissionPolicy: the docs demo', () => {
  const policies = policiesFrom(DEMO);

  it('denies more than 5 replicas in a test namespace with the apiserver message', () => {
    const decision = run(policies, requestFor(deployment(6, { namespace: 'test' })), { cluster: TEST_NS });
    expect(decision.allowed).toBe(false);
    // Docs: "ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com'
    // denied request: failed expression: object.spec.replicas <= 5"; admission.NewForbidden prefixes
    // `RESOURCE.GROUP "NAME" is forbidden: `, and the default reason is Invalid (422).
    expect(decision.status).toEqual({
      code: 422,
      reason: 'Invalid',
      message:
        'deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy \'demo-policy.example.com\' with binding \'demo-binding-test.example.com\' denied request: failed expression: object.spec.replicas <= 5',
    });
    expect(decision.evaluations).toEqual([
      { policy: 'demo-policy.example.com', binding: 'demo-binding-test.example.com', kind: 'ValidatingAdmissionPolicy', result: 'deny', message: 'failed expression: object.spec.replicas <= 5', source: 'policy.yaml:15' },
    ]);
  });

  it('allows 5 replicas, and anything in a namespace the binding does not select', () => {
    expect(run(policies, requestFor(deployment(5, { namespace: 'test' })), { cluster: TEST_NS }).allowed).toBe(true);
    const prod = run(policies, requestFor(deployment(50, { namespace: 'prod' })), { cluster: TEST_NS });
    expect(prod.allowed).toBe(true);
    expect(prod.evaluations).toEqual([]);
  });

  it('does not match other resources or operations', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'test' }, spec: { replicas: 9 } };
    expect(run(policies, requestFor(pod), { cluster: TEST_NS }).allowed).toBe(true);
    expect(run(policies, requestFor(deployment(9, { namespace: 'test' }), { operation: 'DELETE', oldObject: deployment(9) }), { cluster: TEST_NS }).allowed).toBe(true);
  });
});

function policy(spec: string, binding = 'validationActions: [Deny]', extra = ''): string {
  return `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
${spec.replace(/^/gm, '  ')}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec:
  policyName: p
${binding.replace(/^/gm, '  ')}
${extra}`;
}

const DEPLOYMENTS = `matchConstraints:
  resourceRules:
  - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}`;

describe('validations: messages and reasons', () => {
  it('uses message (trimmed), then messageExpression when it gives one line', () => {
    const p = policiesFrom(
      policy(`${DEPLOYMENTS}
validations:
- expression: object.spec.replicas <= 5
  message: "  too many replicas  "
- expression: object.spec.replicas <= 4
  message: fallback
  messageExpression: "'replicas ' + string(object.spec.replicas) + ' > 4'"
- expression: object.spec.replicas <= 3
  message: fallback for an error
  messageExpression: "string(object.spec.nope)"
- expression: object.spec.replicas <= 2
  message: fallback for blank
  messageExpression: "'   '"
- expression: object.spec.replicas <= 1
  messageExpression: "'two\\\\nlines'"
- expression: "  object.spec.replicas <= 0  "
  messageExpression: "object.metadata.?missing.orValue(null)"`),
    );
    const d = run(p, requestFor(deployment(6)));
    // Kubernetes validator.go: messageExpression wins if it is a non-empty single-line string
    // (trimmed); else message (trimmed); else "failed expression: " + the trimmed expression.
    expect(d.status?.message).toBe(`deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: too many replicas`);
    expect(d.evaluations.map((e) => e.message)).toEqual(['too many replicas']);
    const d5 = run(p, requestFor(deployment(5)));
    expect(d5.status?.message).toMatch(/denied request: replicas 5 > 4$/);
    expect(run(p, requestFor(deployment(4))).status?.message).toMatch(/denied request: fallback for an error$/);
    expect(run(p, requestFor(deployment(3))).status?.message).toMatch(/denied request: fallback for blank$/);
    expect(run(p, requestFor(deployment(2))).status?.message).toMatch(/denied request: failed expression: object.spec.replicas <= 1$/);
    expect(run(p, requestFor(deployment(1))).status?.message).toMatch(/denied request: failed expression: object.spec.replicas <= 0$/);
    expect(run(p, requestFor(deployment(0))).allowed).toBe(true);
  });

  it('maps reason to the HTTP code', () => {
    // Kubernetes: Unauthorized→401, Forbidden→403, Invalid→422, RequestEntityTooLarge→413.
    for (const [reason, code] of [['Unauthorized', 401], ['Forbidden', 403], ['Invalid', 422], ['RequestEntityTooLarge', 413]] as const) {
      const p = policiesFrom(policy(`${DEPLOYMENTS}\nvalidations:\n- expression: 'false'\n  reason: ${reason}`));
      const d = run(p, requestFor(deployment(1)));
      expect(d.status).toMatchObject({ code, reason });
    }
  });

  it('treats an evaluation error per failurePolicy', () => {
    const fail = policiesFrom(policy(`${DEPLOYMENTS}\nvalidations:\n- expression: object.spec.missing > 1`));
    const d = run(fail, requestFor(deployment(1)));
    // filter.go: "expression '%v' resulted in error: %v"; the decision reason defaults to Invalid.
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toMatch(/^deployments\.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object\.spec\.missing > 1' resulted in error: .*missing/);
    expect(d.status?.code).toBe(422);
    const ignore = policiesFrom(policy(`failurePolicy: Ignore\n${DEPLOYMENTS}\nvalidations:\n- expression: object.spec.missing > 1`));
    const i = run(ignore, requestFor(deployment(1)));
    expect(i.allowed).toBe(true);
    expect(i.evaluations[0]).toMatchObject({ result: 'error', message: expect.stringMatching(/resulted in error/) });
  });
});

describe('validationActions', () => {
  const spec = `${DEPLOYMENTS}\nvalidations:\n- expression: object.spec.replicas <= 5\n  message: too many`;

  it('Warn adds a warning and allows', () => {
    const d = run(policiesFrom(policy(spec, 'validationActions: [Warn]')), requestFor(deployment(6)));
    expect(d.allowed).toBe(true);
    // dispatcher: "Validation failed for ValidatingAdmissionPolicy '%s' with binding '%s': %s"
    expect(d.warnings).toEqual(["Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': too many"]);
  });

  it('Audit writes the validation_failure annotation as the apiserver does', () => {
    const d = run(policiesFrom(policy(spec, 'validationActions: [Warn, Audit]')), requestFor(deployment(6)));
    expect(d.allowed).toBe(true);
    expect(d.auditAnnotations).toEqual({
      'validation.policy.admission.k8s.io/validation_failure': '[{"message":"too many","policy":"p","binding":"b","expressionIndex":0,"validationActions":["Warn","Audit"]}]',
    });
  });

  it('Deny with Audit denies and annotates', () => {
    const d = run(policiesFrom(policy(spec, 'validationActions: [Deny, Audit]')), requestFor(deployment(6)));
    expect(d.allowed).toBe(false);
    expect(Object.keys(d.auditAnnotations)).toEqual(['validation.policy.admission.k8s.io/validation_failure']);
  });

  it('rejects Deny together with Warn, and unknown actions', () => {
    expect(issuesOf(policy(spec, 'validationActions: [Deny, Warn]'))).toEqual([
      expect.stringMatching(/^policy\.yaml:\d+:\d+: validationActions must not contain both Deny and Warn/),
    ]);
    expect(issuesOf(policy(spec, 'validationActions: [Block]'))).toEqual([expect.stringMatching(/unknown validation action 'Block'/)]);
  });
});

describe('auditAnnotations', () => {
  it('publishes POLICY/KEY, omits null and blank values', () => {
    const p = policiesFrom(
      policy(`${DEPLOYMENTS}
auditAnnotations:
- key: high-replica-count
  valueExpression: "object.spec.replicas > 5 ? object.metadata.name + ' has ' + string(object.spec.replicas) : object.metadata.?missing.orValue(null)"
- key: blank
  valueExpression: "'  '"`),
    );
    expect(run(p, requestFor(deployment(7))).auditAnnotations).toEqual({ 'p/high-replica-count': 'nginx has 7' });
    expect(run(p, requestFor(deployment(2))).auditAnnotations).toEqual({});
  });

  it('denies on a value of the wrong type', () => {
    const p = policiesFrom(policy(`${DEPLOYMENTS}\nauditAnnotations:\n- key: k\n  valueExpression: "1"`));
    const d = run(p, requestFor(deployment(2)));
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toMatch(/denied request: valueExpression '1' resulted in unsupported return type: int\. Return type must be either string or null\.$/);
  });
});

describe('loading', () => {
  it('reports a binding to a missing policy and compile errors with file:line:col', () => {
    const yaml = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: orphan}
spec:
  policyName: nowhere
  validationActions: [Deny]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: broken}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}]
  validations:
  - expression: "object.spec.replicas <="
`;
    expect(issuesOf(yaml, 'x.yaml')).toEqual([
      expect.stringMatching(/^x\.yaml:16:\d+: .*\(spec\.validations\[0\]\.expression\)$|^x\.yaml:16:\d+: /),
      "x.yaml:6:15: ValidatingAdmissionPolicyBinding 'orphan' refers to ValidatingAdmissionPolicy 'nowhere', which is not loaded (spec.policyName)",
    ]);
  });

  it('keeps a policy whose expression does not compile: it fails at admission time', () => {
    const { resources, issues } = resourcesFrom(policy(`${DEPLOYMENTS}\nvalidations:\n- expression: object.spec.replicas <=`));
    const compiled = compileAdmissionPolicies(resources, issues);
    expect(issues).toHaveLength(1);
    const d = run(compiled, requestFor(deployment(1)));
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toMatch(/denied request: compilation error: /);
  });
});


describe('several bindings and policies', () => {
  const twoBindings = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: ['*'], resources: [deployments]}
  validations:
  - expression: object.spec.replicas <= int(params.data.max)
    messageExpression: "'more than ' + params.data.max"
  auditAnnotations:
  - key: limit
    valueExpression: "'max ' + params.data.max"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: warn-at-3}
spec:
  policyName: p
  validationActions: [Warn]
  paramRef: {name: three, parameterNotFoundAction: Deny}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: deny-at-5}
spec:
  policyName: p
  validationActions: [Deny]
  paramRef: {name: five, parameterNotFoundAction: Deny}
`;
  const cluster = clusterStateFrom([
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'three', namespace: 'default' }, data: { max: '3' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'five', namespace: 'default' }, data: { max: '5' } },
  ]);

  it('applies each binding with its own params and actions; annotations join distinct values', () => {
    const p = policiesFrom(twoBindings);
    const four = run(p, requestFor(deployment(4)), { cluster });
    expect(four.allowed).toBe(true);
    expect(four.warnings).toEqual(["Validation failed for ValidatingAdmissionPolicy 'p' with binding 'warn-at-3': more than 3"]);
    // Kubernetes (auditAnnotations): distinct values from several bindings are joined as a
    // comma-separated list.
    expect(four.auditAnnotations).toEqual({ 'p/limit': 'max 3, max 5' });
    const six = run(p, requestFor(deployment(6)), { cluster });
    expect(six.allowed).toBe(false);
    expect(six.status?.message).toMatch(/with binding 'deny-at-5' denied request: more than 5$/);
    expect(six.evaluations.map((e) => `${e.binding}:${e.result}`)).toEqual(['deny-at-5:deny', 'warn-at-3:warn']);
  });

  it('compiled policies are frozen', () => {
    const p = policiesFrom(twoBindings);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.validating)).toBe(true);
    expect(Object.isFrozen(p.validating[0])).toBe(true);
    expect(Object.isFrozen(p.validating[0]!.bindings)).toBe(true);
  });
});
