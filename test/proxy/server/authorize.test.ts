/** The remote authorizer's coalescing and failure handling against a real (slow) HTTP ext_authz server. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileAccessPolicies } from '../../../src/engine/access/index.js';
import { createAuthorizer, type AuthorizationInput } from '../../../src/proxy/server/index.js';

const WORKLOAD = { name: 'payment', namespace: 'shop', serviceAccount: 'payment', labels: { app: 'payment' }, trustDomain: 'cluster.local', principal: 'spiffe://cluster.local/ns/shop/sa/payment' };

function input(id: string, path = '/orders'): AuthorizationInput {
  return {
    id,
    method: 'GET',
    path,
    authority: 'payment',
    scheme: 'https',
    protocol: 'HTTP/1.1',
    headers: { 'x-request-id': id, accept: 'application/json' },
    source: { address: '10.0.0.1', port: 40000, principal: 'spiffe://cluster.local/ns/shop/sa/shopping' },
    destination: { address: '10.0.0.2', port: 8080 },
    mtls: true,
  };
}

describe('remote http authorizer', () => {
  const calls: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    calls.push({ url: req.url ?? '', headers: req.headers });
    setTimeout(() => {
      if (req.url?.startsWith('/authz/orders')) {
        res.writeHead(200, { 'x-user-tier': 'gold', 'x-envoy-auth-headers-to-remove': 'x-internal' });
        res.end();
      } else {
        res.writeHead(403, { 'content-type': 'text/plain', 'x-denied-by': 'test' });
        res.end('no');
      }
    }, 150);
  });
  let url: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/authz`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const policies = compileAccessPolicies([], []);

  test('identical checks in flight share one call; each answer carries its own id', async () => {
    const authorizer = createAuthorizer({ mode: 'http', url, timeoutMs: 1000, failOpen: false }, WORKLOAD, policies);
    calls.length = 0;
    const decisions = await Promise.all(Array.from({ length: 10 }, (_, i) => authorizer.decide(input(`req-${i}`))));
    expect(calls.length).toBe(1);
    expect(decisions.map((d) => d.id)).toEqual(Array.from({ length: 10 }, (_, i) => `req-${i}`));
    expect(decisions.every((d) => d.allowed && d.headers['x-user-tier'] === 'gold' && d.headersToRemove.includes('x-internal'))).toBe(true);
    // The caller's identity travels as Envoy's XFCC, its address as x-forwarded-for; the path goes under the prefix.
    expect(calls[0]!.url).toBe('/authz/orders');
    expect(calls[0]!.headers['x-forwarded-client-cert']).toBe(`By=${WORKLOAD.principal};URI=spiffe://cluster.local/ns/shop/sa/shopping`);
    expect(calls[0]!.headers['x-forwarded-for']).toBe('10.0.0.1');
    await authorizer.close();
  });

  test('different checks are not coalesced; a denial brings its status, headers and body', async () => {
    const authorizer = createAuthorizer({ mode: 'http', url, timeoutMs: 1000, failOpen: false }, WORKLOAD, policies);
    calls.length = 0;
    const [allowed, denied] = await Promise.all([authorizer.decide(input('a')), authorizer.decide(input('b', '/admin'))]);
    expect(calls.length).toBe(2);
    expect(allowed.allowed).toBe(true);
    expect(denied).toMatchObject({ allowed: false, status: 403, body: 'no' });
    expect(denied.headers['x-denied-by']).toBe('test');
    await authorizer.close();
  });

  test('a check slower than timeoutMs fails closed, or open with failOpen', async () => {
    const closed = createAuthorizer({ mode: 'http', url, timeoutMs: 50, failOpen: false }, WORKLOAD, policies);
    const open = createAuthorizer({ mode: 'http', url, timeoutMs: 50, failOpen: true }, WORKLOAD, policies);
    const started = Date.now();
    expect((await closed.decide(input('slow-1'))).allowed).toBe(false);
    expect((await closed.decide(input('slow-1'))).status).toBe(403);
    expect((await open.decide(input('slow-2'))).allowed).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    await closed.close();
    await open.close();
  });
});
