/**
 * Istio AuthorizationPolicy semantics. Quotes are from the Istio reference pages
 * https://istio.io/latest/docs/reference/config/security/authorization-policy/ (AP) and
 * https://istio.io/latest/docs/reference/config/security/conditions/ (COND).
 */
import { compile, decide, allowed, issuesOf, req } from './helpers.js';

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';

describe('Istio AuthorizationPolicy: actions and combining', () => {
  it('allows everything when no policy applies', () => {
    const p = compile('');
    const d = decide(p, req());
    expect(d).toMatchObject({ allowed: true, status: 200, reason: expect.stringMatching(/no ALLOW policy applies/) });
  });

  // AP: "If there are no ALLOW policies for the workload, allow the request. If any of the
  // ALLOW policies match the request, allow the request. Deny the request."
  const allowGet = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: foo}
spec:
  action: ALLOW
  rules:
  - to:
    - operation:
        methods: ["GET"]
        paths: ["/info*"]
`;
  it('an ALLOW policy switches the workload to deny-by-default', () => {
    const p = compile(allowGet);
    expect(decide(p, req({ path: '/info/x' }))).toMatchObject({ allowed: true, reason: 'allowed by AuthorizationPolicy foo/allow-get rule 0' });
    const d = decide(p, req({ path: '/data' }));
    expect(d).toMatchObject({ allowed: false, status: 403, reason: expect.stringMatching(/no ALLOW rule matched \(foo\/allow-get\)/) });
    expect(decide(p, req({ method: 'POST', path: '/info' })).allowed).toBe(false);
  });

  it('does not apply to other namespaces or unselected workloads', () => {
    const p = compile(allowGet.replace('namespace: foo}', 'namespace: foo}\n') + '');
    expect(allowed(p, req({ path: '/data', destination: { namespace: 'bar', labels: { app: 'httpbin' } } }))).toBe(true);
    const selected = compile(allowGet.replace('action: ALLOW', 'selector: {matchLabels: {app: other}}\n  action: ALLOW'));
    expect(allowed(selected, req({ path: '/data' }))).toBe(true);
    expect(allowed(selected, req({ path: '/data', destination: { namespace: 'foo', labels: { app: 'other', v: '1' } } }))).toBe(false);
  });

  // AP: "If there are any DENY policies that match the request, deny the request."
  it('DENY overrides ALLOW', () => {
    const p = compile(`${allowGet}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/info/admin*"]}}]
`);
    expect(allowed(p, req({ path: '/info/x' }))).toBe(true);
    const d = decide(p, req({ path: '/info/admin/1' }));
    expect(d).toMatchObject({ allowed: false, status: 403, reason: 'denied by AuthorizationPolicy foo/deny-admin rule 0' });
    expect(d.matched).toEqual([{ policy: 'foo/deny-admin', kind: 'AuthorizationPolicy', action: 'DENY', rule: '0' }]);
  });

  it('a DENY policy alone does not switch to deny-by-default', () => {
    const p = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-post, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [POST]}}]}]
`);
    expect(allowed(p, req({ method: 'GET' }))).toBe(true);
    expect(allowed(p, req({ method: 'POST' }))).toBe(false);
  });

  // AP: "spec: {}" (allow-nothing): "The following example shows an ALLOW policy that matches
  // nothing ... applies to all workloads in the namespace and denies all requests".
  it('spec: {} as an ALLOW policy denies everything; rules: [{}] allows everything', () => {
    const nothing = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: foo}
spec: {}
`);
    expect(allowed(nothing, req())).toBe(false);
    const all = compile(`${''}
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: foo}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: foo}
spec:
  rules: [{}]
`);
    expect(allowed(all, req({ method: 'DELETE', path: '/anything' }))).toBe(true);
    // AP: deny-all: "action: DENY ... rules: [{}]" denies every request.
    const denyAll = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: foo}
spec: {action: DENY, rules: [{}]}
`);
    expect(allowed(denyAll, req())).toBe(false);
  });

  // AP: "a policy in the root namespace applies to all workloads in the mesh".
  it('policies in the root namespace are mesh-wide (configurable root)', () => {
    const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-delete, namespace: istio-system}
spec: {action: DENY, rules: [{to: [{operation: {methods: [DELETE]}}]}]}
`;
    const p = compile(yaml);
    expect(allowed(p, req({ method: 'DELETE', destination: { namespace: 'anything' } }))).toBe(false);
    const custom = compile(yaml, { rootNamespace: 'mesh-root' });
    expect(allowed(custom, req({ method: 'DELETE', destination: { namespace: 'anything' } }))).toBe(true);
  });

  // AP selector: a policy in the root namespace with a selector applies to the selected
  // workloads in every namespace.
  it('a root-namespace policy with a selector selects workloads mesh-wide', () => {
    const p = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-db-delete, namespace: istio-system}
spec: {selector: {matchLabels: {app: db}}, action: DENY, rules: [{to: [{operation: {methods: [DELETE]}}]}]}
`);
    expect(allowed(p, req({ method: 'DELETE', destination: { namespace: 'a', labels: { app: 'db' } } }))).toBe(false);
    expect(allowed(p, req({ method: 'DELETE', destination: { namespace: 'b', labels: { app: 'web' } } }))).toBe(true);
  });

  // AP: "AUDIT policies do not affect whether requests are allowed or denied".
  it('AUDIT marks but never decides', () => {
    const p = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-all, namespace: foo}
spec: {action: AUDIT, rules: [{to: [{operation: {paths: ["/secret*"]}}]}]}
`);
    expect(decide(p, req({ path: '/secret/1' }))).toMatchObject({ allowed: true, audit: true, matched: [{ action: 'AUDIT', policy: 'foo/audit-all' }] });
    expect(decide(p, req({ path: '/public' }))).toMatchObject({ allowed: true, audit: false, matched: [] });
  });

  it('CUSTOM is recorded as matched with a load warning, and does not decide', () => {
    const p = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: foo}
spec: {action: CUSTOM, provider: {name: celgate}, rules: [{to: [{operation: {paths: ["/ext*"]}}]}]}
`);
    expect(p.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/CUSTOM action \(provider celgate\): celgate records the match but does not delegate/)]);
    expect(decide(p, req({ path: '/ext/1' }))).toMatchObject({ allowed: true, matched: [{ action: 'CUSTOM', policy: 'foo/ext' }] });
  });
});

describe('Istio AuthorizationPolicy: from.source', () => {
  const policy = (source: string) =>
    compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec:
  rules:
  - from:
    - source: ${source}
`);

  // AP: principals: "A list of peer identities derived from the peer certificate ... in the
  // format of <TRUST_DOMAIN>/ns/<NAMESPACE>/sa/<SERVICE_ACCOUNT>" (no spiffe:// prefix).
  it('principals match without spiffe://, with prefix/suffix/presence patterns', () => {
    expect(allowed(policy('{principals: ["cluster.local/ns/default/sa/sleep"]}'), req({ principal: SLEEP }))).toBe(true);
    expect(allowed(policy('{principals: ["cluster.local/ns/default/sa/sleep"]}'), req({ principal: 'spiffe://cluster.local/ns/default/sa/other' }))).toBe(false);
    expect(allowed(policy('{principals: ["cluster.local/ns/default/*"]}'), req({ principal: SLEEP }))).toBe(true);
    expect(allowed(policy('{principals: ["*/sa/sleep"]}'), req({ principal: SLEEP }))).toBe(true);
    // "*" means any authenticated peer: a plaintext request has no principal.
    expect(allowed(policy('{principals: ["*"]}'), req({ principal: SLEEP }))).toBe(true);
    expect(allowed(policy('{principals: ["*"]}'), req())).toBe(false);
    expect(allowed(policy('{notPrincipals: ["*/sa/sleep"]}'), req({ principal: SLEEP }))).toBe(false);
    expect(allowed(policy('{notPrincipals: ["*/sa/sleep"]}'), req({ principal: 'spiffe://cluster.local/ns/x/sa/y' }))).toBe(true);
  });

  it('namespaces / notNamespaces come from the peer identity', () => {
    expect(allowed(policy('{namespaces: ["default"]}'), req({ principal: SLEEP }))).toBe(true);
    expect(allowed(policy('{namespaces: ["prod*"]}'), req({ principal: SLEEP }))).toBe(false);
    expect(allowed(policy('{notNamespaces: ["default"]}'), req({ principal: SLEEP }))).toBe(false);
    expect(allowed(policy('{namespaces: ["default"]}'), req())).toBe(false);
  });

  it('serviceAccounts use ns/sa and cannot be combined with principals', () => {
    expect(allowed(policy('{serviceAccounts: ["default/sleep"]}'), req({ principal: SLEEP }))).toBe(true);
    expect(allowed(policy('{serviceAccounts: ["default/sleepy"]}'), req({ principal: SLEEP }))).toBe(false);
    expect(allowed(policy('{notServiceAccounts: ["default/sleep"]}'), req({ principal: SLEEP }))).toBe(false);
    expect(
      issuesOf(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec:
  rules:
  - from:
    - source: {principals: [a], serviceAccounts: [default/sleep]}
`),
    ).toEqual([expect.stringMatching(/^policy\.yaml:8:50: cannot set serviceAccounts with principals/)]);
  });

  it('ipBlocks match the source address; remoteIpBlocks the X-Forwarded-For client', () => {
    expect(allowed(policy('{ipBlocks: ["10.0.0.0/16"]}'), req({ address: '10.0.3.4' }))).toBe(true);
    expect(allowed(policy('{ipBlocks: ["10.0.0.0/16"]}'), req({ address: '10.1.3.4' }))).toBe(false);
    expect(allowed(policy('{ipBlocks: ["10.1.3.4"]}'), req({ address: '10.1.3.4' }))).toBe(true);
    expect(allowed(policy('{notIpBlocks: ["10.0.0.0/8"]}'), req({ address: '10.1.3.4' }))).toBe(false);
    expect(allowed(policy('{ipBlocks: ["2001:db8::/32"]}'), req({ address: '2001:db8::1' }))).toBe(true);
    // COND remote.ip: "Original client IP address as determined by X-Forwarded-For header".
    const remote = policy('{remoteIpBlocks: ["203.0.113.0/24"]}');
    expect(allowed(remote, req({ headers: { 'x-forwarded-for': '203.0.113.9' } }))).toBe(true);
    expect(allowed(remote, req({ headers: { 'x-forwarded-for': '198.51.100.1' } }))).toBe(false);
    expect(allowed(remote, req({ address: '203.0.113.5' }))).toBe(true);
    expect(allowed(policy('{notRemoteIpBlocks: ["203.0.113.0/24"]}'), req({ headers: { 'x-forwarded-for': '203.0.113.9' } }))).toBe(false);
  });

  it('requestPrincipals "*" fails without a verified JWT', () => {
    expect(allowed(policy('{requestPrincipals: ["*"]}'), req())).toBe(false);
    expect(allowed(policy('{notRequestPrincipals: ["*"]}'), req())).toBe(true);
  });

  it('several sources are ORed, fields within one source are ANDed', () => {
    const p = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec:
  rules:
  - from:
    - source: {namespaces: [default], ipBlocks: [10.0.0.0/24]}
    - source: {namespaces: [test]}
`);
    expect(allowed(p, req({ principal: SLEEP, address: '10.0.0.9' }))).toBe(true);
    expect(allowed(p, req({ principal: SLEEP, address: '10.9.0.9' }))).toBe(false);
    expect(allowed(p, req({ principal: 'spiffe://cluster.local/ns/test/sa/x', address: '10.9.0.9' }))).toBe(true);
  });
});

describe('Istio AuthorizationPolicy: to.operation', () => {
  const policy = (operation: string) =>
    compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec:
  rules:
  - to:
    - operation: ${operation}
`);

  // AP: hosts: "A list of hosts as specified in the HTTP request. The match is case-insensitive."
  it('hosts are case-insensitive, with wildcards and an optional port', () => {
    expect(allowed(policy('{hosts: ["Example.COM"]}'), req({ host: 'example.com' }))).toBe(true);
    expect(allowed(policy('{hosts: ["*.example.com"]}'), req({ host: 'API.example.com:8080' }))).toBe(true);
    expect(allowed(policy('{hosts: ["*.example.com"]}'), req({ host: 'example.org' }))).toBe(false);
    expect(allowed(policy('{notHosts: ["admin.*"]}'), req({ host: 'admin.example.com' }))).toBe(false);
  });

  it('ports, methods and their negations', () => {
    expect(allowed(policy('{ports: ["8000"]}'), req())).toBe(true);
    expect(allowed(policy('{ports: [9000]}'), req())).toBe(false);
    expect(allowed(policy('{notPorts: ["8000"]}'), req())).toBe(false);
    expect(allowed(policy('{methods: [GET, HEAD]}'), req({ method: 'HEAD' }))).toBe(true);
    expect(allowed(policy('{notMethods: [GET]}'), req({ method: 'GET' }))).toBe(false);
  });

  // AP: paths: "exact match, prefix match, suffix match and presence match" plus `{*}` (one
  // segment) and `{**}` (zero or more segments, must be the last operator).
  it('paths: exact, prefix, suffix, presence and templates', () => {
    expect(allowed(policy('{paths: ["/info"]}'), req({ path: '/info' }))).toBe(true);
    expect(allowed(policy('{paths: ["/info"]}'), req({ path: '/info/' }))).toBe(false);
    expect(allowed(policy('{paths: ["/info"]}'), req({ path: '/info?x=1' }))).toBe(true);
    expect(allowed(policy('{paths: ["/api/*"]}'), req({ path: '/api/v1/users' }))).toBe(true);
    expect(allowed(policy('{paths: ["*.png"]}'), req({ path: '/img/a.png' }))).toBe(true);
    expect(allowed(policy('{paths: ["*"]}'), req({ path: '/x' }))).toBe(true);
    expect(allowed(policy('{paths: ["/users/{*}/profile"]}'), req({ path: '/users/42/profile' }))).toBe(true);
    expect(allowed(policy('{paths: ["/users/{*}/profile"]}'), req({ path: '/users/4/2/profile' }))).toBe(false);
    expect(allowed(policy('{paths: ["/files/{**}"]}'), req({ path: '/files/a/b/c.txt' }))).toBe(true);
    expect(allowed(policy('{paths: ["/files/{**}.txt"]}'), req({ path: '/files/a/b/c.pdf' }))).toBe(false);
    expect(allowed(policy('{notPaths: ["/admin*"]}'), req({ path: '/admin/x' }))).toBe(false);
  });

  it('paths are matched after normalisation (dot segments, encoded unreserved, backslashes)', () => {
    const p = policy('{notPaths: ["/admin*"]}');
    expect(allowed(p, req({ path: '/public/../admin/x' }))).toBe(false);
    expect(allowed(p, req({ path: '/%61dmin/x' }))).toBe(false);
    expect(allowed(p, req({ path: '\\admin' }))).toBe(false);
    // BASE keeps //, so a pattern on /admin does not see //admin ...
    expect(allowed(p, req({ path: '//admin' }))).toBe(true);
    // ... while MERGE_SLASHES merges it.
    const merged = compile(
      `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec: {rules: [{to: [{operation: {notPaths: ["/admin*"]}}]}]}
`,
      { pathNormalization: 'MERGE_SLASHES' },
    );
    expect(allowed(merged, req({ path: '//admin' }))).toBe(false);
  });

  // Istio normalization: DECODE_AND_MERGE_SLASHES: "/a%2fb is normalized to /a/b".
  it('DECODE_AND_MERGE_SLASHES closes the encoded-slash bypass (CVE-2021-31920)', () => {
    const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec: {action: DENY, rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]}
`;
    expect(allowed(compile(yaml), req({ path: '/admin%2Fsecret' }))).toBe(true);
    expect(allowed(compile(yaml, { pathNormalization: 'DECODE_AND_MERGE_SLASHES' }), req({ path: '/admin%2Fsecret' }))).toBe(false);
  });

  it('xffNumTrustedHops picks the trusted X-Forwarded-For entry for remoteIpBlocks', () => {
    const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec: {rules: [{from: [{source: {remoteIpBlocks: ["203.0.113.7"]}}]}]}
`;
    const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2' };
    expect(allowed(compile(yaml), req({ headers }))).toBe(false);
    expect(allowed(compile(yaml, { xffNumTrustedHops: 1 }), req({ headers }))).toBe(true);
  });

  it('a request with %00 in the path is rejected with 400', () => {
    const d = decide(policy('{paths: ["*"]}'), req({ path: '/a%00b' }));
    expect(d).toMatchObject({ allowed: false, status: 400 });
  });
});

describe('Istio AuthorizationPolicy: when conditions', () => {
  const policy = (key: string, values: string) =>
    compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec:
  rules:
  - when:
    - key: ${key}
      ${values}
`);

  // COND request.headers: "The header name is surrounded by [] without any quotes".
  it('request.headers[Name] (name case-insensitive)', () => {
    const p = policy('request.headers[User-Agent]', 'values: ["Mozilla/*"]');
    expect(allowed(p, req({ headers: { 'user-agent': 'Mozilla/5.0' } }))).toBe(true);
    expect(allowed(p, req({ headers: { 'user-agent': 'curl/8' } }))).toBe(false);
    expect(allowed(p, req())).toBe(false);
    // A header named like an object property is just an absent header.
    expect(allowed(policy('request.headers[constructor]', 'values: ["x*"]'), req())).toBe(false);
    const not = policy('request.headers[x-debug]', 'notValues: ["*"]');
    expect(allowed(not, req())).toBe(true);
    expect(allowed(not, req({ headers: { 'x-debug': '1' } }))).toBe(false);
  });

  it('source.ip, remote.ip, source.namespace, source.principal', () => {
    expect(allowed(policy('source.ip', 'values: ["10.0.0.0/24"]'), req({ address: '10.0.0.5' }))).toBe(true);
    expect(allowed(policy('source.ip', 'notValues: ["10.0.0.0/24"]'), req({ address: '10.0.0.5' }))).toBe(false);
    expect(allowed(policy('remote.ip', 'values: ["1.2.3.4"]'), req({ headers: { 'x-forwarded-for': '1.2.3.4' } }))).toBe(true);
    expect(allowed(policy('source.namespace', 'values: ["default"]'), req({ principal: SLEEP }))).toBe(true);
    expect(allowed(policy('source.principal', 'values: ["cluster.local/ns/default/sa/sleep"]'), req({ principal: SLEEP }))).toBe(true);
  });

  it('destination.ip, destination.port, connection.sni', () => {
    expect(allowed(policy('destination.ip', 'values: ["10.0.1.0/24"]'), req())).toBe(true);
    expect(allowed(policy('destination.port', 'values: ["8000"]'), req())).toBe(true);
    expect(allowed(policy('destination.port', 'values: ["9000"]'), req())).toBe(false);
    expect(allowed(policy('connection.sni', 'values: ["*.foo.svc"]'), req({ connection: { requested_server_name: 'httpbin.foo.svc' } }))).toBe(true);
  });

  it('request.auth.* fail without a verified JWT', () => {
    expect(allowed(policy('request.auth.principal', 'values: ["*"]'), req())).toBe(false);
    expect(allowed(policy('request.auth.claims[groups]', 'values: ["admin"]'), req())).toBe(false);
    expect(allowed(policy('request.auth.claims[groups]', 'notValues: ["admin"]'), req())).toBe(true);
  });
});

describe('Istio AuthorizationPolicy: validation', () => {
  const wrap = (rules: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: foo}
spec:
  rules:
${rules}`;

  it('reports Istio validation errors at file:line:col', () => {
    expect(issuesOf(wrap('  - when: [{key: request.weird, values: [x]}]'))).toEqual(['policy.yaml:6:18: unknown attribute (request.weird) (spec.rules[0].when[0].key)']);
    expect(issuesOf(wrap('  - when: [{key: source.ip}]'))).toEqual([expect.stringMatching(/^policy\.yaml:6:12: at least one of values or notValues must be set for key source\.ip/)]);
    expect(issuesOf(wrap('  - when: [{key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: [x]}]'))).toEqual([expect.stringMatching(/experimental key .* is not supported/)]);
    expect(issuesOf(wrap('  - to: [{operation: {paths: ["/a/{**}/b/{*}"]}}]'))).toEqual([expect.stringMatching(/^policy\.yaml:6:31: invalid or unsupported path \/a\/\{\*\*\}\/b\/\{\*\}, \{\*\*\} is not the last operator/)]);
    expect(issuesOf(wrap('  - to: [{operation: {paths: ["/a/{name}"]}}]'))).toEqual([expect.stringMatching(/found invalid operator \{name\}/)]);
    expect(issuesOf(wrap('  - from: [{source: {ipBlocks: ["10.0.0.0/33"]}}]'))).toEqual([expect.stringMatching(/invalid prefix length/)]);
    expect(issuesOf(wrap('  - to: [{operation: {ports: ["http"]}}]'))).toEqual([expect.stringMatching(/invalid port "http"/)]);
    expect(issuesOf(wrap('  - from: []'))).toEqual([expect.stringMatching(/`from` must not be empty/)]);
    expect(issuesOf(wrap('  - to: [{operation: {}}]'))).toEqual([expect.stringMatching(/`to.operation` must not be empty/)]);
    expect(issuesOf(wrap('  - to: [{operation: {pathz: [/]}}]'))).toEqual([expect.stringMatching(/unknown field pathz/)]);
  });

  it('reports action/provider mistakes', () => {
    const doc = (spec: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: foo}
spec: ${spec}`;
    expect(issuesOf(doc('{actions: DENY}'))).toEqual([expect.stringMatching(/unknown field actions; expected selector/)]);
    expect(issuesOf(doc('{rules: [{form: []}]}'))).toEqual([expect.stringMatching(/unknown field form; a rule has from, to and when/)]);
    expect(issuesOf(doc('{action: PERMIT}'))).toEqual([expect.stringMatching(/unknown action "PERMIT"/)]);
    expect(issuesOf(doc('{action: CUSTOM}'))).toEqual([expect.stringMatching(/CUSTOM action without `provider`/)]);
    expect(issuesOf(doc('{action: DENY, provider: {name: x}}'))).toEqual([expect.stringMatching(/`provider` must only be set with the CUSTOM action/)]);
    expect(issuesOf(doc('{selector: {matchLabels: {a: b}}, targetRefs: [{kind: Service, name: s}]}'))).toEqual([expect.stringMatching(/only one of targetRefs or workloadSelector can be set/)]);
    expect(issuesOf(doc('{targetRefs: [{kind: Service, name: s, namespace: other}]}'))).toEqual([expect.stringMatching(/cross-namespace references are not supported/)]);
    expect(issuesOf(doc('{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]}'))).toEqual([expect.stringMatching(/targetRef kind gateway.networking.k8s.io\/Gateway is not supported yet/)]);
  });

  it('targetRefs of kind Service match destination.service', () => {
    const p = compile(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: foo}
spec:
  targetRefs: [{kind: Service, group: "", name: httpbin}]
  action: DENY
  rules: [{}]
`);
    expect(allowed(p, req({ destination: { namespace: 'foo', service: 'httpbin' } }))).toBe(false);
    expect(allowed(p, req({ destination: { namespace: 'foo', service: 'other' } }))).toBe(true);
  });
});

describe('explain', () => {
  it('records a step per policy, rule and check', () => {
    const p = compile(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: foo}
spec:
  rules:
  - to: [{operation: {methods: [POST]}}]
  - from: [{source: {ipBlocks: [10.0.0.0/8]}}]
    to: [{operation: {methods: [GET]}}]
`);
    const d = decide(p, req(), { explain: true });
    expect(d.allowed).toBe(true);
    expect(d.explain).toEqual([
      { policy: 'foo/p', rule: '0', check: 'to', outcome: 'not matched' },
      { policy: 'foo/p', rule: '1', check: 'from', outcome: 'matched' },
      { policy: 'foo/p', rule: '1', check: 'to', outcome: 'matched' },
    ]);
    expect(decide(p, req()).explain).toBeUndefined();
  });

  it('uses request.id, then x-request-id, then a generated id', () => {
    const p = compile('');
    expect(decide(p, { request: { id: 'r1', method: 'GET', path: '/' } }).id).toBe('r1');
    expect(decide(p, { request: { method: 'GET', path: '/', headers: { 'x-request-id': 'r2' } } }).id).toBe('r2');
    expect(decide(p, { request: { method: 'GET', path: '/' } }).id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
