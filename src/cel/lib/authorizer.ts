/**
 * Kubernetes' authorizer library (k8s.io/apiserver/pkg/cel/library Authz and
 * AuthzSelectors): from the `authorizer` variable, build a path or resource check,
 * run it with check(verb), and read the Decision. The admission environment declares
 * `authorizer` (type kubernetes.authorization.Authorizer) and binds a value made by
 * `createAuthorizer`; `authorizer.requestResource` exists where that value was given
 * the request's resource.
 */
import type { CelLibrary } from '../library.js';
import { charge } from '../cost.js';
import {
  AUTHORIZER_TYPE,
  Authorizer,
  DECISION_TYPE,
  Decision,
  GROUP_CHECK_TYPE,
  GroupCheck,
  PATH_CHECK_TYPE,
  PathCheck,
  RESOURCE_CHECK_TYPE,
  ResourceCheck,
  requireNonBlank,
  serviceAccountAuthorizer,
  type ResourceCheckField,
} from './authorizer-values.js';

export {
  AUTHORIZER_TYPE,
  DECISION_TYPE,
  GROUP_CHECK_TYPE,
  PATH_CHECK_TYPE,
  RESOURCE_CHECK_TYPE,
  Authorizer,
  createAuthorizer,
  staticDecider,
  type AuthorizationAttributes,
  type AuthorizationDecision,
  type AuthorizationVerdict,
  type Decider,
  type RequestResource,
  type UserInfo,
} from './authorizer-values.js';

/** Kubernetes' cost of turning selector text into requirements (library cost.go). */
function chargeSelector(selector: string): void {
  const length = selector.length;
  charge(10 + Math.ceil(length * 0.1) + Math.ceil(Math.ceil(length * 0.5) * 50));
}

function setter(field: ResourceCheckField) {
  return (check: ResourceCheck, value: string): ResourceCheck => ResourceCheck.with(check, field, value);
}

function selectorSetter(field: 'fieldSelector' | 'labelSelector') {
  return (check: ResourceCheck, selector: string): ResourceCheck => {
    chargeSelector(selector);
    return ResourceCheck.with(check, field, selector);
  };
}

export const authorizerLibrary: CelLibrary = {
  name: 'authorizer',
  register(r) {
    const [A, P, G, R, D] = [AUTHORIZER_TYPE, PATH_CHECK_TYPE, GROUP_CHECK_TYPE, RESOURCE_CHECK_TYPE, DECISION_TYPE];
    r.type(A, Authorizer);
    r.type(P, PathCheck);
    r.type(G, GroupCheck);
    r.type(R, ResourceCheck);
    r.type(D, Decision);

    r.fn(`${A}.path(string): ${P}`, (a: Authorizer, path: string) => new PathCheck(Authorizer.principalOf(a), requireNonBlank(path, 'path')));
    r.fn(`${A}.group(string): ${G}`, (a: Authorizer, group: string) => new GroupCheck(Authorizer.principalOf(a), group));
    r.fn(`${A}.serviceAccount(string, string): ${A}`, serviceAccountAuthorizer);
    r.fn(`${G}.resource(string): ${R}`, (g: GroupCheck, resource: string) => GroupCheck.resource(g, requireNonBlank(resource, 'resource')));
    r.fn(`${R}.subresource(string): ${R}`, setter('subresource'));
    r.fn(`${R}.namespace(string): ${R}`, setter('namespace'));
    r.fn(`${R}.name(string): ${R}`, setter('name'));
    r.fn(`${R}.fieldSelector(string): ${R}`, selectorSetter('fieldSelector'));
    r.fn(`${R}.labelSelector(string): ${R}`, selectorSetter('labelSelector'));
    r.fn(`${P}.check(string): ${D}`, PathCheck.check);
    r.fn(`${R}.check(string): ${D}`, ResourceCheck.check);
    r.fn(`${D}.allowed(): bool`, Decision.allowed);
    r.fn(`${D}.reason(): string`, Decision.reason);
    r.fn(`${D}.errored(): bool`, Decision.errored);
    r.fn(`${D}.error(): string`, Decision.error);
  },
};
