import { rewriteAndCheck, rewriteObjectLiterals } from '../../../src/policy/object-literals.js';
import { applyConfiguration } from '../../../src/engine/admission/apply-configuration.js';
import { clusterStateFrom } from '../../../src/engine/admission/index.js';
import { applyKubernetesDefaults } from '../../../src/engine/admission/defaults.js';
import { deployment, issuesOf, policiesFrom, requestFor, run } from './helpers.js';

const PODS = `matchConstraints:
  resourceRules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}`;

function map(spec: string, name = 'm', binding = ''): string {
  return `
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: ${name}}
spec:
${spec.replace(/^/gm, '  ')}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: ${name}-binding}
spec:
  policyName: ${name}
${binding.replace(/^/gm, '  ')}
`;
}

/** A Pod as kube-apiserver hands it to admission: with its built-in defaults applied. */
function pod(extra: Record<string, unknown> = {}): Record<string, any> {
  return applyKubernetesDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: { initContainers: [], containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 80 }] }], ...extra },
  }) as Record<string, any>;
}

describe('Object{} and JSONPatch{} literals', () => {
  it('rewrites typed literals to map literals, leaving strings alone', () => {
    expect(rewriteObjectLiterals('Object{spec: Object.spec{replicas: 1}}')).toBe('      {"spec":            {"replicas": 1}}');
    expect(rewriteObjectLiterals('[JSONPatch{op: "add", path: "/a", value: "Object{x: 1}"}]')).toBe('[         {"op": "add", "path": "/a", "value": "Object{x: 1}"}]');
    expect(rewriteObjectLiterals('{"a": b}')).toBe('{"a": b}');
    expect(rewriteObjectLiterals('Object{?a: optional.none()}')).toBe('      {?"a": optional.none()}');
  });
});

describe('MutatingAdmissionPolicy: ApplyConfiguration', () => {
  // Kubernetes docs (mutating-admission-policy): the sidecar example, adding an init
  // container "mesh-proxy" unless the pod already has one.
  const SIDECAR = map(`${PODS}
matchConditions:
- name: does-not-already-have-sidecar
  expression: "!object.spec.initContainers.exists(ic, ic.name == \\"mesh-proxy\\")"
failurePolicy: Fail
reinvocationPolicy: IfNeeded
mutations:
- patchType: "ApplyConfiguration"
  applyConfiguration:
    expression: >
      Object{
        spec: Object.spec{
          initContainers: [
            Object.spec.initContainers{
              name: "mesh-proxy",
              image: "mesh/proxy:v1.0.0",
              args: ["proxy", "sidecar"],
              restartPolicy: "Always"
            }
          ]
        }
      }`, 'sidecar-policy.example.com');

  it('adds the sidecar and returns the RFC 6902 patch', () => {
    const d = run(policiesFrom(SIDECAR), requestFor(pod()));
    expect(d.allowed).toBe(true);
    // The added container comes back with its built-in defaults: kube-apiserver's mutating policy
    // dispatcher defaults the object after each mutation (o.GetObjectDefaulter().Default).
    const sidecar = {
      name: 'mesh-proxy',
      image: 'mesh/proxy:v1.0.0',
      args: ['proxy', 'sidecar'],
      restartPolicy: 'Always',
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    };
    expect(d.patch).toEqual([{ op: 'add', path: '/spec/initContainers/0', value: sidecar }]);
    expect((d.patchedObject as any).spec.initContainers).toEqual([sidecar]);
    expect(d.evaluations).toEqual([
      expect.objectContaining({ policy: 'sidecar-policy.example.com', binding: 'sidecar-policy.example.com-binding', kind: 'MutatingAdmissionPolicy', result: 'pass', message: 'mutated the object' }),
    ]);
  });

  it('leaves a pod that already has it alone (matchConditions false)', () => {
    const d = run(policiesFrom(SIDECAR), requestFor(pod({ initContainers: [{ name: 'mesh-proxy', image: 'old' }] })));
    expect(d.patch).toBeNull();
    expect(d.patchedObject).toBeNull();
    expect(d.evaluations[0]).toMatchObject({ result: 'skip' });
  });

  it('adds a default label (the docs simple-mutating-policy)', () => {
    const p = policiesFrom(map(`${PODS}
mutations:
- patchType: ApplyConfiguration
  applyConfiguration:
    expression: >
      Object{ metadata: Object.metadata{ labels: Object.metadata.labels{ mutated: "true" } } }`));
    const d = run(p, requestFor(pod()));
    expect(d.patch).toEqual([{ op: 'add', path: '/metadata/labels/mutated', value: 'true' }]);
    expect((d.patchedObject as any).metadata.labels).toEqual({ app: 'web', mutated: 'true' });
  });

  it('merges list maps by key and replaces atomic lists (server-side apply)', () => {
    const target = {
      spec: {
        containers: [{ name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }], ports: [{ containerPort: 80, protocol: 'TCP' }], args: ['x'] }],
        tolerations: [{ key: 'a' }],
        volumes: [{ name: 'v', emptyDir: {} }],
      },
      metadata: { finalizers: ['a'] },
    };
    const merged = applyConfiguration(target, {
      spec: {
        containers: [{ name: 'app', env: [{ name: 'B', value: '2' }], ports: [{ containerPort: 80, name: 'http' }], args: ['y'] }, { name: 'side', image: 's' }],
        tolerations: [{ key: 'b' }],
        volumes: [{ name: 'v2', emptyDir: {} }],
      },
      metadata: { finalizers: ['a', 'b'] },
    });
    expect(merged).toEqual({
      spec: {
        containers: [
          { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80, protocol: 'TCP', name: 'http' }], args: ['y'] },
          { name: 'side', image: 's' },
        ],
        tolerations: [{ key: 'b' }],
        volumes: [{ name: 'v', emptyDir: {} }, { name: 'v2', emptyDir: {} }],
      },
      metadata: { finalizers: ['a', 'b'] },
    });
    expect(target.spec.containers[0]!.env).toHaveLength(1);
  });
});

describe('MutatingAdmissionPolicy: JSONPatch', () => {
  // Kubernetes docs (mutating-admission-policy): the JSONPatch form of the sidecar example.
  const JSON_SIDECAR = map(`${PODS}
mutations:
- patchType: "JSONPatch"
  jsonPatch:
    expression: >
      [
        JSONPatch{
          op: "add", path: "/spec/initContainers/-",
          value: Object.spec.initContainers{
            name: "mesh-proxy",
            image: "mesh-proxy/v1.0.0",
            restartPolicy: "Always"
          }
        }
      ]`);

  it('applies the operations', () => {
    const d = run(policiesFrom(JSON_SIDECAR), requestFor(pod()));
    const added = { name: 'mesh-proxy', image: 'mesh-proxy/v1.0.0', restartPolicy: 'Always' };
    expect(d.patch).toEqual([{ op: 'add', path: '/spec/initContainers/0', value: { ...added, imagePullPolicy: 'Always', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' } }]);
    // Without defaulting (celgate apply --no-defaults) the container stays as the patch wrote it.
    expect(run(policiesFrom(JSON_SIDECAR), requestFor(pod()), { kubernetesDefaults: false }).patch).toEqual([{ op: 'add', path: '/spec/initContainers/0', value: added }]);
  });

  it('skips the whole patch when a test operation fails', () => {
    const p = policiesFrom(map(`${PODS}
mutations:
- patchType: JSONPatch
  jsonPatch:
    expression: >
      [JSONPatch{op: "test", path: "/metadata/labels/app", value: "api"},
       JSONPatch{op: "replace", path: "/metadata/labels/app", value: "changed"}]`));
    expect(run(p, requestFor(pod())).patch).toBeNull();
    const api = pod();
    api.metadata.labels.app = 'api';
    expect(run(p, requestFor(api)).patch).toEqual([{ op: 'replace', path: '/metadata/labels/app', value: 'changed' }]);
  });

  it('escapes keys with jsonpatch.escapeKey and converts ints', () => {
    const p = policiesFrom(map(`${PODS}
mutations:
- patchType: JSONPatch
  jsonPatch:
    expression: >
      [JSONPatch{op: "add", path: "/metadata/annotations", value: {}},
       JSONPatch{op: "add", path: "/metadata/annotations/" + jsonpatch.escapeKey("example.com/count"), value: string(size(object.spec.containers))},
       JSONPatch{op: "add", path: "/spec/priority", value: 7}]`));
    const d = run(p, requestFor(pod()));
    expect((d.patchedObject as any).metadata.annotations).toEqual({ 'example.com/count': '1' });
    expect((d.patchedObject as any).spec.priority).toBe(7);
  });

  it('denies on a failing patch under failurePolicy Fail, with the generic dispatcher message', () => {
    const p = policiesFrom(map(`${PODS}
mutations:
- patchType: JSONPatch
  jsonPatch:
    expression: '[JSONPatch{op: "replace", path: "/spec/nothing/here", value: 1}]'`));
    const d = run(p, requestFor(pod()));
    expect(d.allowed).toBe(false);
    // policy/generic PolicyError: "policy '%s' with binding '%s' denied request: %s"; NewForbidden gives 403.
    expect(d.status).toMatchObject({ code: 403, reason: 'Invalid', message: expect.stringMatching(/^policy 'm' with binding 'm-binding' denied request: JSON Patch: /) });
    const ignored = policiesFrom(map(`${PODS}
failurePolicy: Ignore
mutations:
- patchType: JSONPatch
  jsonPatch:
    expression: '[JSONPatch{op: "replace", path: "/spec/nothing/here", value: 1}]'`));
    expect(run(ignored, requestFor(pod())).allowed).toBe(true);
  });
});

describe('reinvocation and ordering', () => {
  // Policy "a" copies label tier into an annotation; policy "b" sets the label. In name
  // order "a" runs first and sees no label; with IfNeeded it is reinvoked after "b" changed the object.
  const yaml = (reinvocation: string) =>
    map(`${PODS}
reinvocationPolicy: ${reinvocation}
matchConditions:
- name: has-tier
  expression: "has(object.metadata.labels.tier)"
mutations:
- patchType: ApplyConfiguration
  applyConfiguration:
    expression: 'Object{metadata: Object.metadata{annotations: {"tier-copy": object.metadata.labels.tier}}}'`, 'a') +
    '---' +
    map(`${PODS}
mutations:
- patchType: ApplyConfiguration
  applyConfiguration:
    expression: 'Object{metadata: Object.metadata{labels: {"tier": "gold"}}}'`, 'b');

  it('reinvokes IfNeeded policies after a later change', () => {
    const d = run(policiesFrom(yaml('IfNeeded')), requestFor(pod()));
    expect((d.patchedObject as any).metadata).toMatchObject({ labels: { app: 'web', tier: 'gold' }, annotations: { 'tier-copy': 'gold' } });
    expect(d.evaluations.map((e) => `${e.policy}:${e.result}`)).toEqual(['a:skip', 'b:pass', 'a:pass']);
  });

  it('does not reinvoke Never policies', () => {
    const d = run(policiesFrom(yaml('Never')), requestFor(pod()));
    expect((d.patchedObject as any).metadata.annotations).toBeUndefined();
  });
});

describe('mutation then validation', () => {
  it('validates the mutated object when phase is both, and not in phase mutate', () => {
    const yaml =
      map(`matchConstraints:
  resourceRules:
  - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
mutations:
- patchType: ApplyConfiguration
  applyConfiguration:
    expression: 'Object{spec: Object.spec{replicas: 10}}'`) +
      `---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: max}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: object.spec.replicas <= 5
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-binding}
spec:
  policyName: max
  validationActions: [Deny]
`;
    const p = policiesFrom(yaml);
    const deployment2 = () => applyKubernetesDefaults(deployment(2)) as Record<string, any>; // as kube-apiserver hands it over
    const both = run(p, requestFor(deployment2()));
    expect(both.allowed).toBe(false);
    expect(both.status?.message).toMatch(/failed expression: object\.spec\.replicas <= 5$/);
    const mutateOnly = run(p, requestFor(deployment2()), { phase: 'mutate' });
    expect(mutateOnly.allowed).toBe(true);
    expect(mutateOnly.patch).toEqual([{ op: 'replace', path: '/spec/replicas', value: 10 }]);
    expect(run(p, requestFor(deployment2()), { phase: 'validate' }).allowed).toBe(true);
  });
});

describe('MAP loading', () => {
  it('requires patchType and its expression holder', () => {
    expect(issuesOf(map(`${PODS}\nmutations:\n- jsonPatch: {expression: '[]'}`))).toEqual([expect.stringMatching(/patchType is required/)]);
    expect(issuesOf(map(`${PODS}\nmutations:\n- patchType: JSONPatch\n  applyConfiguration: {expression: 'Object{}'}`))).toEqual([expect.stringMatching(/jsonPatch is required for patchType JSONPatch/)]);
  });
});


describe('Object literal type names', () => {
  it('must follow the field path (Kubernetes checks type names against field paths)', () => {
    expect(rewriteAndCheck('Object{spec: Object.spec{containers: [Object.spec.containers{name: "a"}]}}').error).toBeUndefined();
    expect(rewriteAndCheck('[JSONPatch{op: "add", path: "/x", value: Object.spec.initContainers{name: "a"}}]').error).toBeUndefined();
    expect(rewriteAndCheck('Object{spec: Object.spec{initContainers: [Object.spec.containers{name: "a"}]}}').error).toBe(
      "type mismatch: Object.spec.containers is used where Object.spec.initContainers is expected (an Object literal's type name is its field path)",
    );
    expect(issuesOf(map(`${PODS}\nmutations:\n- patchType: ApplyConfiguration\n  applyConfiguration:\n    expression: 'Object{metadata: Object.spec{}}'`), 'm.yaml')).toEqual([
      expect.stringMatching(/^m\.yaml:\d+:\d+: type mismatch: Object\.spec is used where Object\.metadata is expected/),
    ]);
  });
});

describe('MAP params and events', () => {
  const yaml = map(
    `paramKind: {apiVersion: v1, kind: ConfigMap}
${PODS}
variables:
- name: team
  expression: params.data.team
mutations:
- patchType: ApplyConfiguration
  applyConfiguration:
    expression: 'Object{metadata: Object.metadata{labels: {"team": variables.team}}}'`,
    'owner',
    'paramRef: {name: owner-defaults, parameterNotFoundAction: Deny}',
  );
  const cluster = clusterStateFrom([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner-defaults', namespace: 'default' }, data: { team: 'payments' } }]);

  it('sets a label from the param object, reporting each expression', () => {
    const events: string[] = [];
    const d = run(policiesFrom(yaml), requestFor(pod()), { cluster, onExpression: (e) => events.push(`${e.policy}/${e.binding} ${e.field} ${e.outcome}`) });
    expect((d.patchedObject as any).metadata.labels).toEqual({ app: 'web', team: 'payments' });
    expect(events).toEqual([
      'owner/owner-binding spec.variables[0].expression true',
      'owner/owner-binding spec.mutations[0].applyConfiguration.expression true',
    ]);
  });

  it('denies when the param is missing and parameterNotFoundAction is Deny', () => {
    const d = run(policiesFrom(yaml), requestFor(pod()));
    expect(d.status).toEqual({
      code: 403,
      reason: 'Forbidden',
      message: "policy 'owner' with binding 'owner-binding' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction",
    });
  });

  it('does nothing for DELETE (no object)', () => {
    const del = map(`matchConstraints:\n  resourceRules:\n  - {apiGroups: [""], apiVersions: [v1], operations: ['*'], resources: [pods]}\nmutations:\n- patchType: ApplyConfiguration\n  applyConfiguration: {expression: 'Object{metadata: Object.metadata{labels: {"x": "y"}}}'}`);
    const d = run(policiesFrom(del), requestFor(pod(), { operation: 'DELETE', oldObject: pod() }));
    expect(d.allowed).toBe(true);
    expect(d.patch).toBeNull();
  });
});
