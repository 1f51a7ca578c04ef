/**
 * The values of Kubernetes' authorizer library and the attributes they hand to a
 * decider. `createAuthorizer` builds the `authorizer` value for an activation;
 * `staticDecider` is the offline default (a fixed allow or deny).
 *
 * The decider is a plain synchronous function: the CEL evaluator is synchronous, so
 * the decision must be known when `check()` returns. A decider backed by Kubernetes
 * SubjectAccessReviews has to fetch (or cache) its answers before evaluation starts.
 */
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';

export type AuthorizationVerdict = 'allow' | 'deny' | 'noOpinion';

export interface AuthorizationDecision {
  readonly decision: AuthorizationVerdict;
  readonly reason?: string;
  /** Set when the authorizer failed to decide; `errored()` is then true. */
  readonly error?: string;
}

/** The requesting user, as AdmissionReview's `request.userInfo` gives it. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** What Kubernetes' authorizer receives for one check (its AttributesRecord). */
export interface AuthorizationAttributes {
  readonly user: string;
  readonly uid: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
  readonly verb: string;
  /** True for resource checks, false for non-resource `path` checks. */
  readonly resourceRequest: boolean;
  readonly path: string;
  readonly apiGroup: string;
  /** "*" for resource checks, as Kubernetes sends; empty for path checks. */
  readonly apiVersion: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  /** Raw selector text; empty when not set. */
  readonly fieldSelector: string;
  readonly labelSelector: string;
}

/** Synchronous by contract (see the module comment). */
export type Decider = (attributes: AuthorizationAttributes) => AuthorizationDecision;

/** The resource of the admission request, for `authorizer.requestResource`. */
export interface RequestResource {
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

export const AUTHORIZER_TYPE = 'kubernetes.authorization.Authorizer';
export const PATH_CHECK_TYPE = 'kubernetes.authorization.PathCheck';
export const GROUP_CHECK_TYPE = 'kubernetes.authorization.GroupCheck';
export const RESOURCE_CHECK_TYPE = 'kubernetes.authorization.ResourceCheck';
export const DECISION_TYPE = 'kubernetes.authorization.Decision';

/** Kubernetes' fixed cost per check: it allows two checks per expression. */
const CHECK_COST = 350_000;

interface Principal {
  readonly decide: Decider;
  readonly user: string;
  readonly uid: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

interface ResourceCheckState {
  readonly principal: Principal;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  readonly fieldSelector: string;
  readonly labelSelector: string;
}

// The value classes keep their state in private fields, so CEL field access on them
// finds nothing (Kubernetes exposes no fields either); library functions reach the
// state through the static accessors.

export class Authorizer {
  readonly #principal: Principal;
  /** Present only where the admission request provides it (`authorizer.requestResource`). */
  declare readonly requestResource?: ResourceCheck;

  constructor(principal: Principal, requestResource?: ResourceCheck) {
    this.#principal = principal;
    if (requestResource) Object.defineProperty(this, 'requestResource', { value: requestResource, enumerable: true });
  }

  static principalOf(authorizer: Authorizer): Principal {
    return authorizer.#principal;
  }

  get celTypeName(): string {
    return AUTHORIZER_TYPE;
  }
}

export class PathCheck {
  readonly #principal: Principal;
  readonly #path: string;

  constructor(principal: Principal, path: string) {
    this.#principal = principal;
    this.#path = path;
  }

  static check(pathCheck: PathCheck, verb: string): Decision {
    return decide(pathCheck.#principal, { ...NO_RESOURCE, verb, path: pathCheck.#path });
  }

  get celTypeName(): string {
    return PATH_CHECK_TYPE;
  }
}

export class GroupCheck {
  readonly #principal: Principal;
  readonly #group: string;

  constructor(principal: Principal, group: string) {
    this.#principal = principal;
    this.#group = group;
  }

  static resource(groupCheck: GroupCheck, resource: string): ResourceCheck {
    return new ResourceCheck({ ...EMPTY_RESOURCE_CHECK, principal: groupCheck.#principal, group: groupCheck.#group, resource });
  }

  get celTypeName(): string {
    return GROUP_CHECK_TYPE;
  }
}

export type ResourceCheckField = 'subresource' | 'namespace' | 'name' | 'fieldSelector' | 'labelSelector';

export class ResourceCheck {
  readonly #state: ResourceCheckState;

  constructor(state: ResourceCheckState) {
    this.#state = state;
  }

  /** A copy with one field set; "" means unset, as in Kubernetes. */
  static with(check: ResourceCheck, field: ResourceCheckField, value: string): ResourceCheck {
    return new ResourceCheck({ ...check.#state, [field]: value });
  }

  static check(check: ResourceCheck, verb: string): Decision {
    const { principal, group, ...resource } = check.#state;
    return decide(principal, { ...resource, verb, resourceRequest: true, path: '', apiGroup: group, apiVersion: '*' });
  }

  get celTypeName(): string {
    return RESOURCE_CHECK_TYPE;
  }
}

export class Decision {
  readonly #outcome: Required<Omit<AuthorizationDecision, 'error'>> & { readonly error?: string };

  constructor(outcome: AuthorizationDecision) {
    this.#outcome = { decision: outcome.decision, reason: outcome.reason ?? '', error: outcome.error };
  }

  /** True only for "allow": "noOpinion" is not permission. */
  static allowed(decision: Decision): boolean {
    return decision.#outcome.decision === 'allow';
  }

  static reason(decision: Decision): string {
    return decision.#outcome.reason;
  }

  static errored(decision: Decision): boolean {
    return decision.#outcome.error !== undefined;
  }

  static error(decision: Decision): string {
    return decision.#outcome.error ?? '';
  }

  get celTypeName(): string {
    return DECISION_TYPE;
  }
}

const NO_RESOURCE = {
  resourceRequest: false,
  apiGroup: '',
  apiVersion: '',
  resource: '',
  subresource: '',
  namespace: '',
  name: '',
  fieldSelector: '',
  labelSelector: '',
} as const;

const EMPTY_RESOURCE_CHECK = { subresource: '', namespace: '', name: '', fieldSelector: '', labelSelector: '' } as const;

const VERDICTS: ReadonlySet<string> = new Set<AuthorizationVerdict>(['allow', 'deny', 'noOpinion']);

type CheckAttributes = Omit<AuthorizationAttributes, 'user' | 'uid' | 'groups' | 'extra'>;

/** Asks the decider; a decider that throws or answers nonsense yields an errored decision. */
function decide(principal: Principal, check: CheckAttributes): Decision {
  charge(CHECK_COST);
  const { decide: decider, ...user } = principal;
  let outcome: AuthorizationDecision;
  try {
    outcome = decider({ ...user, ...check });
  } catch (error) {
    return new Decision({ decision: 'noOpinion', error: error instanceof Error ? error.message : String(error) });
  }
  if (!outcome || !VERDICTS.has(outcome.decision)) {
    return new Decision({ decision: 'noOpinion', error: `authorizer returned an invalid decision: ${JSON.stringify(outcome?.decision)}` });
  }
  return new Decision(outcome);
}

function principalOf(decide: Decider, user: UserInfo): Principal {
  return { decide, user: user.username, uid: user.uid ?? '', groups: [...(user.groups ?? [])], extra: { ...user.extra } };
}

/** The `authorizer` value for an activation: checks run as `user` and are answered by `decide`. */
export function createAuthorizer(decide: Decider, user: UserInfo, options: { readonly requestResource?: RequestResource } = {}): Authorizer {
  const principal = principalOf(decide, user);
  const request = options.requestResource;
  if (!request) return new Authorizer(principal);
  // Kubernetes builds authorizer.requestResource from the request's group, resource,
  // subresource, namespace and name (NewResourceAuthorizerVal).
  let check = GroupCheck.resource(new GroupCheck(principal, request.group), request.resource);
  for (const field of ['subresource', 'namespace', 'name'] as const) check = ResourceCheck.with(check, field, request[field] ?? '');
  return new Authorizer(principal, check);
}

/** The offline decider: every check gets the same answer. */
export function staticDecider(options: { readonly allow: boolean; readonly reason?: string }): Decider {
  const outcome: AuthorizationDecision = { decision: options.allow ? 'allow' : 'deny', reason: options.reason ?? '' };
  return () => outcome;
}

// Kubernetes validates service account names as DNS-1123 subdomains and their
// namespaces as DNS-1123 labels (apimachinery's ValidateServiceAccountName / ValidateNamespaceName).
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const isDns1123Label = (text: string): boolean => text.length <= 63 && DNS1123_LABEL.test(text);
const isDns1123Subdomain = (text: string): boolean => text.length <= 253 && DNS1123_SUBDOMAIN.test(text);

/** `authorizer.serviceAccount(namespace, name)`: the same decider, acting as that service account. */
export function serviceAccountAuthorizer(authorizer: Authorizer, namespace: string, name: string): Authorizer {
  if (!isDns1123Subdomain(name)) throw new CelFunctionError('Invalid service account name');
  if (!isDns1123Label(namespace)) throw new CelFunctionError('Invalid service account namespace');
  const { decide } = Authorizer.principalOf(authorizer);
  return new Authorizer({
    decide,
    user: `system:serviceaccount:${namespace}:${name}`,
    uid: '',
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
    extra: {},
  });
}

// Go's strings.TrimSpace trims Unicode White_Space; JavaScript's trim() differs on U+0085 and U+FEFF.
const GO_SPACE_ONLY = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

/** Kubernetes rejects paths and resources that are empty once whitespace is trimmed. */
export function requireNonBlank(text: string, what: 'path' | 'resource'): string {
  if (GO_SPACE_ONLY.test(text)) throw new CelFunctionError(`${what} must not be empty`);
  return text;
}
