/** The ext_authz HTTP server on 127.0.0.1, called with undici as Envoy's http_service would. */
import { Writable } from 'node:stream';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startAuthzHttpServer, type AuthzServer } from '../../src/authz/index.js';
import { compileAccessPolicies } from '../../src/engine/access/index.js';
import { loadResources } from '../../src/policy/index.js';
import { makeTestCerts } from './certs.js';
import { ANALYST, BACKEND, cases, FRONTEND, makeFixture, type Case, type Fixture } from './fixture.js';

class Lines extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(JSON.parse(line));
    done();
  }
}

/** A case as Envoy would forward it: the principal arrives in x-forwarded-client-cert. */
function forwardedHeaders(c: Case): Record<string, string> {
  const headers: Record<string, string> = { ...c.request.request.headers, host: c.request.request.host ?? 'shop.test' };
  if (c.request.source?.principal) headers['x-forwarded-client-cert'] = `By=${BACKEND};Hash=ab;URI=${c.request.source.principal}`;
  return headers;
}

describe('ext_authz HTTP server', () => {
  let fixture: Fixture;
  let server: AuthzServer;
  let log: Lines;
  let base: string;

  beforeAll(async () => {
    fixture = await makeFixture();
    log = new Lines();
    server = await startAuthzHttpServer({
      policies: fixture.policies,
      pathPrefix: '/check',
      trustForwardedClientCert: true,
      destination: { namespace: 'shop' },
      bodyLimit: 1024,
      decisionLog: { destination: log, redactHeaders: ['X-Api-Key'] },
    });
    base = `http://${server.address}`;
  });
  afterAll(async () => {
    await server.close();
  });

  it('decides every shared case with Envoy http_service semantics (only 200 allows)', async () => {
    for (const c of await cases(fixture)) {
      const response = await request(`${base}/check${c.request.request.path}`, { method: c.request.request.method as 'GET', headers: forwardedHeaders(c) });
      const body = await response.body.text();
      expect({ name: c.name, status: response.statusCode }).toEqual({ name: c.name, status: c.status });
      // Every answer carries the decision id: the request's x-request-id when it has one.
      expect(response.headers['x-celgate-decision-id']).toBe(c.request.request.headers!['x-request-id']);
      if (!c.allowed) expect(body).not.toBe('');
    }
  });

  it('passes headers upstream on allow and tells Envoy which to remove', async () => {
    const token = await fixture.sign({ scope: 'read' });
    const response = await request(`${base}/check/me`, { headers: { authorization: `Bearer ${token}` } });
    await response.body.text();
    expect(response.statusCode).toBe(200);
    // Istio RequestAuthentication: outputPayloadToHeader carries the base64url payload;
    // forwardOriginalToken defaults to false, so the Authorization header is removed.
    expect(response.headers['x-jwt-payload']).toBe(token.split('.')[1]);
    expect(response.headers['x-envoy-auth-headers-to-remove']).toBe('authorization');
  });

  it('adds an AccessPolicy binding\'s headers on allow and sends its denyResponse on deny', async () => {
    const xfcc = { 'x-forwarded-client-cert': `URI=${ANALYST}` };
    const allowed = await request(`${base}/check/reports/q3`, { headers: { ...xfcc, 'x-team': 'finance' } });
    await allowed.body.text();
    expect(allowed.statusCode).toBe(200);
    expect(allowed.headers['x-celgate-role']).toBe('analyst');
    const denied = await request(`${base}/check/reports/q3`, { headers: { ...xfcc, 'x-team': 'finance', 'x-region': 'embargoed' } });
    expect(denied.statusCode).toBe(451);
    expect(denied.headers['x-celgate-reason']).toBe('embargo');
    expect(await denied.body.text()).toBe('unavailable in your region');
  });

  it('answers an invalid JWT with 401 and www-authenticate', async () => {
    const response = await request(`${base}/check/me`, { headers: { authorization: 'Bearer not.a.jwt' } });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(await response.body.text()).not.toBe('');
  });

  it('generates a decision id when the request has no x-request-id', async () => {
    const response = await request(`${base}/check/public/a`);
    await response.body.text();
    expect(response.headers['x-celgate-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('hands the path to the engine as received, so dot-segments cannot sneak past a DENY', async () => {
    // Istio docs (authorization-policy, "paths"): paths are normalised before matching;
    // celgate's HTTP server must not decide on its own view of the URL.
    const xfcc = { 'x-forwarded-client-cert': `URI=${FRONTEND}` };
    for (const path of ['/public/../admin/users', '/public/%2e%2e/admin/users', '//admin/users']) {
      const response = await request(`${base}/check${path}`, { headers: xfcc });
      await response.body.text();
      expect({ path, status: response.statusCode }).toEqual({ path, status: 403 });
    }
    const bad = await request(`${base}/check/public/%zz`);
    await bad.body.text();
    expect(bad.statusCode).toBeGreaterThanOrEqual(400);
    expect(bad.statusCode).toBeLessThan(500);
  });

  it('denies paths outside the prefix instead of guessing', async () => {
    const response = await request(`${base}/checkout/public/a`);
    expect(response.statusCode).toBe(403);
    expect(await response.body.text()).toMatch(/outside the ext_authz prefix \/check/);
  });

  it('rejects an oversized body with a clear 413 and keeps serving', async () => {
    const response = await request(`${base}/check/public/upload`, { method: 'POST', body: 'x'.repeat(4096), headers: { 'content-type': 'application/octet-stream' } });
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(await response.body.text())).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    const next = await request(`${base}/check/public/a`, { method: 'POST', body: '{"small": true}', headers: { 'content-type': 'application/json' } });
    await next.body.text();
    expect(next.statusCode).toBe(200);
  });

  it('logs one redacted JSON line per decision', async () => {
    const before = log.lines.length;
    const response = await request(`${base}/check/api/items`, {
      headers: { authorization: 'Basic c2VjcmV0', cookie: 'session=s3cret', 'x-api-key': 'k-123', 'x-request-id': 'log-1', 'x-forwarded-client-cert': `URI=${FRONTEND}` },
    });
    await response.body.text();
    // pino writes asynchronously: wait for the line rather than for a fixed time.
    const findLine = () => log.lines.slice(before).find((l) => l['id'] === 'log-1');
    for (let i = 0; i < 100 && !findLine(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const line = findLine()!;
    expect(line).toBeDefined();
    const attributes = line['attributes'] as { request: { headers: Record<string, string>; path: string }; source: { principal: string } };
    expect(attributes.request.headers['authorization']).toBe('[REDACTED]');
    expect(attributes.request.headers['cookie']).toBe('[REDACTED]');
    expect(attributes.request.headers['x-api-key']).toBe('[REDACTED]');
    expect(JSON.stringify(line)).not.toMatch(/s3cret|c2VjcmV0|k-123/);
    expect(attributes.request.path).toBe('/api/items');
    expect(attributes.source.principal).toBe(FRONTEND);
    expect(line).toMatchObject({ decision: { allowed: true, status: 200 }, policy: 'shop/frontend-reads', rule: expect.any(String) });
    expect(typeof line['latencyMs']).toBe('number');
  });

  it('serves Prometheus metrics outside the check prefix', async () => {
    const response = await request(`${base}/metrics`);
    const text = await response.body.text();
    expect(response.statusCode).toBe(200);
    expect(text).toMatch(/celgate_authz_checks_total\{decision="allow",policy="shop\/frontend-reads",face="http"\} \d+/);
    expect(text).toMatch(/celgate_authz_checks_total\{decision="deny",policy="shop\/no-admin",face="http"\} \d+/);
    expect(text).toMatch(/celgate_authz_jwt_failures_total\{face="http"\} [1-9]/);
    expect(text).toMatch(/celgate_authz_check_duration_seconds_bucket/);
  });

  it('swaps the policy set with setPolicies', async () => {
    const file = join(fixture.dir, 'open.yaml');
    await writeFile(file, 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: all, namespace: shop}\nspec:\n  rules: [{}]\n');
    const { resources } = await loadResources([file]);
    server.setPolicies(compileAccessPolicies(resources, []));
    const response = await request(`${base}/check/api/items`);
    await response.body.text();
    expect(response.statusCode).toBe(200);
    server.setPolicies(fixture.policies);
    const again = await request(`${base}/check/api/items`);
    await again.body.text();
    expect(again.statusCode).toBe(403);
  });
});

describe('ext_authz HTTP server without a prefix', () => {
  it('does not answer /metrics with 200, which Envoy would read as allow', async () => {
    const fixture = await makeFixture();
    const server = await startAuthzHttpServer({ policies: fixture.policies, destination: { namespace: 'shop' }, decisionLog: false });
    try {
      expect(server.metricsServed).toBe(false);
      const response = await request(`http://${server.address}/metrics`);
      await response.body.text();
      expect(response.statusCode).toBe(403);
      const allowed = await request(`http://${server.address}/public/x`);
      await allowed.body.text();
      expect(allowed.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('ext_authz HTTP server over mutual TLS', () => {
  it('takes source.principal from the verified client certificate, not from x-forwarded-client-cert', async () => {
    const fixture = await makeFixture();
    const certs = makeTestCerts(FRONTEND);
    const server = await startAuthzHttpServer({
      policies: fixture.policies,
      destination: { namespace: 'shop' },
      trustForwardedClientCert: true,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
      decisionLog: false,
    });
    const withCert = new Agent({ connect: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
    const withoutCert = new Agent({ connect: { ca: certs.ca } });
    try {
      const ok = await request(`https://${server.address}/api/items`, {
        dispatcher: withCert,
        headers: { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/evil/sa/x' },
      });
      await ok.body.text();
      expect(ok.statusCode).toBe(200);
      // rejectUnauthorized: a client without a certificate cannot even connect.
      await expect(request(`https://${server.address}/api/items`, { dispatcher: withoutCert }).then((r) => r.body.text())).rejects.toThrow();
    } finally {
      await withCert.close();
      await withoutCert.close();
      await server.close();
    }
  });
});

describe('PeerAuthentication STRICT behind a proxy', () => {
  it('counts a trusted x-forwarded-client-cert with a URI as mutual TLS, and its absence as plaintext', async () => {
    // Istio docs (peer-authentication): STRICT "connection is an mTLS tunnel"; a proxy that
    // verified the client's certificate says so with x-forwarded-client-cert URI=.
    const fixture = await makeFixture();
    const file = join(fixture.dir, 'strict.yaml');
    await writeFile(file, 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict, namespace: shop}\nspec: {mtls: {mode: STRICT}}\n');
    const { resources, issues } = await loadResources([file]);
    const policies = compileAccessPolicies(resources, issues);
    expect(issues).toEqual([]);
    const server = await startAuthzHttpServer({ policies, destination: { namespace: 'shop' }, trustForwardedClientCert: true, decisionLog: false });
    try {
      const viaProxy = await request(`http://${server.address}/api/items`, { headers: { 'x-forwarded-client-cert': `By=${BACKEND};URI=${FRONTEND}` } });
      await viaProxy.body.text();
      expect(viaProxy.statusCode).toBe(200);
      const plaintext = await request(`http://${server.address}/api/items`);
      await plaintext.body.text();
      expect(plaintext.statusCode).toBe(403);
    } finally {
      await server.close();
    }
  });
});

describe('fail closed', () => {
  let jwks: Server;
  beforeAll(async () => {
    // A JWKS endpoint that never answers: the decision cannot finish in time.
    jwks = createServer(() => undefined);
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    jwks.closeAllConnections();
    await new Promise((resolve) => jwks.close(resolve));
  });

  async function policiesWithSlowJwks() {
    const fixture = await makeFixture();
    const port = (jwks.address() as { port: number }).port;
    const file = join(fixture.dir, 'slow.yaml');
    await writeFile(
      file,
      `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: shop}\nspec:\n  jwtRules:\n  - issuer: https://slow.test\n    jwksUri: http://127.0.0.1:${port}/jwks\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: any, namespace: shop}\nspec:\n  rules: [{}]\n`,
    );
    const { resources } = await loadResources([file]);
    return { fixture, policies: compileAccessPolicies(resources, [], { jwksTimeoutMs: 10_000 }) as never };
  }

  it.each([
    [false, 403],
    [true, 200],
  ])('an evaluation that cannot finish is answered per failOpen=%s with %i', async (failOpen, status) => {
    const { fixture, policies } = await policiesWithSlowJwks();
    const log = new Lines();
    const server = await startAuthzHttpServer({ policies, failOpen, decisionTimeoutMs: 150, destination: { namespace: 'shop' }, decisionLog: { destination: log } });
    try {
      const token = await fixture.sign({});
      // The token names the slow issuer so the engine must fetch its keys.
      const [h, p] = [Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'k1' })).toString('base64url'), Buffer.from(JSON.stringify({ iss: 'https://slow.test', sub: 'a' })).toString('base64url')];
      const response = await request(`http://${server.address}/x`, { headers: { authorization: `Bearer ${h}.${p}.${token.split('.')[2]}` } });
      await response.body.text();
      expect(response.statusCode).toBe(status);
      for (let i = 0; i < 100 && log.lines.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(String(log.lines.at(-1)?.['error'])).toMatch(/longer than 150 ms/);
    } finally {
      await server.close();
    }
  });
});
