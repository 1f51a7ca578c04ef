/**
 * The admission engine's contract: what a request carries in (Kubernetes' AdmissionRequest,
 * admission.k8s.io/v1) and what a decision carries out. Adapters (the webhook, `celgate apply`,
 * the test runner) build requests and read decisions; only the engine gives them meaning.
 */

import type { Decider } from '../../cel/lib/authorizer.js';

export type { Decider, AuthorizationAttributes, AuthorizationDecision } from '../../cel/lib/authorizer.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface UserInfo {
  readonly username?: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** An AdmissionRequest as JSON (admission.k8s.io/v1 field names); objects are plain JSON. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly requestKind?: GroupVersionKind;
  readonly requestResource?: GroupVersionResource;
  readonly requestSubResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: Operation;
  readonly userInfo: UserInfo;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
  readonly options?: unknown;
}

/**
 * What the cluster knows beyond the request: namespaces (for namespaceSelector and
 * `namespaceObject`) and param objects (for paramKind/paramRef). Offline this is built from
 * files; in a cluster, from informers. Lookups are synchronous: the engine never waits.
 * The objects it returns are never modified: a change arrives as a new object in a new
 * cluster state (the engine caches their CEL form per object, params.ts).
 */
export interface ClusterState {
  /** The Namespace object by name, or undefined when it is not known. */
  namespace(name: string): Readonly<Record<string, unknown>> | undefined;
  /** Every object of a kind (apiVersion + kind), optionally only in one namespace. */
  objects(apiVersion: string, kind: string, namespace?: string): readonly Readonly<Record<string, unknown>>[];
}

/** One policy × binding (× param) outcome, in the order they ran. */
export type EvaluationResult = 'deny' | 'warn' | 'audit' | 'pass' | 'skip' | 'error';

export interface PolicyEvaluation {
  readonly policy: string;
  readonly binding: string;
  readonly kind: 'ValidatingAdmissionPolicy' | 'MutatingAdmissionPolicy';
  readonly result: EvaluationResult;
  readonly message?: string;
  /** file:line of the expression that decided (a failed validation, a failing matchCondition). */
  readonly source?: string;
}

export interface AdmissionStatus {
  readonly code: number;
  /** Kubernetes StatusReason: Invalid, Forbidden, Unauthorized, RequestEntityTooLarge, InternalError, ... */
  readonly reason: string;
  /**
   * Exactly as kube-apiserver words it: for a ValidatingAdmissionPolicy denial
   * `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'P' with binding 'B' denied request: MSG`;
   * for a MutatingAdmissionPolicy error `policy 'P' with binding 'B' denied request: MSG`.
   * PolicyEvaluation.message carries MSG alone.
   */
  readonly message: string;
}

export interface JsonPatchOperation {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly value?: unknown;
  readonly from?: string;
}

export interface AdmissionDecision {
  readonly allowed: boolean;
  /** Present when denied (and for an allowed request only if a policy set one). */
  readonly status?: AdmissionStatus;
  readonly warnings: readonly string[];
  readonly auditAnnotations: Readonly<Record<string, string>>;
  /** RFC 6902 operations turning the submitted object into the mutated one; null when nothing changed. */
  readonly patch: readonly JsonPatchOperation[] | null;
  readonly patchedObject: unknown | null;
  readonly evaluations: readonly PolicyEvaluation[];
}

/** Which policies run: the webhook's /mutate and /validate run one phase each; apply runs both. */
export type AdmissionPhase = 'mutate' | 'validate' | 'both';

/**
 * One expression evaluated, for coverage: `outcome` is the boolean result for boolean
 * fields (validations, matchConditions), `true` for any other field that produced a
 * value, and 'error' when evaluation failed.
 */
export interface ExpressionEvent {
  readonly policy: string;
  readonly binding: string;
  /** e.g. `spec.validations[0].expression`. */
  readonly field: string;
  readonly file: string;
  readonly line: number;
  readonly outcome: boolean | 'error';
}

export interface AdmitOptions {
  readonly phase: AdmissionPhase;
  /**
   * After each mutation that changed the object, apply kube-apiserver's built-in defaulting to it,
   * as its mutating policy dispatcher does, so later policies see what they would in the cluster
   * (default true; off for `celgate apply --no-defaults`).
   */
  readonly kubernetesDefaults?: boolean;
  readonly cluster: ClusterState;
  /** Answers `authorizer` checks; by default every check is denied. */
  readonly decider?: Decider;
  readonly onExpression?: (event: ExpressionEvent) => void;
}
