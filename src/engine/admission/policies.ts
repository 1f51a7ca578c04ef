/**
 * The compiled form of admission policies and bindings: everything parsed, every CEL
 * expression compiled, frozen. Built by compile.ts, read by validate.ts and mutate.ts.
 */
import type { Program } from '../../cel/index.js';
import type { LabelSelector } from './selectors.js';
import type { MatchResources } from './match.js';

export type FailurePolicy = 'Fail' | 'Ignore';
export type ValidationAction = 'Deny' | 'Warn' | 'Audit';

/** One CEL field of a policy, compiled once, with where it lives for messages and coverage. */
export interface PolicyExpression {
  readonly text: string;
  /** e.g. `spec.validations[0].expression`. */
  readonly field: string;
  readonly file: string;
  readonly line: number;
  /** Absent when the expression failed to compile; evaluating it is then an error (as in kube-apiserver). */
  readonly program?: Program;
  readonly compileError?: string;
}

export interface NamedExpression {
  readonly name: string;
  readonly expression: PolicyExpression;
}

export interface ParamKind {
  readonly apiVersion: string;
  readonly kind: string;
}

export interface ParamRef {
  readonly name?: string;
  readonly namespace?: string;
  readonly selector?: LabelSelector;
  readonly parameterNotFoundAction?: 'Allow' | 'Deny';
}

export interface Binding {
  readonly name: string;
  readonly policyName: string;
  readonly file: string;
  readonly line: number;
  readonly paramRef?: ParamRef;
  /** MATCH_ALL when the binding has no matchResources: a binding only narrows. */
  readonly match: MatchResources;
  /** VAP bindings only; empty for MAP bindings. */
  readonly validationActions: readonly ValidationAction[];
}

export interface Validation {
  readonly expression: PolicyExpression;
  readonly message?: string;
  readonly messageExpression?: PolicyExpression;
  readonly reason: string;
}

export interface AuditAnnotation {
  readonly key: string;
  readonly valueExpression: PolicyExpression;
}

export type PatchType = 'JSONPatch' | 'ApplyConfiguration';

export interface Mutation {
  readonly patchType: PatchType;
  readonly expression: PolicyExpression;
}

interface PolicyCommon {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly failurePolicy: FailurePolicy;
  readonly paramKind?: ParamKind;
  readonly match: MatchResources;
  readonly matchConditions: readonly NamedExpression[];
  readonly variables: readonly NamedExpression[];
  /** Sorted by name. */
  readonly bindings: readonly Binding[];
}

export interface ValidatingPolicy extends PolicyCommon {
  readonly kind: 'ValidatingAdmissionPolicy';
  readonly validations: readonly Validation[];
  readonly auditAnnotations: readonly AuditAnnotation[];
}

export interface MutatingPolicy extends PolicyCommon {
  readonly kind: 'MutatingAdmissionPolicy';
  readonly mutations: readonly Mutation[];
  readonly reinvocationPolicy: 'Never' | 'IfNeeded';
}

export type CompiledPolicy = ValidatingPolicy | MutatingPolicy;

/** The immutable compiled set `admit` runs; policies in name order. */
export interface AdmissionPolicies {
  readonly validating: readonly ValidatingPolicy[];
  readonly mutating: readonly MutatingPolicy[];
}
