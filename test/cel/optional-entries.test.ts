/**
 * Optional entries in list and map literals (cel-spec, "Optional values": `[?a]` and
 * `{?k: a}` add the entry only when the optional `a` has a value; cel-spec's
 * optionals.textproto covers the same cases and now passes in the conformance runner).
 */
import { CelEnvironment, fromJson } from '../../src/cel/index.js';
import { OPTIONAL_ENTRY, rewriteOptionalEntries } from '../../src/cel/optional-entries.js';
import { policiesFrom, requestFor, run } from '../engine/admission/helpers.js';

const env = new CelEnvironment({ variables: { x: 'dyn', names: 'list<string>' } });
const x = fromJson({ present: 'here', nested: { n: 2 } });
const evaluate = (text: string): unknown => env.compile(text).evaluate({ x, names: ['a'] });

describe('optional entries in literals', () => {
  it.each([
    ["{?'a': optional.of(1), 'b': 2}", { a: 1n, b: 2n }],
    ["{?'a': optional.none(), 'b': 2}", { b: 2n }],
    ["{?'a': x.?present, ?'b': x.?absent}", { a: 'here' }],
    ["[?optional.of(1), 2, ?optional.none()]", [1n, 2n]],
    ['[?x.?nested.?n, ?x.?nested.?missing]', [2n]],
    ["{'outer': [?x.?absent]}", { outer: [] }],
    // A map key that is left out cannot repeat another.
    ["{'a': 1, ?'a': optional.none()}", { a: 1n }],
    ["size([?optional.none(), ?optional.none()])", 0n],
    ["true ? {?'a': optional.of('t')} : {}", { a: 't' }],
    // Inside comprehensions (and so through the fast path's fallback).
    ['names.map(n, [?optional.of(n), ?optional.none()])', [['a']]],
  ])('%s', (text, expected) => {
    expect(evaluate(text)).toEqual(expected);
  });

  it('rejects a `?` entry that is not an optional, naming the entry, not the internal call', () => {
    expect(() => evaluate('[?1]')).toThrow("an optional entry (?) must be an optional value, found 'int'");
    expect(() => evaluate("{?'a': 'b'}")).toThrow("an optional entry (?) must be an optional value, found 'string'");
  });

  it('fails on a repeated key that is present', () => {
    expect(() => evaluate("{'a': 1, ?'a': optional.of(2)}")).toThrow('repeated key in map literal: a');
  });

  it('the marker cannot be called on its own', () => {
    expect(() => evaluate(`${OPTIONAL_ENTRY}(optional.of(1))`)).toThrow('allowed only in list and map literals');
  });
});

describe('rewriteOptionalEntries', () => {
  it.each([
    // Optional indexing, ternaries and strings keep their `?`.
    "x[?'a']",
    "x.?a.orValue('?')",
    "x.a ? [1] : {'k': 2}",
    "'{?a: b}' + \"[?c]\"",
    'size(names) > 0 ? names[0] : ""',
  ])('leaves %s unchanged', (text) => {
    expect(rewriteOptionalEntries(text)).toBe(text);
  });

  it('rewrites list and map entries, also after commas, comments and nested brackets', () => {
    expect(rewriteOptionalEntries("[?a, b, ?c.d(e, f)]")).toBe(`[${OPTIONAL_ENTRY}(a), b, ${OPTIONAL_ENTRY}(c.d(e, f))]`);
    expect(rewriteOptionalEntries("{?'k': v[0], 'j': w, ?'l': {?'m': z}}")).toBe(
      `{'k': ${OPTIONAL_ENTRY}( v[0]), 'j': w, 'l': ${OPTIONAL_ENTRY}( {'m': ${OPTIONAL_ENTRY}( z)})}`,
    );
    expect(rewriteOptionalEntries('[ // first\n  ?a]')).toBe(`[ // first\n  ${OPTIONAL_ENTRY}(a)]`);
    expect(rewriteOptionalEntries('x in [?a]')).toBe(`x in [${OPTIONAL_ENTRY}(a)]`);
  });
});

describe('MutatingAdmissionPolicy Object{?field: ...}', () => {
  it('sets an optional field only when the optional has a value', () => {
    // Kubernetes MutatingAdmissionPolicy ApplyConfiguration expressions are CEL: an optional
    // field in an Object literal is set only when present.
    const yaml = `
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: copy-team}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >-
        Object{metadata: Object.metadata{labels: {?'team': object.?data.?team, ?'tier': object.?data.?tier}}}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: copy-team-binding}
spec: {policyName: copy-team}
`;
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data: { team: 'payments' } };
    const decision = run(policiesFrom(yaml), requestFor(configMap), { phase: 'mutate' });
    expect(decision.evaluations.map((e) => e.result)).toEqual(['pass']);
    expect((decision.patchedObject as { metadata: { labels: unknown } }).metadata.labels).toEqual({ team: 'payments' });
  });
});
