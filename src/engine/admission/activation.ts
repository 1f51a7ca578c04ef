/**
 * The CEL variables of admission policies, built as kube-apiserver builds them:
 * `object`, `oldObject`, `request`, `params`, `namespaceObject`, `authorizer` and the
 * lazily computed `variables`; and running one policy expression with its cost
 * accounting, error text and coverage event.
 */
import { CelError, CostMeter, PER_EXPRESSION_COST_LIMIT, fromJson } from '../../cel/index.js';
import { LAZY_FIELDS, type LazyFields } from '../../cel/lazy-fields.js';
import { createAuthorizer, staticDecider, type Authorizer, type Decider } from '../../cel/lib/authorizer.js';
import { requestNamespace } from './match.js';
import type { NamedExpression, PolicyExpression } from './policies.js';
import { layoutOf, type SharedValue, type SharedValues, type VariableLayout, type VariableOwner } from './variables.js';
import type { AdmissionRequest, ClusterState, ExpressionEvent, GroupVersionKind, GroupVersionResource } from './types.js';

/** The CEL `request` of an exact match, and of matches through equivalent resources by kind and resource. */
interface RequestValues {
  exact: unknown;
  readonly byMatch: Map<string, unknown>;
}

/**
 * What every evaluation of one admit() call shares. The costly parts are built on first
 * use (most policies never read `authorizer` or `namespaceObject`), the CEL form of
 * `request` once per matched kind and resource.
 */
export class RequestContext {
  #authorizer: Authorizer | undefined;
  #namespaceObject: unknown;
  #namespaceKnown = false;

  constructor(
    readonly request: AdmissionRequest,
    readonly cluster: ClusterState,
    private readonly decider: Decider | undefined,
    readonly onExpression: ((event: ExpressionEvent) => void) | undefined,
    /** `request` values by matched kind and resource; kept by forValidation (the object is not part of them). */
    private readonly requestValues: RequestValues = { exact: undefined, byMatch: new Map() },
    /** Set for the validating phase, where object and oldObject are fixed: variable values policies may share. */
    readonly shared?: SharedValues,
    private readonly parent?: RequestContext,
  ) {}

  get authorizer(): Authorizer {
    if (this.parent) return this.parent.authorizer;
    return (this.#authorizer ??= authorizerFor(this.request, this.decider));
  }

  get namespaceObject(): unknown {
    if (this.parent) return this.parent.namespaceObject;
    if (!this.#namespaceKnown) {
      this.#namespaceObject = namespaceObjectFor(this.request, this.cluster);
      this.#namespaceKnown = true;
    }
    return this.#namespaceObject;
  }

  /** The CEL `request` for a match (see requestValue); the same value for every policy that matched alike. */
  requestValue(matchedKind: GroupVersionKind, matchedResource: GroupVersionResource): unknown {
    // The common case, an exact match, needs no key.
    if (matchedKind === this.request.kind && matchedResource === this.request.resource) {
      return (this.requestValues.exact ??= requestValue(this.request, matchedKind, matchedResource));
    }
    const key = `${matchedKind.group}/${matchedKind.version}/${matchedKind.kind}\u0000${matchedResource.group}/${matchedResource.version}/${matchedResource.resource}`;
    let value = this.requestValues.byMatch.get(key);
    if (value === undefined) {
      value = requestValue(this.request, matchedKind, matchedResource);
      this.requestValues.byMatch.set(key, value);
    }
    return value;
  }

  /**
   * The same context for the validating phase: `request` (whose object a mutation may have
   * replaced; namespace, user and name are unchanged) with shared variable values.
   */
  forValidation(request: AdmissionRequest): RequestContext {
    return new RequestContext(request, this.cluster, this.decider, this.onExpression, this.requestValues, new Map(), this);
  }
}

export function requestContext(
  request: AdmissionRequest,
  cluster: ClusterState,
  decider: Decider | undefined,
  onExpression: ((event: ExpressionEvent) => void) | undefined,
): RequestContext {
  return new RequestContext(request, cluster, decider, onExpression);
}

const DENY_ALL: Decider = staticDecider({ allow: false, reason: 'celgate: no authorizer configured (offline default denies)' });

function authorizerFor(request: AdmissionRequest, decider: Decider | undefined): Authorizer {
  const resource = request.requestResource ?? request.resource;
  const user = request.userInfo ?? {};
  return createAuthorizer(
    decider ?? DENY_ALL,
    { username: user.username ?? '', uid: user.uid, groups: user.groups, extra: user.extra },
    {
      requestResource: {
        group: resource.group,
        resource: resource.resource,
        subresource: request.requestSubResource ?? request.subResource ?? '',
        namespace: request.namespace ?? '',
        name: request.name ?? '',
      },
    },
  );
}

/**
 * `namespaceObject`: null for cluster-scoped requests (and for a Namespace itself); else
 * the Namespace reduced to the fields Kubernetes exposes. A namespace the cluster state
 * does not describe exists (the server would have refused the request otherwise) with
 * nothing known but its name.
 */
function namespaceObjectFor(request: AdmissionRequest, cluster: ClusterState): unknown {
  const kind = request.kind;
  if (kind.group === '' && kind.version === 'v1' && kind.kind === 'Namespace') return null;
  const name = requestNamespace(request);
  if (name === '') return null;
  const known = cluster.namespace(name) as { metadata?: Record<string, unknown>; spec?: unknown; status?: unknown } | undefined;
  const metadata = known?.metadata ?? {};
  const kept: Record<string, unknown> = { name };
  for (const field of ['generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations']) {
    if (metadata[field] !== undefined) kept[field] = metadata[field];
  }
  return fromJson({ apiVersion: 'v1', kind: 'Namespace', metadata: kept, spec: known?.spec ?? {}, status: known?.status ?? {} });
}

/**
 * `request`, as Kubernetes' CreateAdmissionRequest builds it: kind and resource are the
 * ones that matched (they differ from the request's under matchPolicy Equivalent), the
 * request* fields the original ones; absent strings are "".
 */
export function requestValue(request: AdmissionRequest, matchedKind: GroupVersionKind, matchedResource: GroupVersionResource): unknown {
  const user = request.userInfo ?? {};
  // Built in its CEL form directly (each field through fromJson, as converting the whole would):
  // this runs for every request.
  return {
    uid: fromJson(request.uid ?? ''),
    kind: celGvk(matchedKind),
    resource: celGvr(matchedResource),
    subResource: fromJson(request.subResource ?? ''),
    requestKind: celGvk(request.requestKind ?? request.kind),
    requestResource: celGvr(request.requestResource ?? request.resource),
    requestSubResource: fromJson(request.requestSubResource ?? request.subResource ?? ''),
    name: fromJson(request.name ?? ''),
    namespace: fromJson(request.namespace ?? ''),
    operation: fromJson(request.operation),
    userInfo: { username: fromJson(user.username ?? ''), uid: fromJson(user.uid ?? ''), groups: fromJson([...(user.groups ?? [])]), extra: fromJson({ ...user.extra }) },
    dryRun: fromJson(request.dryRun ?? false),
    options: fromJson(request.options ?? null),
  };
}

const celGvk = (k: GroupVersionKind) => ({ group: fromJson(k.group), version: fromJson(k.version), kind: fromJson(k.kind) });
const celGvr = (r: GroupVersionResource) => ({ group: fromJson(r.group), version: fromJson(r.version), resource: fromJson(r.resource) });

/** The outcome of one expression: its CEL value, or kube-apiserver's error text. */
export type ExpressionResult =
  | { readonly value: unknown; readonly error?: undefined }
  /** `cause` is the bare CEL error, which is what an expression using a failed variable reports. */
  | { readonly error: string; readonly cause: string; readonly outOfBudget: boolean };

/** Identifies the policy × binding an evaluation runs for (coverage events and messages). */
export interface EvaluationScope {
  readonly policy: string;
  readonly binding: string;
}

type VariableState = { readonly value: unknown; readonly error?: undefined } | { readonly error: string };

/** What a shared variable's first evaluation read, to be replayed by evaluations that reuse it. */
interface ReadLog {
  readonly reads: [string, unknown][];
  reusable: boolean;
}

/**
 * One evaluation of one policy for one binding and param: a fixed activation, with
 * `variables.NAME` computed on first use and at most once.
 *
 * In the validating phase a variable whose value can only depend on the object (see
 * variables.ts) is computed by the first policy that reads it and reused by the others,
 * with the same observable effects as computing it again: the variables it read are read
 * again (so their coverage events and costs happen in the same order), its own cost is
 * charged to this evaluation's meter, and its coverage event is reported. When the reuse
 * could differ (a variable it read came out differently, or the remaining budget is too
 * small for its cost), it is simply evaluated again.
 */
export class Evaluation implements VariableOwner {
  readonly activation: Record<string, unknown>;
  readonly #variables: readonly NamedExpression[];
  readonly #layout: VariableLayout | undefined;
  readonly #states: (VariableState | undefined)[];
  /** Meter units spent by variable evaluations so far: separates a variable's own cost from its reads'. */
  #variableSpent = 0;
  /** Shared variables being evaluated, innermost last. */
  readonly #logs: ReadLog[] = [];

  constructor(
    readonly context: RequestContext,
    /** A budget per policy evaluation, as kube-apiserver gives each validation run. */
    readonly meter: CostMeter,
    readonly scope: EvaluationScope,
    base: { readonly object: unknown; readonly oldObject: unknown; readonly request: unknown; readonly params: unknown },
    variables: readonly NamedExpression[],
  ) {
    this.#variables = variables;
    let values: Record<string, unknown> = {};
    let lazy: LazyFields | undefined;
    if (variables.length > 0) {
      this.#layout = layoutOf(variables);
      const offered = this.#layout.valuesFor(this);
      values = offered.values;
      lazy = { variables: offered.read };
    }
    this.#states = new Array(variables.length);
    this.activation = new Activation(context, base, values, lazy) as unknown as Record<string, unknown>;
  }

  variable(index: number): unknown {
    const state = this.#stateOf(index);
    const logs = this.#logs;
    if (logs.length > 0) {
      const log = logs[logs.length - 1]!;
      // Only the first read matters: later ones see the same value.
      const name = this.#variables[index]!.name;
      if (state.error !== undefined) log.reusable = false;
      else if (!hasRead(log.reads, name)) log.reads.push([name, state.value]);
    }
    if (state.error !== undefined) throw new CelError('evaluation', state.error);
    return state.value;
  }

  #stateOf(index: number): VariableState {
    let state = this.#states[index];
    if (state === undefined) {
      const before = this.meter.spent;
      const nestedBefore = this.#variableSpent;
      state = this.#compute(index);
      this.#variableSpent = nestedBefore + (this.meter.spent - before);
      this.#states[index] = state;
    }
    return state;
  }

  #compute(index: number): VariableState {
    const expression = this.#variables[index]!.expression;
    const shared = this.context.shared;
    const key = shared && this.#layout!.shareKeys[index];
    if (!shared || key === undefined) return stateOf(this.run(expression));
    const offered = shared.get(key);
    if (offered && this.meter.remaining > 0) return this.#reuse(expression, key, offered);
    return this.#evaluateShared(expression, key, undefined);
  }

  #reuse(expression: PolicyExpression, key: number, offered: SharedValue): VariableState {
    const meter = this.meter;
    const remaining = meter.remaining;
    for (const [name, seen] of offered.reads) {
      const read = this.#stateOf(this.#layout!.indexOf.get(name)!);
      if (read.error !== undefined || read.value !== seen) return this.#evaluateShared(expression, key, remaining);
    }
    if (offered.ownCost > Math.min(PER_EXPRESSION_COST_LIMIT, remaining)) return this.#evaluateShared(expression, key, remaining);
    meter.spent += offered.ownCost;
    this.#report(expression, offered.value);
    return { value: offered.value };
  }

  /** Evaluates a shareable variable, logging its reads and own cost for the evaluations after this one. */
  #evaluateShared(expression: PolicyExpression, key: number, startRemaining: number | undefined): VariableState {
    const log: ReadLog = { reads: [], reusable: true };
    const before = this.meter.spent;
    const nestedBefore = this.#variableSpent;
    this.#logs.push(log);
    let result: ExpressionResult;
    try {
      result = this.run(expression, startRemaining);
    } finally {
      this.#logs.pop();
    }
    const ownCost = this.meter.spent - before - (this.#variableSpent - nestedBefore);
    const shared = this.context.shared!;
    if (result.error === undefined && log.reusable && !shared.has(key)) shared.set(key, { value: result.value, ownCost, reads: log.reads });
    return stateOf(result);
  }

  /** Runs an expression; reports it to onExpression (outcome: the bool, true for other values, or 'error'). */
  run(expression: PolicyExpression, startRemaining?: number): ExpressionResult {
    const result = this.#evaluate(expression, startRemaining);
    if (this.context.onExpression) this.#report(expression, result.error !== undefined ? ERROR : result.value);
    return result;
  }

  #report(expression: PolicyExpression, value: unknown): void {
    const listener = this.context.onExpression;
    if (!listener) return;
    const outcome = value === ERROR ? 'error' : value === false ? false : true;
    listener({ ...this.scope, field: expression.field, file: expression.file, line: expression.line, outcome });
  }

  /**
   * `startRemaining`: the budget that was left when this expression's evaluation began,
   * when its variables were read first (a reuse that fell through): its own limit is
   * computed from that, as it would have been had it run from the start.
   */
  #evaluate(expression: PolicyExpression, startRemaining?: number): ExpressionResult {
    if (!expression.program) {
      const error = `compilation error: ${expression.compileError ?? 'expression did not compile'}`;
      return { error, cause: error, outOfBudget: false };
    }
    const meter = this.meter;
    if ((startRemaining ?? meter.remaining) <= 0) return { error: OUT_OF_BUDGET, cause: OUT_OF_BUDGET, outOfBudget: true };
    const runMeter = startRemaining === undefined ? meter : new CostMeter(startRemaining);
    let value: unknown;
    let failure: unknown;
    let failed = false;
    try {
      value = expression.program.evaluate(this.activation, { meter: runMeter });
    } catch (error) {
      failed = true;
      failure = error;
    }
    if (runMeter !== meter) meter.spent += runMeter.spent;
    if (!failed) return { value };
    const cel = failure instanceof CelError ? failure : new CelError('evaluation', String(failure));
    if (cel.kind === 'cost') {
      if (meter.remaining <= 0) return { error: OUT_OF_BUDGET, cause: OUT_OF_BUDGET, outOfBudget: true };
      // cel-go's message for the per-expression limit.
      const cause = 'operation cancelled: actual cost limit exceeded';
      return { error: `expression '${expression.text}' resulted in error: ${cause}`, cause, outOfBudget: false };
    }
    return { error: `expression '${expression.text}' resulted in error: ${cel.summary}`, cause: cel.summary, outOfBudget: false };
  }
}

/** Stands for "the expression failed" where a CEL value is expected. */
const ERROR: unique symbol = Symbol('error');

function hasRead(reads: readonly (readonly [string, unknown])[], name: string): boolean {
  for (let i = 0; i < reads.length; i++) if (reads[i]![0] === name) return true;
  return false;
}

function stateOf(result: ExpressionResult): VariableState {
  return result.error === undefined ? { value: result.value } : { error: result.cause };
}

/** The CEL variables of one evaluation; the costly ones are read through to the request context on use. */
class Activation {
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly request: unknown;
  readonly params: unknown;
  /** The fast path's reader of `variables` (src/cel/lazy-fields.ts). */
  readonly [LAZY_FIELDS]: LazyFields | undefined;

  constructor(
    private readonly context: RequestContext,
    base: { readonly object: unknown; readonly oldObject: unknown; readonly request: unknown; readonly params: unknown },
    readonly variables: Record<string, unknown>,
    lazy: LazyFields | undefined,
  ) {
    this[LAZY_FIELDS] = lazy;
    this.object = base.object;
    this.oldObject = base.oldObject;
    this.request = base.request;
    this.params = base.params;
  }

  get namespaceObject(): unknown {
    return this.context.namespaceObject;
  }

  get authorizer(): unknown {
    return this.context.authorizer;
  }
}

/** kube-apiserver's text when an evaluation spends the per-request budget. */
export const OUT_OF_BUDGET = 'validation failed due to running out of cost budget, no further validation rules will be run';
