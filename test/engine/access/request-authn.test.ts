/**
 * RequestAuthentication with real tokens (signed with jose) and a real JWKS served over
 * loopback HTTP. Istio docs (request_authentication): "If a request contains invalid
 * authentication information, it will be rejected. A request that does not contain any
 * authentication credentials will be accepted but will not have any authenticated identity."
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { decideAccess, type AccessDecision } from '../../../src/engine/access/index.js';
import { compile, issuesOf, req } from './helpers.js';

const ISSUER = 'https://issuer.example';
let privateKey: CryptoKey;
let otherKey: CryptoKey;
let jwk: JWK;
let server: Server;
let jwksUri: string;
let jwksHits = 0;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((request, response) => {
    jwksHits++;
    if (request.url === '/slow') return; // never answers: the fetch must time out
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function token(claims: Record<string, unknown>, options: { key?: CryptoKey; exp?: string; iss?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(options.iss ?? ISSUER)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime(options.exp ?? '5m')
    .sign(options.key ?? privateKey);
}

const policies = (jwtRule: string, extra = '') =>
  compile(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules:
  - issuer: ${ISSUER}
${jwtRule}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: foo}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["${ISSUER}/*"]}}]
    ${extra}
`);

async function decided(p: ReturnType<typeof compile>, headers: Record<string, string>, path = '/'): Promise<AccessDecision> {
  return await decideAccess(p, req({ headers, path }));
}

describe('RequestAuthentication', () => {
  it('verifies against jwksUri fetched over HTTP, and caches the key set', async () => {
    const p = policies(`    jwksUri: ${jwksUri}`);
    const t = await token({ aud: 'shop', azp: 'web', groups: ['admins'] });
    const before = jwksHits;
    const d = await decided(p, { authorization: `Bearer ${t}` });
    expect(d).toMatchObject({ allowed: true, auth: { principal: `${ISSUER}/alice`, audiences: ['shop'], presenter: 'web' } });
    // forwardOriginalToken defaults to false: the token header is removed upstream.
    expect(d.headersToRemove).toEqual(['authorization']);
    await decided(p, { authorization: `Bearer ${t}` });
    expect(jwksHits - before).toBe(1);
  });

  it('a token verified before is accepted synchronously (Envoy caches verified JWTs too)', async () => {
    const p = policies(`    jwksUri: ${jwksUri}`);
    const t = await token({});
    const first = decideAccess(p, req({ headers: { authorization: `Bearer ${t}` } }));
    expect(first).toBeInstanceOf(Promise);
    expect((await first).allowed).toBe(true);
    const second = decideAccess(p, req({ headers: { authorization: `Bearer ${t}` } }));
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toMatchObject({ allowed: true, auth: { principal: `${ISSUER}/alice` }, headersToRemove: ['authorization'] });
    // A token that failed is never cached: it fails again, asynchronously.
    const bad = await token({}, { key: otherKey });
    expect((await decideAccess(p, req({ headers: { authorization: `Bearer ${bad}` } }))).status).toBe(401);
    expect(decideAccess(p, req({ headers: { authorization: `Bearer ${bad}` } }))).toBeInstanceOf(Promise);
  });

  it('no token: no request principal, so requestPrincipals fails (403, not 401); no Promise', () => {
    const p = policies(`    jwksUri: ${jwksUri}`);
    const d = decideAccess(p, req());
    expect(d).not.toBeInstanceOf(Promise);
    expect(d).toMatchObject({ allowed: false, status: 403 });
  });

  it('invalid tokens are rejected with 401: bad signature, expired, unknown issuer, garbage', async () => {
    const p = policies(`    jwksUri: ${jwksUri}`);
    for (const t of [
      await token({}, { key: otherKey }),
      await token({}, { exp: '-1m' }),
      await token({}, { iss: 'https://elsewhere' }),
      'not-a-jwt',
    ]) {
      const d = await decided(p, { authorization: `Bearer ${t}` });
      expect(d).toMatchObject({ allowed: false, status: 401, headers: { 'www-authenticate': expect.stringMatching(/^Bearer/) } });
    }
  });

  it('audiences must include one of the configured ones', async () => {
    const p = policies(`    jwks: '${JSON.stringify({ keys: [jwk] })}'\n    audiences: [shop, orders]`);
    expect((await decided(p, { authorization: `Bearer ${await token({ aud: 'orders' })}` })).allowed).toBe(true);
    expect((await decided(p, { authorization: `Bearer ${await token({ aud: 'other' })}` })).status).toBe(401);
  });

  it('fromHeaders with prefix, fromParams and fromCookies', async () => {
    const inline = `    jwks: '${JSON.stringify({ keys: [jwk] })}'`;
    const t = await token({});
    const headers = policies(`${inline}\n    fromHeaders: [{name: x-jwt-assertion, prefix: "Token "}]`);
    expect((await decided(headers, { 'x-jwt-assertion': `Token ${t}` })).allowed).toBe(true);
    // An explicit location replaces the defaults: the Authorization header is not read.
    expect((await decided(headers, { authorization: `Bearer ${t}` })).status).toBe(403);
    const params = policies(`${inline}\n    fromParams: [my_token]`);
    expect((await decided(params, {}, `/x?my_token=${t}`)).allowed).toBe(true);
    const cookies = policies(`${inline}\n    fromCookies: [session]`);
    expect((await decided(cookies, { cookie: `a=b; session=${t}` })).allowed).toBe(true);
    // Default locations: Authorization: Bearer and ?access_token=.
    expect((await decided(policies(inline), {}, `/x?access_token=${t}`)).allowed).toBe(true);
  });

  it('outputPayloadToHeader, outputClaimToHeaders, forwardOriginalToken', async () => {
    const p = policies(`    jwks: '${JSON.stringify({ keys: [jwk] })}'
    outputPayloadToHeader: x-jwt-payload
    forwardOriginalToken: true
    outputClaimToHeaders: [{header: x-tenant, claim: tenant}]`);
    const t = await token({ tenant: 'acme' });
    const d = await decided(p, { authorization: `Bearer ${t}` });
    expect(d.headers['x-tenant']).toBe('acme');
    expect(JSON.parse(Buffer.from(d.headers['x-jwt-payload']!, 'base64url').toString())).toMatchObject({ iss: ISSUER, sub: 'alice', tenant: 'acme' });
    expect(d.headersToRemove).toEqual([]);
  });

  // Istio conditions: request.auth.claims "supports both string typed and list-of-string
  // typed JWT claims"; nested claims with request.auth.claims[a][b]; `scope` is split on spaces.
  it('claims in when conditions: lists, nested, scope splitting', async () => {
    const inline = `    jwks: '${JSON.stringify({ keys: [jwk] })}'`;
    const p = (key: string, value: string) => policies(inline, `when: [{key: "${key}", values: ["${value}"]}]`);
    const t = await token({ groups: ['dev', 'admins'], realm: { roles: ['ops'] }, scope: 'read write', custom: 'a b', aud: ['shop', 'web'], azp: 'spa' });
    const bearer = { authorization: `Bearer ${t}` };
    expect((await decided(p('request.auth.audiences', 'web'), bearer)).allowed).toBe(true);
    expect((await decided(p('request.auth.audiences', 'other'), bearer)).allowed).toBe(false);
    expect((await decided(p('request.auth.presenter', 'spa'), bearer)).allowed).toBe(true);
    expect((await decided(p('request.auth.claims[groups]', 'admins'), bearer)).allowed).toBe(true);
    expect((await decided(p('request.auth.claims[realm][roles]', 'ops'), bearer)).allowed).toBe(true);
    expect((await decided(p('request.auth.claims[scope]', 'write'), bearer)).allowed).toBe(true);
    expect((await decided(p('request.auth.claims[custom]', 'b'), bearer)).allowed).toBe(false);
    const split = policies(`${inline}\n    spaceDelimitedClaims: [custom]`, `when: [{key: "request.auth.claims[custom]", values: ["b"]}]`);
    expect((await decided(split, bearer)).allowed).toBe(true);
    expect((await decided(p('request.auth.principal', `${ISSUER}/alice`), bearer)).allowed).toBe(true);
  });

  it('AccessPolicy group subjects and CEL auth.* see the verified token', async () => {
    const p = compile(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules: [{issuer: "${ISSUER}", jwks: '${JSON.stringify({ keys: [jwk] })}'}]
---
apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: admins, namespace: foo}
spec:
  roles: [{name: admin, permissions: [{paths: ["/admin/*"]}]}, {name: self, permissions: [{paths: ["/users/*"]}]}]
  bindings: [{subjects: [{group: admins}], roles: [admin]}]
  derivedRoles:
  - {name: self, condition: "request.url_path == '/users/' + auth.claims.sub && auth.principal.startsWith('${ISSUER}/')"}
`);
    const admin = await token({ groups: ['admins'] });
    const user = await token({ groups: ['users'] });
    expect((await decided(p, { authorization: `Bearer ${admin}` }, '/admin/x')).allowed).toBe(true);
    expect((await decided(p, { authorization: `Bearer ${user}` }, '/admin/x')).allowed).toBe(false);
    expect((await decided(p, { authorization: `Bearer ${user}` }, '/users/alice')).allowed).toBe(true);
    expect((await decided(p, { authorization: `Bearer ${user}` }, '/users/bob')).allowed).toBe(false);
  });

  it('an unreachable jwksUri times out into a 401, not a hang', async () => {
    const slow = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`;
    const p = compile(
      `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules: [{issuer: "${ISSUER}", jwksUri: "${slow}"}]
`,
      { jwksTimeoutMs: 200 },
    );
    const started = Date.now();
    const d = await decided(p, { authorization: `Bearer ${await token({})}` });
    expect(d).toMatchObject({ allowed: false, status: 401, reason: expect.stringMatching(/Jwt verification fails/) });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports configuration mistakes', () => {
    const doc = (rule: string) => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules:
  - ${rule}
`;
    expect(issuesOf(doc('{jwksUri: "https://x/jwks"}'))).toEqual([expect.stringMatching(/^policy\.yaml:6:5: issuer must be set/)]);
    expect(issuesOf(doc('{issuer: a, jwks: "{not json"}'))).toEqual([expect.stringMatching(/jwks is not a JSON Web Key Set/)]);
    expect(issuesOf(doc('{issuer: a, jwksUri: "ftp://x"}'))).toEqual([expect.stringMatching(/is not an http\(s\) URL/)]);
    expect(issuesOf(doc('{issuer: a}'))).toEqual([expect.stringMatching(/OpenID discovery from the issuer is not supported yet/)]);
  });
});
