// The bench workload: 50 generated Istio AuthorizationPolicies (RBAC by principal, method and
// path; ABAC by header and namespace conditions) over 10 namespaces, and 2,000 prepared
// requests of which about 77% are allowed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NAMESPACES = 10;
export const REQUESTS = 2000;

/** Five policies per namespace: three ALLOW (RBAC, ABAC, public) , one DENY, one ALLOW for batch jobs. */
export function policyYaml() {
  const docs = [];
  for (let i = 0; i < NAMESPACES; i++) {
    const ns = `ns-${i}`;
    const neighbour = `ns-${(i + 1) % NAMESPACES}`;
    const meta = (name) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\n`;
    docs.push(`${meta('frontend-reads')}spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/${ns}/sa/frontend", "cluster.local/ns/${ns}/sa/web"]}}]
    to: [{operation: {methods: ["GET", "HEAD"], paths: ["/api/v1/items", "/api/v1/items/*"]}}]
`);
    docs.push(`${meta('tenant-orders')}spec:
  action: ALLOW
  rules:
  - from: [{source: {namespaces: ["${neighbour}"]}}]
    to: [{operation: {methods: ["POST"], paths: ["/api/v1/orders*"]}}]
    when:
    - key: request.headers[x-tenant]
      values: ["tenant-${i}", "tenant-shared"]
`);
    docs.push(`${meta('public')}spec:
  action: ALLOW
  rules:
  - to: [{operation: {paths: ["/public/*", "/healthz"], methods: ["GET"]}}]
`);
    docs.push(`${meta('no-admin')}spec:
  action: DENY
  rules:
  - from: [{source: {notPrincipals: ["cluster.local/ns/${ns}/sa/admin"]}}]
    to: [{operation: {paths: ["/admin", "/admin/*"]}}]
`);
    docs.push(`${meta('batch-jobs')}spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/${ns}/sa/batch"]}}]
    to: [{operation: {methods: ["PUT", "DELETE"], paths: ["/api/v1/jobs/*"], hosts: ["jobs.${ns}.svc", "jobs.${ns}.svc:*"]}}]
`);
  }
  return docs.join('---\n');
}

export function writePolicies() {
  const dir = mkdtempSync(join(tmpdir(), 'celgate-bench-authz-'));
  const file = join(dir, 'policies.yaml');
  writeFileSync(file, policyYaml());
  return file;
}

/** A deterministic pseudo-random sequence, so every run decides the same requests. */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** 2,000 AccessRequests: ~77% of the templates allow, the rest are denied. */
export function accessRequests() {
  const random = rng(7);
  const out = [];
  const spiffe = (ns, sa) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
  for (let n = 0; n < REQUESTS; n++) {
    const i = Math.floor(random() * NAMESPACES);
    const ns = `ns-${i}`;
    const neighbour = `ns-${(i + 1) % NAMESPACES}`;
    const pick = random();
    const id = String(n).padStart(5, '0');
    const headers = { 'x-request-id': `bench-${id}`, 'user-agent': 'bench/1.0', accept: 'application/json' };
    let source = {};
    let method = 'GET';
    let path;
    let host = `api.${ns}.svc`;
    if (pick < 0.35) {
      source = { principal: spiffe(ns, 'frontend') };
      path = `/api/v1/items/${n % 97}?view=full`;
    } else if (pick < 0.52) {
      source = { principal: spiffe(neighbour, 'checkout') };
      method = 'POST';
      path = '/api/v1/orders';
      headers['x-tenant'] = n % 2 ? `tenant-${i}` : 'tenant-shared';
    } else if (pick < 0.67) {
      path = `/public/assets/${n % 13}.css`;
    } else if (pick < 0.77) {
      source = { principal: spiffe(ns, 'batch') };
      method = n % 2 ? 'PUT' : 'DELETE';
      path = `/api/v1/jobs/${n}`;
      host = `jobs.${ns}.svc`;
    } else if (pick < 0.83) {
      path = '/api/v1/items'; // anonymous: no ALLOW rule matches
    } else if (pick < 0.89) {
      source = { principal: spiffe(ns, 'frontend') };
      path = '/admin/users'; // DENY
    } else if (pick < 0.95) {
      source = { principal: spiffe(neighbour, 'checkout') };
      method = 'POST';
      path = '/api/v1/orders';
      headers['x-tenant'] = 'tenant-other'; // ABAC condition fails
    } else {
      source = { principal: spiffe(ns, 'frontend') };
      method = 'DELETE';
      path = '/api/v1/items/3';
    }
    out.push({
      source: { ...source, address: `10.${i}.0.${(n % 250) + 1}` },
      destination: { namespace: ns, principal: spiffe(ns, 'api') },
      request: { method, path, host, scheme: 'http', protocol: 'HTTP/1.1', headers },
    });
  }
  return out;
}
