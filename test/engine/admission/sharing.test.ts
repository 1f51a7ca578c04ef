/**
 * The structure sharing the mutating phase relies on to avoid converting, comparing and
 * diffing whole objects again after each change: shareUnchanged, withKubernetesDefaults,
 * fromJsonReusing, and the per-object CEL form of cluster params. Each must give exactly what
 * the plain computation gives; only object identity may differ.
 */
import { fromJson } from '../../../src/cel/index.js';
import { fromJsonReusing } from '../../../src/cel/values.js';
import { cloneJson, shareUnchanged } from '../../../src/engine/admission/apply-configuration.js';
import { applyKubernetesDefaults, withKubernetesDefaults } from '../../../src/engine/admission/defaults.js';
import { clusterStateFrom } from '../../../src/engine/admission/index.js';
import { collectParams } from '../../../src/engine/admission/params.js';
import { parseLabelSelector } from '../../../src/engine/admission/selectors.js';
import { policiesFrom, requestFor, run } from './helpers.js';

/** Tells apart bigint/number, -0/0, Map/object and key order. */
function describe_(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value === undefined) return 'undefined';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe_).join(', ')}]`;
  if (value instanceof Map) return `Map{${[...value].map(([k, v]) => `${JSON.stringify(k)} => ${describe_(v)}`).join(', ')}}`;
  return `{${Object.keys(value).map((k) => `${JSON.stringify(k)}: ${describe_((value as Record<string, unknown>)[k])}`).join(', ')}}`;
}

const pod = (): Record<string, any> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', labels: { app: 'web' }, annotations: { a: 'b' } },
  spec: { containers: [{ name: 'c', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] },
});

describe('shareUnchanged', () => {
  test('an equal copy gives the original itself; a changed one shares its unchanged parts', () => {
    const original = pod();
    expect(shareUnchanged(cloneJson(original), original)).toBe(original);

    const copy = cloneJson(original) as Record<string, any>;
    copy.spec.containers[0].image = 'nginx:1.28';
    const shared = shareUnchanged(copy, original) as Record<string, any>;
    expect(shared).toBe(copy);
    expect(shared.metadata).toBe(original.metadata);
    expect(shared.spec).not.toBe(original.spec);
    expect(shared.spec.containers[0].ports).toBe(original.spec.containers[0].ports);
    expect(shared.spec.containers[0].image).toBe('nginx:1.28');
    expect(original.spec.containers[0].image).toBe('nginx:1.27');
  });

  test('what counts as a change: -0 for 0, another key order, an added or removed key, a longer list', () => {
    expect(describe_(shareUnchanged({ a: 0 }, { a: -0 }))).toBe('{"a": 0}');
    expect(describe_(shareUnchanged([-0], [0]))).toBe('[-0]');
    const reordered = { b: 1, a: 2 };
    expect(shareUnchanged(reordered, { a: 2, b: 1 })).toBe(reordered);
    const added = { a: { x: 1 }, b: 2 };
    const base = { a: { x: 1 } };
    expect(shareUnchanged(added, base)).toBe(added);
    expect(added.a).toBe(base.a);
    const removed = { a: 1 };
    expect(shareUnchanged(removed, { a: 1, b: 2 })).toBe(removed);
    const longer = [{ x: 1 }, 2];
    expect(shareUnchanged(longer, [{ x: 1 }])).toBe(longer);
    expect(shareUnchanged(Number.NaN, Number.NaN)).toBeNaN();
  });

  test('a `__proto__` key stays data when its value is shared', () => {
    const original = JSON.parse('{"__proto__": {"x": 1}, "a": 1}');
    const copy = cloneJson(original) as Record<string, unknown>;
    copy.a = 2;
    const shared = shareUnchanged(copy, original) as Record<string, unknown>;
    expect(Object.getPrototypeOf(shared)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(shared, '__proto__')?.value).toBe(Object.getOwnPropertyDescriptor(original, '__proto__')?.value);
    expect(JSON.stringify(shared)).toBe('{"__proto__":{"x":1},"a":2}');
  });
});

describe('withKubernetesDefaults', () => {
  test('gives what applyKubernetesDefaults gives, sharing what the defaults left alone, without modifying the input', () => {
    const input = pod();
    const before = JSON.stringify(input);
    const shared = withKubernetesDefaults(input);
    expect(JSON.stringify(shared)).toBe(JSON.stringify(applyKubernetesDefaults(input)));
    expect(JSON.stringify(input)).toBe(before);
    expect(shared).not.toBe(input);
    // Pod defaults touch spec only.
    expect(shared.metadata).toBe(input.metadata);
    expect(shared.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
  });

  test('an object that already has its defaults comes back as it is', () => {
    const defaulted = applyKubernetesDefaults(pod());
    expect(withKubernetesDefaults(defaulted)).toBe(defaulted);
    const other = { apiVersion: 'example.com/v1', kind: 'Widget', spec: {} };
    expect(withKubernetesDefaults(other)).toBe(other);
  });
});

const template = (spec: Record<string, unknown> = {}) => ({ metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox', livenessProbe: { httpGet: { port: 80 } } }], volumes: [{ name: 'v' }, { name: 's', secret: { secretName: 's' } }], ...spec } });
/** One object of every kind with defaults here, each leaving something to default. */
const KINDS: readonly Record<string, any>[] = [
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'a:latest', ports: [{ containerPort: 8080 }], resources: { limits: { cpu: '1' } } }] } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare' } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: template() } },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds' }, spec: { template: template() } },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'ss' }, spec: { template: template(), volumeClaimTemplates: [{ spec: {} }] } },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs' }, spec: { template: template() } },
  { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: template({ restartPolicy: 'Never' }), podFailurePolicy: { rules: [{ onPodConditions: [{ type: 'X' }] }] } } },
  { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj' }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: template() } } } },
  { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'rc' }, spec: { template: template() } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { sessionAffinityConfig: { clientIP: {} }, ports: [{ port: 80 }] } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 's2' }, spec: { type: 'LoadBalancer', sessionAffinity: 'ClientIP', ports: [{ port: 80, targetPort: 0 }] } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', labels: { a: 'b' } } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' } },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pvc' }, spec: {} },
  { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ ports: [{ port: 1 }] }] },
];

test('withKubernetesDefaults equals applyKubernetesDefaults for every kind, before and after defaulting', () => {
  for (const object of KINDS) {
    const before = JSON.stringify(object);
    const expected = JSON.stringify(applyKubernetesDefaults(object));
    expect(expected).not.toBe(before); // each needs some default
    const shared = withKubernetesDefaults(object);
    expect(JSON.stringify(shared)).toBe(expected);
    expect(JSON.stringify(object)).toBe(before);
    // Once defaulted, nothing is left to change: the object itself comes back.
    const defaulted = applyKubernetesDefaults(object);
    expect(withKubernetesDefaults(defaulted)).toBe(defaulted);
    expect(JSON.stringify(defaulted)).toBe(expected);
  }
});

describe('fromJsonReusing', () => {
  test('equals fromJson of the new value, reusing the CEL form of the parts it shares', () => {
    const previous = { metadata: { labels: { app: 'web' } }, spec: { replicas: 2, list: [1, 2.5, { a: 'x' }] }, gone: 1 };
    const previousCel = fromJson(previous) as Record<string, any>;
    const next = { metadata: { labels: { ...previous.metadata.labels, team: 'a' } }, spec: previous.spec, added: [1] };
    const cel = fromJsonReusing(next, previous, previousCel) as Record<string, any>;
    expect(describe_(cel)).toBe(describe_(fromJson(next)));
    expect(cel.spec).toBe(previousCel.spec);
    expect(cel.metadata).not.toBe(previousCel.metadata);
    expect(fromJsonReusing(previous, previous, previousCel)).toBe(previousCel);
  });

  test('reserved keys, lists that grow or change kind, and primitives give what fromJson gives', () => {
    const cases: [unknown, unknown][] = [
      [{ a: { constructor: 1, b: [1] } }, { a: { constructor: 1, b: [1] } }],
      [{ a: { b: 1 } }, { a: { constructor: 'x', b: 1 } }],
      [{ a: { constructor: 'x', b: 1 } }, { a: { b: 1 } }],
      [JSON.parse('{"__proto__": {"x": 1}, "y": 2}'), JSON.parse('{"__proto__": {"x": 1}, "y": 3}')],
      [[1, 2], [1, 2, 3]],
      [[1, 2, 3], [1]],
      [{ a: [1] }, { a: { 0: 1 } }],
      [{ a: { 0: 1 } }, { a: [1] }],
      [{ a: 1 }, { a: 1.5 }],
      [{ a: 'x' }, 'x'],
      [null, { a: 1 }],
      [{ toString: 1 }, { toString: 1, valueOf: 2 }],
    ];
    for (const [previous, next] of cases) {
      expect(describe_(fromJsonReusing(next, previous, fromJson(previous)))).toBe(describe_(fromJson(next)));
      // Sharing a subtree of previous.
      if (typeof previous === 'object' && previous !== null && !Array.isArray(previous)) {
        const withShared = { kept: previous, ...(typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}) };
        const prior = { kept: previous };
        expect(describe_(fromJsonReusing(withShared, prior, fromJson(prior)))).toBe(describe_(fromJson(withShared)));
      }
    }
  });
});

describe('params', () => {
  const configMap = (name: string, value: number) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', labels: { use: 'limits' } }, data: { max: value } });

  test('each cluster object is converted once; a new cluster state converts its own objects', () => {
    const cluster = clusterStateFrom([configMap('a', 3), configMap('b', 4)]);
    const kind = { apiVersion: 'v1', kind: 'ConfigMap' };
    const ref = { selector: parseLabelSelector({ matchLabels: { use: 'limits' } }, 'selector') as never, parameterNotFoundAction: 'Deny' as const };
    const first = collectParams(kind, ref, 'default', cluster);
    const second = collectParams(kind, ref, 'default', cluster);
    if (first.error !== undefined || second.error !== undefined) throw new Error('params expected');
    expect(first.params.map(describe_)).toEqual(['{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default", "labels": {"use": "limits"}}, "data": {"max": 3n}}', expect.stringContaining('"max": 4n')]);
    expect(second.params[0]).toBe(first.params[0]);
    const fresh = collectParams(kind, ref, 'default', clusterStateFrom([configMap('a', 5)]));
    if (fresh.error !== undefined) throw new Error('params expected');
    expect(describe_(fresh.params[0])).toContain('"max": 5n');
  });
});

describe('mutations after the changes', () => {
  // Kubernetes docs (mutating-admission-policy): JSONPatch and ApplyConfiguration mutations apply in order,
  // each to the object the previous one left; a JSON Patch with no operations changes nothing.
  const policies = policiesFrom(`
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: m}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  mutations:
  - patchType: JSONPatch
    jsonPatch: {expression: '[]'}
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"added": "yes"}}}'
  - patchType: JSONPatch
    jsonPatch:
      expression: '[JSONPatch{op: "add", path: "/spec/containers/0/env", value: [{"name": "N", "value": string(size(object.metadata.labels))}]}]'
  - patchType: JSONPatch
    jsonPatch: {expression: '[JSONPatch{op: "replace", path: "/metadata/labels/app", value: "web"}]'}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: m-binding}
spec: {policyName: m}
`);

  test('each mutation sees the previous ones; unchanged steps report no change; the patch covers the changes only', () => {
    const object = applyKubernetesDefaults(pod());
    const before = JSON.stringify(object);
    const decision = run(policies, requestFor(object), { phase: 'mutate' });
    expect(JSON.stringify(object)).toBe(before);
    expect(decision.evaluations.map((e) => e.message)).toEqual(['no change', 'mutated the object', 'mutated the object', 'no change']);
    // fast-json-patch's compare walks keys from the last: spec before metadata.
    expect(decision.patch).toEqual([
      { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'N', value: '2' }] },
      { op: 'add', path: '/metadata/labels/added', value: 'yes' },
    ]);
    const patched = decision.patchedObject as Record<string, any>;
    expect(patched.metadata.labels).toEqual({ app: 'web', added: 'yes' });
    expect(patched.spec.containers[0].env).toEqual([{ name: 'N', value: '2' }]);
    expect(patched.metadata.annotations).not.toBe(object.metadata.annotations);
  });
});
