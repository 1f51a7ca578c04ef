// Policies that define the same variable (the Pod Security library defines `podSpec` and
// `containers` in every policy) share its value within one request. Sharing is an
// optimisation only: every test here checks that a policy decides, reports coverage and
// fails exactly as it does when it is the only policy loaded.
// Kubernetes docs (validating-admission-policy, "Variable composition"): "variables are
// lazily evaluated ... each variable is evaluated at most once per policy evaluation" —
// per policy: one policy's definition never leaks into another's.
import { clusterStateFrom, compileAdmissionPolicies, type AdmissionPolicies, type ExpressionEvent } from '../../../src/engine/admission/index.js';
import { formatIssue, type PolicyIssue } from '../../../src/policy/index.js';
import { requestFor, resourcesFrom, run } from './helpers.js';

interface PolicySpec {
  name: string;
  variables: Record<string, string>;
  validation: string;
  messageExpression?: string;
  paramKind?: boolean;
}

function policyYaml({ name, variables, validation, messageExpression, paramKind }: PolicySpec, paramName?: string): string {
  const vars = Object.entries(variables)
    .map(([n, e]) => `    - name: ${n}\n      expression: ${JSON.stringify(e)}`)
    .join('\n');
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: ${name}
spec:
${paramKind ? '  paramKind:\n    apiVersion: v1\n    kind: ConfigMap\n' : ''}  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  variables:
${vars}
  validations:
    - expression: ${JSON.stringify(validation)}
${messageExpression ? `      messageExpression: ${JSON.stringify(messageExpression)}\n` : ''}---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: ${name}
spec:
  policyName: ${name}
  validationActions: [Deny]
${paramName ? `  paramRef:\n    name: ${paramName}\n    namespace: default\n    parameterNotFoundAction: Deny\n` : ''}`;
}

const pod = (containers: { name: string; image: string }[], initContainers: { name: string; image: string }[] = []) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default' },
  spec: { containers, initContainers },
});

/** Compiles policy files (one YAML text each) into one set; fails the test on any issue. */
function compileFiles(yamls: readonly string[]): AdmissionPolicies {
  const issues: PolicyIssue[] = [];
  const resources = yamls.flatMap((yaml, i) => {
    const loaded = resourcesFrom(yaml, `policy-${i}.yaml`);
    issues.push(...loaded.issues);
    return loaded.resources;
  });
  const policies = compileAdmissionPolicies(resources, issues);
  if (issues.length > 0) throw new Error(issues.map(formatIssue).join('\n'));
  return policies;
}

/** Runs each policy file alone, then all together: decisions and coverage events of both. */
function aloneAndTogether(yamls: string[], object: Record<string, unknown>, cluster = clusterStateFrom([])) {
  const collect = (files: string[]) => {
    const events: ExpressionEvent[] = [];
    const decision = run(compileFiles(files), requestFor(object), { phase: 'validate', cluster, onExpression: (e) => events.push(e) });
    return { decision, events };
  };
  const together = collect(yamls);
  // Each alone, but from the same file name (and so the same file:line) as in the set.
  const alone = yamls.map((yaml, i) => collect(yamls.map((other, j) => (j === i ? other : '# not loaded\n'))));
  return { alone, together };
}

describe('variables shared between policies', () => {
  it('keeps each policy on its own definitions when a same-text variable reads a differently defined one', () => {
    // `all` has the same text in both policies, but `base` differs: sharing `all` would be wrong.
    const first: PolicySpec = {
      name: 'a-containers',
      variables: { base: 'object.spec.containers', all: 'variables.base.map(c, c.name)' },
      validation: "!('init' in variables.all)",
    };
    const second: PolicySpec = {
      name: 'b-init-containers',
      variables: { base: 'object.spec.initContainers', all: 'variables.base.map(c, c.name)' },
      validation: "!('init' in variables.all)",
      messageExpression: "'has init: ' + variables.all.join(',')",
    };
    const object = pod([{ name: 'app', image: 'app:1' }], [{ name: 'init', image: 'busybox:1' }]);
    const { alone, together } = aloneAndTogether([policyYaml(first), policyYaml(second)], object);
    expect(alone[0]!.decision.allowed).toBe(true);
    expect(alone[1]!.decision.allowed).toBe(false);
    expect(together.decision.evaluations).toEqual([...alone[0]!.decision.evaluations, ...alone[1]!.decision.evaluations]);
    expect(together.decision.evaluations[1]!.message).toBe('has init: init');
  });

  it('reports every policy its own coverage events, in the same order, when it reuses a value', () => {
    const spec = (name: string): PolicySpec => ({
      name,
      variables: {
        podSpec: "object.kind == 'Pod' ? object.spec : object.spec.template.spec",
        containers: 'variables.podSpec.?containers.orValue([]) + variables.podSpec.?initContainers.orValue([])',
        latest: "variables.containers.filter(c, c.image.endsWith(':latest')).map(c, c.name)",
        unused: 'variables.podSpec.hostNetwork',
      },
      validation: name.startsWith('a') ? 'size(variables.latest) == 0' : 'size(variables.containers) < 3',
    });
    const object = pod([{ name: 'app', image: 'app:latest' }], [{ name: 'init', image: 'busybox:1' }]);
    const { alone, together } = aloneAndTogether([policyYaml(spec('a-latest')), policyYaml(spec('b-count'))], object);
    expect(together.events).toEqual([...alone[0]!.events, ...alone[1]!.events]);
    // b-count reads `containers` (reused) and therefore `podSpec`, but never `latest` or `unused`.
    expect(together.events.filter((e) => e.policy === 'b-count').map((e) => e.field)).toEqual([
      'spec.variables[0].expression',
      'spec.variables[1].expression',
      'spec.validations[0].expression',
    ]);
    expect(together.decision.evaluations.map((e) => e.result)).toEqual(['deny', 'pass']);
  });

  it('never shares a variable that reads params: each binding sees its own', () => {
    const spec = (name: string): PolicySpec => ({
      name,
      paramKind: true,
      variables: { max: 'int(params.data.max)', count: 'size(object.spec.containers)' },
      validation: 'variables.count <= variables.max',
    });
    const cluster = clusterStateFrom([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one', namespace: 'default' }, data: { max: '1' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'three', namespace: 'default' }, data: { max: '3' } },
    ]);
    const object = pod([
      { name: 'a', image: 'a:1' },
      { name: 'b', image: 'b:1' },
    ]);
    const { alone, together } = aloneAndTogether([policyYaml(spec('a-max-three'), 'three'), policyYaml(spec('b-max-one'), 'one')], object, cluster);
    expect(together.decision.evaluations.map((e) => [e.policy, e.result])).toEqual([
      ['a-max-three', 'pass'],
      ['b-max-one', 'deny'],
    ]);
    expect(together.events).toEqual([...alone[0]!.events, ...alone[1]!.events]);
  });

  it('reports a failing variable as an error in every policy that reads it', () => {
    const spec = (name: string): PolicySpec => ({
      name,
      variables: { first: 'object.spec.containers[5].name' },
      validation: "variables.first != 'x'",
    });
    const object = pod([{ name: 'app', image: 'app:1' }]);
    const { alone, together } = aloneAndTogether([policyYaml(spec('a-one')), policyYaml(spec('b-two'))], object);
    expect(together.decision.evaluations).toEqual([...alone[0]!.decision.evaluations, ...alone[1]!.decision.evaluations]);
    // failurePolicy Fail: an evaluation error denies.
    expect(together.decision.evaluations.map((e) => e.result)).toEqual(['deny', 'deny']);
    expect(together.decision.evaluations[1]!.message).toMatch(/^expression 'variables.first != 'x'' resulted in error: /);
    expect(together.events.map((e) => e.outcome)).toEqual(['error', 'error', 'error', 'error']);
  });

  it('charges a reused variable to each policy: one over the per-expression cost limit fails in both', () => {
    // 1,500 × 1,500 iterations: well over PER_EXPRESSION_COST_LIMIT (1,000,000).
    const spec = (name: string): PolicySpec => ({
      name,
      variables: { items: 'object.spec.containers.map(c, c.name)', pairs: 'variables.items.map(x, variables.items.map(y, x + y)).size()' },
      validation: 'variables.pairs > 0',
    });
    const many = Array.from({ length: 1500 }, (_, i) => ({ name: `c${i}`, image: 'app:1' }));
    const { alone, together } = aloneAndTogether([policyYaml(spec('a-cost')), policyYaml(spec('b-cost'))], pod(many));
    expect(together.decision.evaluations).toEqual([...alone[0]!.decision.evaluations, ...alone[1]!.decision.evaluations]);
    expect(together.decision.evaluations.map((e) => e.result)).toEqual(['deny', 'deny']);
    expect(together.decision.evaluations[1]!.message).toBe("expression 'variables.pairs > 0' resulted in error: operation cancelled: actual cost limit exceeded");
  });

  it('charges every reuse to the reading policy: the per-evaluation budget runs out as it would without sharing', () => {
    // 500 × 500 iterations cost 757,500 units, under the 1,000,000 per-expression limit;
    // fourteen of them (same text, so one shared value) exceed the 10,000,000 per-policy budget.
    const expensive = 'object.spec.containers.map(c, c.name).map(x, object.spec.containers.map(y, y.name).size()).size()';
    const names = Array.from({ length: 14 }, (_, i) => `v${i}`);
    const spec = (name: string): PolicySpec => ({
      name,
      variables: Object.fromEntries(names.map((n) => [n, expensive])),
      validation: `${names.map((n) => `variables.${n}`).join(' + ')} > 0`,
    });
    const containers = Array.from({ length: 500 }, (_, i) => ({ name: `c${i}`, image: 'app:1' }));
    const { alone, together } = aloneAndTogether([policyYaml(spec('a-budget')), policyYaml(spec('b-budget'))], pod(containers));
    expect(together.decision.evaluations).toEqual([...alone[0]!.decision.evaluations, ...alone[1]!.decision.evaluations]);
    expect(together.events).toEqual([...alone[0]!.events, ...alone[1]!.events]);
    for (const evaluation of together.decision.evaluations) {
      expect(evaluation.message).toContain('resulted in error: validation failed due to running out of cost budget');
    }
  });
});
