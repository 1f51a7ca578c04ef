/** Policies and request cases shared by the ext_authz server tests and the `celgate check` parity test. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { compileAccessPolicies, type AccessPolicies } from '../../src/engine/access/index.js';
import type { AccessRequest } from '../../src/engine/access/types.js';
import { formatIssue, loadResources, type PolicyIssue } from '../../src/policy/index.js';

export const ISSUER = 'https://issuer.celgate.test';
export const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
export const BACKEND = 'spiffe://cluster.local/ns/shop/sa/backend';
export const ANALYST = 'spiffe://cluster.local/ns/shop/sa/analyst';

export interface Fixture {
  readonly dir: string;
  readonly policyFile: string;
  readonly policies: AccessPolicies;
  readonly signingKey: CryptoKey;
  sign(claims: Record<string, unknown>): Promise<string>;
}

export function policyYaml(jwks: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: frontend-reads, namespace: shop}
spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/api/*"]}}]
  - to: [{operation: {paths: ["/public/*"]}}]
  - from: [{source: {requestPrincipals: ["${ISSUER}/*"]}}]
    to: [{operation: {paths: ["/me"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  jwtRules:
  - issuer: ${ISSUER}
    jwks: '${jwks}'
    outputPayloadToHeader: x-jwt-payload
---
apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: reports, namespace: shop}
spec:
  roles:
  - name: analyst
    permissions:
    - methods: [GET]
      paths: ["/reports/*"]
      condition: "'x-team' in request.headers && request.headers['x-team'] == 'finance'"
  bindings:
  - name: analysts
    subjects: [{serviceAccount: shop/analyst}]
    roles: [analyst]
    response:
      addHeaders: {x-celgate-role: analyst}
      route: {subset: v2}
  rules:
  - name: embargo
    effect: DENY
    condition: "'x-region' in request.headers && request.headers['x-region'] == 'embargoed'"
    denyResponse: {status: 451, body: "unavailable in your region", headers: {x-celgate-reason: embargo}}
`;
}

export async function makeFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'celgate-authz-'));
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const policyFile = join(dir, 'policies.yaml');
  await writeFile(policyFile, policyYaml(JSON.stringify({ keys: [jwk] })));
  const { resources, issues } = await loadResources([policyFile]);
  const problems: PolicyIssue[] = [...issues];
  const policies = compileAccessPolicies(resources, problems);
  if (problems.length > 0) throw new Error(problems.map(formatIssue).join('\n'));
  return {
    dir,
    policyFile,
    policies,
    signingKey: privateKey,
    sign: (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setSubject('alice')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey),
  };
}

export interface Case {
  readonly name: string;
  readonly request: AccessRequest;
  readonly allowed: boolean;
  readonly status: number;
}

/** The same cases every face must decide alike. Destination: the shop namespace. */
export async function cases(fixture: Fixture): Promise<Case[]> {
  const token = await fixture.sign({ scope: 'read' });
  const dest = { namespace: 'shop', principal: BACKEND };
  const req = (method: string, path: string, headers: Record<string, string> = {}) => ({ method, path, host: 'shop.test', headers: { 'x-request-id': '', ...headers } });
  const list: Array<[string, AccessRequest, boolean, number]> = [
    ['public page, anonymous', { destination: dest, request: req('GET', '/public/index.html') }, true, 200],
    ['api read by frontend', { destination: dest, source: { principal: FRONTEND }, request: req('GET', '/api/items?page=2') }, true, 200],
    ['api read, anonymous', { destination: dest, request: req('GET', '/api/items') }, false, 403],
    ['api write by frontend', { destination: dest, source: { principal: FRONTEND }, request: req('POST', '/api/items') }, false, 403],
    ['admin by frontend (DENY wins)', { destination: dest, source: { principal: FRONTEND }, request: req('GET', '/admin/users') }, false, 403],
    ['me with a valid JWT', { destination: dest, request: req('GET', '/me', { authorization: `Bearer ${token}` }) }, true, 200],
    ['me with a forged JWT', { destination: dest, request: req('GET', '/me', { authorization: `Bearer ${token.slice(0, -4)}AAAA` }) }, false, 401],
    ['me without a JWT', { destination: dest, request: req('GET', '/me') }, false, 403],
    ['reports by an analyst (AccessPolicy role + CEL condition)', { destination: dest, source: { principal: ANALYST }, request: req('GET', '/reports/daily', { 'x-team': 'finance' }) }, true, 200],
    ['reports by an analyst of another team', { destination: dest, source: { principal: ANALYST }, request: req('GET', '/reports/daily', { 'x-team': 'sales' }) }, false, 403],
    ['embargoed region (AccessPolicy DENY with denyResponse)', { destination: dest, source: { principal: FRONTEND }, request: req('GET', '/api/items', { 'x-region': 'embargoed' }) }, false, 451],
  ];
  return list.map(([name, request, allowed, status], i) => ({
    name,
    allowed,
    status,
    request: { ...request, request: { ...request.request, headers: { ...request.request.headers, 'x-request-id': `case-${i + 1}` } } },
  }));
}
