/**
 * The CEL variables of admission policies, built as kube-apiserver builds them:
 * `object`, `oldObject`, `request`, `params`, `namespaceObject`, `authorizer` and the
 * lazily computed `variables`; and running one policy expression with its cost
 * accounting, error text and coverage event.
 */
import { CelError, fromJson, type CostMeter } from '../../cel/index.js';
import { createAuthorizer, staticDecider, type Authorizer, type Decider } from '../../cel/lib/authorizer.js';
import { requestNamespace } from './match.js';
import type { NamedExpression, PolicyExpression } from './policies.js';
import type { AdmissionRequest, ClusterState, ExpressionEvent, GroupVersionKind, GroupVersionResource } from './types.js';

/** What every evaluation of one admit() call shares. */
export interface RequestContext {
  readonly request: AdmissionRequest;
  readonly cluster: ClusterState;
  readonly authorizer: Authorizer;
  readonly namespaceObject: unknown;
  readonly onExpression?: (event: ExpressionEvent) => void;
}

const DENY_ALL: Decider = staticDecider({ allow: false, reason: 'celgate: no authorizer configured (offline default denies)' });

export function requestContext(
  request: AdmissionRequest,
  cluster: ClusterState,
  decider: Decider | undefined,
  onExpression: ((event: ExpressionEvent) => void) | undefined,
): RequestContext {
  // Built on first use: most policies never read `authorizer` or `namespaceObject`.
  let authorizer: Authorizer | undefined;
  let namespaceObject: unknown;
  let namespaceKnown = false;
  return {
    request,
    cluster,
    get authorizer() {
      return (authorizer ??= authorizerFor(request, decider));
    },
    get namespaceObject() {
      if (!namespaceKnown) {
        namespaceObject = namespaceObjectFor(request, cluster);
        namespaceKnown = true;
      }
      return namespaceObject;
    },
    ...(onExpression ? { onExpression } : {}),
  };
}

/** The same context for a request whose object a mutation replaced (namespace, user and name are unchanged). */
export function withRequest(context: RequestContext, request: AdmissionRequest): RequestContext {
  return {
    request,
    cluster: context.cluster,
    get authorizer() {
      return context.authorizer;
    },
    get namespaceObject() {
      return context.namespaceObject;
    },
    ...(context.onExpression ? { onExpression: context.onExpression } : {}),
  };
}

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
  return fromJson({
    uid: request.uid ?? '',
    kind: { group: matchedKind.group, version: matchedKind.version, kind: matchedKind.kind },
    resource: { group: matchedResource.group, version: matchedResource.version, resource: matchedResource.resource },
    subResource: request.subResource ?? '',
    requestKind: gvk(request.requestKind ?? request.kind),
    requestResource: gvr(request.requestResource ?? request.resource),
    requestSubResource: request.requestSubResource ?? request.subResource ?? '',
    name: request.name ?? '',
    namespace: request.namespace ?? '',
    operation: request.operation,
    userInfo: { username: user.username ?? '', uid: user.uid ?? '', groups: [...(user.groups ?? [])], extra: { ...user.extra } },
    dryRun: request.dryRun ?? false,
    options: request.options ?? null,
  });
}

const gvk = (k: GroupVersionKind) => ({ group: k.group, version: k.version, kind: k.kind });
const gvr = (r: GroupVersionResource) => ({ group: r.group, version: r.version, resource: r.resource });

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

/**
 * One evaluation of one policy for one binding and param: a fixed activation, with
 * `variables.NAME` computed on first use and at most once.
 */
export class Evaluation {
  readonly activation: Record<string, unknown>;

  constructor(
    readonly context: RequestContext,
    /** A budget per policy evaluation, as kube-apiserver gives each validation run. */
    readonly meter: CostMeter,
    readonly scope: EvaluationScope,
    base: { readonly object: unknown; readonly oldObject: unknown; readonly request: unknown; readonly params: unknown },
    variables: readonly NamedExpression[],
  ) {
    const values: Record<string, unknown> = {};
    this.activation = new Activation(context, base, values) as unknown as Record<string, unknown>;
    for (const variable of variables) {
      let state: { value: unknown } | { error: string } | undefined;
      Object.defineProperty(values, variable.name, {
        enumerable: true,
        get: () => {
          state ??= this.#variable(variable.expression);
          if ('error' in state) throw new CelError('evaluation', state.error);
          return state.value;
        },
      });
    }
  }

  #variable(expression: PolicyExpression): { value: unknown } | { error: string } {
    const result = this.run(expression);
    return result.error === undefined ? { value: result.value } : { error: result.cause };
  }

  /** Runs an expression; reports it to onExpression (outcome: the bool, true for other values, or 'error'). */
  run(expression: PolicyExpression): ExpressionResult {
    const result = this.#evaluate(expression);
    const listener = this.context.onExpression;
    if (listener) {
      const outcome = result.error !== undefined ? 'error' : result.value === false ? false : true;
      listener({ ...this.scope, field: expression.field, file: expression.file, line: expression.line, outcome });
    }
    return result;
  }

  #evaluate(expression: PolicyExpression): ExpressionResult {
    if (!expression.program) {
      const error = `compilation error: ${expression.compileError ?? 'expression did not compile'}`;
      return { error, cause: error, outOfBudget: false };
    }
    const meter = this.meter;
    if (meter.remaining <= 0) return { error: OUT_OF_BUDGET, cause: OUT_OF_BUDGET, outOfBudget: true };
    try {
      return { value: expression.program.evaluate(this.activation, { meter }) };
    } catch (error) {
      const cel = error instanceof CelError ? error : new CelError('evaluation', String(error));
      if (cel.kind === 'cost') {
        if (meter.remaining <= 0) return { error: OUT_OF_BUDGET, cause: OUT_OF_BUDGET, outOfBudget: true };
        // cel-go's message for the per-expression limit.
        const cause = 'operation cancelled: actual cost limit exceeded';
        return { error: `expression '${expression.text}' resulted in error: ${cause}`, cause, outOfBudget: false };
      }
      return { error: `expression '${expression.text}' resulted in error: ${cel.summary}`, cause: cel.summary, outOfBudget: false };
    }
  }
}

/** The CEL variables of one evaluation; the costly ones are read through to the request context on use. */
class Activation {
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly request: unknown;
  readonly params: unknown;

  constructor(
    private readonly context: RequestContext,
    base: { readonly object: unknown; readonly oldObject: unknown; readonly request: unknown; readonly params: unknown },
    readonly variables: Record<string, unknown>,
  ) {
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
