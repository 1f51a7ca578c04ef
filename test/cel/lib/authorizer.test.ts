// Kubernetes authorizer library. Expected values come from, and cite:
// - [lib]  the godoc of k8s.io/apiserver/pkg/cel/library Authz and AuthzSelectors (authz.go),
//          including the attributes each check sends (pathCheckVal / resourceCheckVal.Authorize);
// - [docs] "Common Expression Language in Kubernetes", Kubernetes authorizer library;
// - [cost] k8s.io/apiserver/pkg/cel/library cost.go: "check" costs 350000, "set to allow for
//          only two authorization checks per expression" (per-call limit 1,000,000).
import { CelEnvironment, CelError } from '../../../src/cel/index.js';
import {
  AUTHORIZER_TYPE,
  createAuthorizer,
  staticDecider,
  type AuthorizationAttributes,
  type AuthorizationDecision,
  type Decider,
} from '../../../src/cel/lib/authorizer.js';

const env = new CelEnvironment({ variables: { authorizer: AUTHORIZER_TYPE } });
const alice = { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { team: ['a'] } };

/** A decider that records what it was asked and answers `answer`. */
function recording(answer: AuthorizationDecision = { decision: 'allow', reason: 'ok' }) {
  const asked: AuthorizationAttributes[] = [];
  const decide: Decider = (attributes) => {
    asked.push(attributes);
    return answer;
  };
  return { asked, decide };
}

function run(expr: string, decide: Decider = staticDecider({ allow: true }), options = {}) {
  return env.compile(expr).evaluate({ authorizer: createAuthorizer(decide, alice, options) });
}

function runError(expr: string, decide: Decider = staticDecider({ allow: true })): CelError {
  try {
    run(expr, decide);
  } catch (error) {
    return error as CelError;
  }
  throw new Error(`expected ${expr} to fail`);
}

const NO_RESOURCE = {
  path: '',
  resourceRequest: false,
  apiGroup: '',
  apiVersion: '',
  resource: '',
  subresource: '',
  namespace: '',
  name: '',
  fieldSelector: '',
  labelSelector: '',
};

describe('path checks', () => {
  it("sends the path, the verb and the user [lib] [docs]: authorizer.path('/healthz').check('get')", () => {
    const { asked, decide } = recording();
    expect(run("authorizer.path('/healthz').check('get').allowed()", decide)).toBe(true);
    expect(asked).toEqual([
      { ...NO_RESOURCE, user: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { team: ['a'] }, verb: 'get', path: '/healthz' },
    ]);
  });

  it('refuses an empty or blank path [lib]', () => {
    expect(runError("authorizer.path('').check('get')").message).toMatch(/path must not be empty/);
    expect(runError("authorizer.path('  ').check('get')").message).toMatch(/path must not be empty/);
    expect(run("authorizer.path('healthz').check('get').allowed()")).toBe(true); // the leading '/' is not required
  });
});

describe('resource checks', () => {
  it('sends group, resource, namespace, name and verb [lib] [docs]', () => {
    const { asked, decide } = recording();
    run("authorizer.group('apps').resource('deployments').namespace('test').name('backend').check('update').allowed()", decide);
    expect(asked[0]).toEqual({
      ...NO_RESOURCE,
      user: 'alice',
      uid: 'u-1',
      groups: ['dev', 'system:authenticated'],
      extra: { team: ['a'] },
      verb: 'update',
      resourceRequest: true,
      apiGroup: 'apps',
      apiVersion: '*',
      resource: 'deployments',
      namespace: 'test',
      name: 'backend',
    });
  });

  it("checks the core group and subresources [lib]: group('').resource('pods').subresource('status')", () => {
    const { asked, decide } = recording();
    run("authorizer.group('').resource('pods').subresource('status').namespace('default').check('patch').allowed()", decide);
    expect(asked[0]).toMatchObject({ apiGroup: '', resource: 'pods', subresource: 'status', namespace: 'default', name: '', verb: 'patch' });
  });

  it('treats "" as unset for subresource, namespace and name [lib]', () => {
    const { asked, decide } = recording();
    run("authorizer.group('example.com').resource('widgets').subresource('scale').subresource('').namespace('').name('').check('get').allowed()", decide);
    expect(asked[0]).toMatchObject({ apiGroup: 'example.com', resource: 'widgets', subresource: '', namespace: '', name: '' });
  });

  it('builders return new checks and leave the original unchanged', () => {
    const { asked, decide } = recording();
    run(
      "[authorizer.group('apps').resource('deployments')].all(r, r.namespace('a').check('get').allowed() && r.check('list').allowed())",
      decide,
    );
    expect(asked.map((a) => [a.verb, a.namespace])).toEqual([
      ['get', 'a'],
      ['list', ''],
    ]);
  });

  it('refuses an empty or blank resource [lib]', () => {
    expect(runError("authorizer.group('apps').resource('').check('get')").message).toMatch(/resource must not be empty/);
    expect(runError("authorizer.group('apps').resource('  ').check('get')").message).toMatch(/resource must not be empty/);
  });

  it('passes field and label selectors [lib]: fieldSelector / labelSelector (Kubernetes 1.31+)', () => {
    const { asked, decide } = recording();
    run("authorizer.group('').resource('pods').fieldSelector('spec.nodeName=mynode').check('list').allowed()", decide);
    run("authorizer.group('').resource('pods').labelSelector('app=example').check('list').allowed()", decide);
    expect(asked[0]).toMatchObject({ fieldSelector: 'spec.nodeName=mynode', labelSelector: '' });
    expect(asked[1]).toMatchObject({ fieldSelector: '', labelSelector: 'app=example' });
  });
});

describe('service accounts', () => {
  it("checks as the service account [lib]: authorizer.serviceAccount('default', 'myserviceaccount')", () => {
    const { asked, decide } = recording();
    run("authorizer.serviceAccount('default', 'myserviceaccount').group('').resource('pods').check('list').allowed()", decide);
    expect(asked[0]).toMatchObject({
      user: 'system:serviceaccount:default:myserviceaccount',
      uid: '',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:default'],
      extra: {},
    });
  });

  it('validates the name (DNS subdomain) and namespace (DNS label) [lib]', () => {
    expect(runError("authorizer.serviceAccount('not@a#valid!namespace', 'validname')").message).toMatch(
      /Invalid service account namespace/,
    );
    expect(runError("authorizer.serviceAccount('valid.example.com', 'invalid@*name')").message).toMatch(
      /Invalid service account name/,
    );
    expect(runError("authorizer.serviceAccount('valid.example.com', 'ok')").message).toMatch(/Invalid service account namespace/);
    expect(runError("authorizer.serviceAccount('default', '')").message).toMatch(/Invalid service account name/);
    expect(run("authorizer.serviceAccount('kube-system', 'my.controller').path('/metrics').check('get').allowed()")).toBe(true);
  });
});

describe('decisions', () => {
  it('allowed() is true only for allow [lib]', () => {
    const expr = "authorizer.group('').resource('pods').check('create').allowed()";
    expect(run(expr, () => ({ decision: 'allow' }))).toBe(true);
    expect(run(expr, () => ({ decision: 'deny' }))).toBe(false);
    expect(run(expr, () => ({ decision: 'noOpinion' }))).toBe(false);
  });

  it('reason(), errored() and error() [lib]', () => {
    const denied = () => ({ decision: 'deny' as const, reason: 'no RBAC policy matched' });
    expect(run("authorizer.path('/healthz').check('GET').reason()", denied)).toBe('no RBAC policy matched');
    expect(run("authorizer.path('/healthz').check('GET').errored()", denied)).toBe(false);
    expect(run("authorizer.path('/healthz').check('GET').error()", denied)).toBe('');

    const failing = () => ({ decision: 'noOpinion' as const, error: 'webhook unavailable' });
    expect(run("authorizer.group('').resource('pods').namespace('default').check('create').errored()", failing)).toBe(true);
    expect(run("authorizer.group('').resource('pods').namespace('default').check('create').error()", failing)).toBe('webhook unavailable');
    expect(run("authorizer.group('').resource('pods').check('create').allowed()", failing)).toBe(false);
  });

  it('turns a throwing or malformed decider into an errored decision, never a crash', () => {
    const throwing = () => {
      throw new Error('connection refused');
    };
    expect(run("authorizer.path('/x').check('get').error()", throwing)).toBe('connection refused');
    expect(run("authorizer.path('/x').check('get').allowed()", throwing)).toBe(false);
    const malformed = (() => ({ decision: 'maybe' })) as unknown as Decider;
    expect(run("authorizer.path('/x').check('get').errored()", malformed)).toBe(true);
  });

  it('staticDecider answers every check the same way', () => {
    expect(run("authorizer.path('/x').check('get').allowed()", staticDecider({ allow: true }))).toBe(true);
    expect(run("authorizer.path('/x').check('get').allowed()", staticDecider({ allow: false, reason: 'offline' }))).toBe(false);
    expect(run("authorizer.path('/x').check('get').reason()", staticDecider({ allow: false, reason: 'offline' }))).toBe('offline');
  });
});

describe('authorizer.requestResource', () => {
  it('is the resource check of the admission request [lib] NewResourceAuthorizerVal', () => {
    const { asked, decide } = recording();
    const requestResource = { group: 'apps', resource: 'deployments', subresource: 'scale', namespace: 'prod', name: 'web' };
    expect(run("authorizer.requestResource.check('update').allowed()", decide, { requestResource })).toBe(true);
    expect(asked[0]).toMatchObject({ resourceRequest: true, apiGroup: 'apps', resource: 'deployments', subresource: 'scale', namespace: 'prod', name: 'web', verb: 'update' });
    run("authorizer.requestResource.subresource('').check('get').allowed()", decide, { requestResource });
    expect(asked[1]).toMatchObject({ subresource: '', name: 'web', verb: 'get' });
  });

  it('is absent when the context does not provide it', () => {
    expect(runError("authorizer.requestResource.check('get').allowed()").message).toMatch(/requestResource/);
  });
});

describe('cost', () => {
  it('allows two checks per expression and stops the third [cost]', () => {
    const two = "authorizer.path('/a').check('get').allowed() && authorizer.path('/b').check('get').allowed()";
    expect(run(two)).toBe(true);
    expect(() => run(`${two} && authorizer.path('/c').check('get').allowed()`)).toThrow(/cost budget exceeded/);
  });
});

describe('typing', () => {
  it('rejects wrong argument types at compile time', () => {
    expect(() => env.compile('authorizer.path(1)')).toThrow(/no matching overload/);
    expect(() => env.compile("authorizer.check('get')")).toThrow(/no matching overload/);
    expect(() => env.compile("authorizer.group('').check('get')")).toThrow(/no matching overload/);
    expect(() => env.compile("authorizer.path('/x').namespace('a')")).toThrow(/no matching overload/);
  });

  it('exposes no fields on its values', () => {
    expect(runError("authorizer.path('/x').check('get').decision").kind).toBe('evaluation');
  });
});
