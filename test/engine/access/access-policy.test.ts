/** celgate AccessPolicy: roles, derived roles, bindings, rules, responses; docs/access-policy.md. */
import { compile, decide, allowed, issuesOf, req } from './helpers.js';
import type { AccessExpressionEvent } from '../../../src/engine/access/index.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const ADMIN = 'spiffe://cluster.local/ns/ops/sa/admin';

const shop = `apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: orders, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  roles:
  - name: reader
    permissions:
    - methods: [GET, HEAD]
      paths: ["/orders", "/orders/{*}"]
  - name: writer
    permissions:
    - methods: [POST]
      paths: ["/orders"]
      condition: request.headers['content-type'] == 'application/json'
  - name: owner
    permissions:
    - methods: [DELETE]
      paths: ["/orders/{*}"]
  derivedRoles:
  - name: owner
    parentRoles: [reader]
    condition: request.headers['x-owner'] == source.principal
  bindings:
  - name: frontend
    subjects: [{serviceAccount: shop/frontend}]
    roles: [reader, writer]
    response:
      addHeaders: {x-caller: frontend}
      removeHeaders: [x-internal]
      route: {subset: v2}
  - subjects: [{namespace: ops}]
    roles: [reader]
    condition: request.time.getHours("UTC") >= 0
  rules:
  - name: no-debug
    effect: DENY
    condition: "'x-debug' in request.headers"
    denyResponse: {status: 451, body: "debugging is off", headers: {x-reason: debug}}
  - name: health
    effect: ALLOW
    condition: request.url_path == '/healthz'
  - name: audit-writes
    effect: AUDIT
    condition: request.method != 'GET'
  denyResponse: {status: 404, body: "not found"}
`;

describe('AccessPolicy', () => {
  const p = compile(shop);

  it('bindings grant roles whose permissions allow', () => {
    const d = decide(p, req({ principal: FRONTEND, path: '/orders/7' }));
    expect(d).toMatchObject({
      allowed: true,
      reason: 'allowed by AccessPolicy foo/orders rule frontend role reader permission 0',
      headers: { 'x-caller': 'frontend' },
      headersToRemove: ['x-internal'],
      route: { subset: 'v2' },
    });
    expect(allowed(p, req({ principal: FRONTEND, method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' } }))).toBe(true);
    expect(allowed(p, req({ principal: FRONTEND, method: 'POST', path: '/orders', headers: { 'content-type': 'text/plain' } }))).toBe(false);
    expect(allowed(p, req({ principal: ADMIN, path: '/orders' }))).toBe(true);
  });

  it('denies by default with the policy denyResponse when nothing allows', () => {
    const d = decide(p, req({ principal: 'spiffe://cluster.local/ns/x/sa/y', path: '/orders' }));
    expect(d).toMatchObject({ allowed: false, status: 404, body: 'not found', route: null });
  });

  it('derived roles: parent role held and condition true', () => {
    const del = (owner: string) => req({ principal: FRONTEND, method: 'DELETE', path: '/orders/7', headers: { 'x-owner': owner } });
    expect(decide(p, del('spiffe://cluster.local/ns/shop/sa/frontend'))).toMatchObject({ allowed: true, reason: expect.stringMatching(/derived role owner/) });
    expect(allowed(p, del('someone-else'))).toBe(false);
    // Without the parent role (no binding), the derived role is not granted.
    expect(allowed(p, req({ principal: 'spiffe://cluster.local/ns/x/sa/y', method: 'DELETE', path: '/orders/7', headers: { 'x-owner': 'spiffe://cluster.local/ns/x/sa/y' } }))).toBe(false);
  });

  it('DENY rules override and use their denyResponse; ALLOW rules allow anyone', () => {
    expect(decide(p, req({ principal: FRONTEND, path: '/orders', headers: { 'x-debug': '1' } }))).toMatchObject({
      allowed: false,
      status: 451,
      body: 'debugging is off',
      headers: { 'x-reason': 'debug' },
      reason: 'denied by AccessPolicy foo/orders rule no-debug',
    });
    expect(allowed(p, req({ path: '/healthz' }))).toBe(true);
  });

  it('AUDIT rules mark without deciding', () => {
    expect(decide(p, req({ path: '/healthz', method: 'PUT' }))).toMatchObject({ allowed: true, audit: true });
    expect(decide(p, req({ path: '/nope', method: 'PUT' }))).toMatchObject({ allowed: false, audit: true });
    expect(decide(p, req({ path: '/healthz' }))).toMatchObject({ allowed: true, audit: false });
  });

  it('does not apply to unselected workloads', () => {
    expect(allowed(p, req({ destination: { namespace: 'foo', labels: { app: 'other' } } }))).toBe(true);
  });

  it('subjects: principal, namespace, requestPrincipal, group and "*"', () => {
    const one = (subject: string) =>
      compile(`apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: s, namespace: foo}
spec:
  roles: [{name: any, permissions: [{}]}]
  bindings: [{subjects: [${subject}], roles: [any]}]
`);
    expect(allowed(one('{principal: "spiffe://cluster.local/ns/shop/*"}'), req({ principal: FRONTEND }))).toBe(true);
    expect(allowed(one('{principal: "cluster.local/ns/shop/sa/frontend"}'), req({ principal: FRONTEND }))).toBe(true);
    expect(allowed(one('{principal: "cluster.local/ns/shop/sa/frontend"}'), req({ principal: ADMIN }))).toBe(false);
    expect(allowed(one('{namespace: shop}'), req({ principal: FRONTEND }))).toBe(true);
    expect(allowed(one('{requestPrincipal: "*"}'), req())).toBe(false);
    expect(allowed(one('{group: admins}'), req())).toBe(false);
    expect(allowed(one('"*"'), req())).toBe(true);
  });

  it('CEL sees the Envoy attribute vocabulary', () => {
    const cond = (expr: string) =>
      compile(`apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: c, namespace: foo}
spec:
  rules: [{name: r, condition: ${JSON.stringify(expr)}}]
`);
    const r = req({ path: '/a/./b?x=1&y=two', headers: { 'x-k': 'v' }, principal: FRONTEND, context: { tenant: 't1' }, connection: { mtls: true, requested_server_name: 'sni.example' } });
    for (const expr of [
      "request.path == '/a/b?x=1&y=two'",
      "request.url_path == '/a/b'",
      "request.query.y == 'two'",
      "request.headers['x-k'] == 'v'",
      "request.method == 'GET' && request.host == 'httpbin.foo.svc'",
      'request.time > timestamp("2020-01-01T00:00:00Z")',
      "source.principal == 'spiffe://cluster.local/ns/shop/sa/frontend' && source.namespace == 'shop'",
      "source.address == '10.0.0.7' && source.port == 40000",
      "destination.namespace == 'foo' && destination.labels.app == 'httpbin' && destination.port == 8000",
      "connection.mtls && connection.requested_server_name == 'sni.example'",
      "context.tenant == 't1'",
      "auth.principal == '' && size(auth.claims) == 0",
    ]) {
      expect([expr, allowed(cond(expr), r)]).toEqual([expr, true]);
    }
  });

  it('an evaluation error denies 403 unless failOpen, and reports coverage events', () => {
    const p2 = compile(`apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: e, namespace: foo}
spec:
  rules:
  - name: boom
    effect: DENY
    condition: request.headers['missing'] == 'x'
`);
    const events: AccessExpressionEvent[] = [];
    const d = decide(p2, req(), { onExpression: (e) => events.push(e) });
    expect(d).toMatchObject({ allowed: false, status: 403, reason: expect.stringMatching(/^evaluation error \(failing closed\): foo\/e: policy\.yaml:8:16: .*missing/) });
    expect(events).toEqual([{ policy: 'foo/e', field: 'spec.rules[0].condition', file: 'policy.yaml', line: 8, outcome: 'error' }]);
    expect(decide(p2, req(), { failOpen: true }).allowed).toBe(true);
  });

  it('explains bindings, permissions and rules', () => {
    const d = decide(p, req({ principal: ADMIN, path: '/orders' }), { explain: true });
    expect(d.allowed).toBe(true);
    expect(d.explain).toEqual([
      { policy: 'foo/orders', rule: 'no-debug', check: 'condition', outcome: 'not matched' },
      { policy: 'foo/orders', rule: 'audit-writes', check: 'condition', outcome: 'not matched' },
      { policy: 'foo/orders', rule: 'frontend', check: 'subjects', outcome: 'not matched' },
      { policy: 'foo/orders', rule: 'bindings[1]', check: 'subjects', outcome: 'matched' },
      { policy: 'foo/orders', rule: 'bindings[1]', check: 'condition', outcome: 'matched' },
      { policy: 'foo/orders', rule: 'role reader', check: 'role reader permission 0', outcome: 'matched' },
    ]);
  });

  it('reports mistakes at file:line:col', () => {
    const issues = issuesOf(`apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: bad, namespace: foo}
spec:
  roles:
  - name: r
    permissions: [{paths: ["/a/{x}"], verbs: [GET]}]
  bindings:
  - subjects: [{user: bob}]
    roles: [nope]
  rules:
  - name: x
    effect: PERMIT
    condition: "true"
  - name: y
    condition: "request.method =="
  denyResponse: {status: 200}
`);
    expect(issues).toEqual([
      expect.stringMatching(/^policy\.yaml:7:46: unknown field verbs/),
      expect.stringMatching(/^policy\.yaml:7:28: invalid or unsupported path \/a\/\{x\}/),
      expect.stringMatching(/^policy\.yaml:9:16: a subject is "\*" or one of/),
      expect.stringMatching(/^policy\.yaml:10:13: unknown role nope/),
      expect.stringMatching(/^policy\.yaml:13:13: unknown effect "PERMIT"/),
      expect.stringMatching(/^policy\.yaml:16:\d+: .*\(spec\.rules\[1\]\.condition\)$/),
      expect.stringMatching(/^policy\.yaml:17:26: status must be an HTTP error code/),
    ]);
  });
});

describe('AccessPolicy validation', () => {
  it('derived roles, duplicates, bindings without subjects or roles, rules without conditions', () => {
    const issues = issuesOf(`apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: bad, namespace: foo}
spec:
  roles: [{name: r, permissions: [{}]}, {name: r}]
  derivedRoles: [{name: ghost, condition: "true"}, {name: r}]
  bindings: [{subjects: [], roles: []}]
  rules: [{name: nocond}]
  extra: 1
`);
    expect(issues).toEqual([
      expect.stringMatching(/^policy\.yaml:9:10: unknown field spec\.extra/),
      expect.stringMatching(/^policy\.yaml:5:48: duplicate name r/),
      expect.stringMatching(/^policy\.yaml:6:25: derived role ghost must name a role in spec\.roles/),
      expect.stringMatching(/^policy\.yaml:6:52: derived role r needs a condition or parentRoles/),
      expect.stringMatching(/^policy\.yaml:7:25: a binding needs subjects/),
      expect.stringMatching(/^policy\.yaml:7:14: a binding needs at least one role/),
      expect.stringMatching(/^policy\.yaml:8:11: rule nocond needs a condition/),
    ]);
  });

  it('unknown fields in roles, bindings and rules', () => {
    expect(
      issuesOf(`apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: bad, namespace: foo}
spec:
  roles: [{name: r, permissions: [{}], perms: []}]
  bindings: [{subjects: ["*"], roles: [r], when: "true"}]
  rules: [{name: x, condition: "true", action: DENY}]
`),
    ).toEqual([
      expect.stringMatching(/^policy\.yaml:5:47: unknown field perms; expected name, permissions/),
      expect.stringMatching(/^policy\.yaml:6:50: unknown field when/),
      expect.stringMatching(/^policy\.yaml:7:48: unknown field action/),
    ]);
  });

  it('conditions must be boolean', () => {
    expect(
      issuesOf(`apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: bad, namespace: foo}
spec:
  rules: [{name: n, condition: "1 + 2"}]
`),
    ).toEqual([expect.stringMatching(/^policy\.yaml:5:33: condition must evaluate to bool, not int/)]);
  });
});

describe('AccessPolicy combined with Istio AuthorizationPolicy', () => {
  it('any DENY from either kind wins; ALLOW from either kind satisfies deny-by-default', () => {
    const p = compile(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: foo}
spec: {rules: [{to: [{operation: {methods: [GET]}}]}]}
---
apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: posts, namespace: foo}
spec:
  rules:
  - {name: allow-post, condition: "request.method == 'POST'"}
  - {name: no-delete, effect: DENY, condition: "request.url_path.startsWith('/locked')"}
`);
    expect(allowed(p, req({ method: 'GET' }))).toBe(true);
    expect(allowed(p, req({ method: 'POST' }))).toBe(true);
    expect(allowed(p, req({ method: 'PUT' }))).toBe(false);
    expect(allowed(p, req({ method: 'GET', path: '/locked/1' }))).toBe(false);
  });
});
