import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createClusterManager } from '../../../src/proxy/cluster/index.js';
import type { Endpoint, HealthCheckPolicy, ResolvedDestination } from '../../../src/proxy/types.js';
import { makeTestCerts } from '../../authz/certs.js';
import { policy, registry, simple } from './helpers.js';

const HOST = 'ratings.shop.svc.cluster.local';
const CHECK: HealthCheckPolicy = { path: '/healthz', intervalMs: 40, timeoutMs: 200, healthyThreshold: 2, unhealthyThreshold: 2 };

interface Backend {
  server: Server;
  endpoint: Endpoint;
  status: number;
  hang: boolean;
  requests: { path: string; host: string; clientCert?: string }[];
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function backend(make: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server = (h) => createServer(h)): Promise<Backend> {
  const b = { status: 200, hang: false, requests: [] } as unknown as Backend;
  b.server = make((req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    b.requests.push({ path: req.url ?? '', host: req.headers.host ?? '', ...(peer?.subjectaltname ? { clientCert: peer.subjectaltname } : {}) });
    if (b.hang) return; // never answers: the check must time out
    res.writeHead(b.status).end('ok');
  });
  const port = await listen(b.server);
  b.endpoint = { id: `127.0.0.1:${port}`, address: '127.0.0.1', port, labels: {}, weight: 1 };
  return b;
}

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const RESOLVED: ResolvedDestination = { subsetLabels: {}, trafficPolicy: policy(simple('ROUND_ROBIN')) };

describe('active health checks', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections?.();
      await new Promise((r) => s.close(r));
    }
  });

  test('an endpoint that answers 500 is taken out after unhealthyThreshold checks and comes back after healthyThreshold', async () => {
    const [a, b] = [await backend(), await backend()];
    servers.push(a.server, b.server);
    const changes: string[] = [];
    const manager = createClusterManager({
      registry: registry(HOST, 9080, [a.endpoint, b.endpoint]),
      healthChecks: new Map([[HOST, CHECK]]),
      events: { onHealthChange: (name, e, healthy) => changes.push(`${e.port === a.endpoint.port ? 'a' : 'b'} ${healthy}`) },
    });
    try {
      const cluster = manager.cluster({ host: HOST, port: 9080 }, RESOLVED);
      await until(() => a.requests.length >= 2 && b.requests.length >= 2);
      expect(a.requests[0]).toEqual({ path: '/healthz', host: HOST });
      expect(cluster.states().every((s) => s.healthy)).toBe(true);

      b.status = 500;
      const failuresBefore = b.requests.length;
      await until(() => !cluster.states()[1]!.healthy);
      expect(b.requests.length - failuresBefore).toBeGreaterThanOrEqual(CHECK.unhealthyThreshold);
      expect(changes).toEqual(['b false']);
      for (let i = 0; i < 6; i++) expect(cluster.pick({})!.id).toBe(a.endpoint.id);

      b.status = 204;
      await until(() => cluster.states()[1]!.healthy);
      expect(changes).toEqual(['b false', 'b true']);
      expect(new Set(Array.from({ length: 4 }, () => cluster.pick({})!.id))).toEqual(new Set([a.endpoint.id, b.endpoint.id]));
    } finally {
      manager.close();
    }
  });

  test('a check that does not answer within timeoutMs fails; close() stops checking', async () => {
    const [a, b] = [await backend(), await backend()];
    servers.push(a.server, b.server);
    b.hang = true;
    const manager = createClusterManager({ registry: registry(HOST, 9080, [a.endpoint, b.endpoint]), healthChecks: new Map([[HOST, { ...CHECK, timeoutMs: 60 }]]) });
    const cluster = manager.cluster({ host: HOST, port: 9080 }, RESOLVED);
    await until(() => !cluster.states()[1]!.healthy);
    expect(cluster.states()[0]!.healthy).toBe(true);
    manager.close();
    const seen = a.requests.length;
    await new Promise((r) => setTimeout(r, CHECK.intervalMs * 4));
    expect(a.requests.length).toBe(seen);
  });

  test('health checks reach mTLS endpoints with the proxy\'s client certificate', async () => {
    const certs = makeTestCerts('spiffe://cluster.local/ns/shop/sa/celgate-proxy');
    const mtls = (h: (req: IncomingMessage, res: ServerResponse) => void) =>
      createTlsServer({ cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, h) as unknown as Server;
    const secure = await backend(mtls);
    servers.push(secure.server);
    const manager = createClusterManager({
      registry: registry(HOST, 9080, [secure.endpoint], 'HTTP', 'MESH_INTERNAL'),
      healthChecks: new Map([[HOST, CHECK]]),
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, servername: 'localhost' },
    });
    try {
      const cluster = manager.cluster({ host: HOST, port: 9080 }, RESOLVED);
      await until(() => secure.requests.length >= 1);
      expect(secure.requests[0]).toMatchObject({ path: '/healthz' });
      expect(secure.requests[0]!.clientCert).toBe('URI:spiffe://cluster.local/ns/shop/sa/celgate-proxy');
      secure.status = 503;
      await until(() => !cluster.states()[0]!.healthy);
      secure.status = 200;
      await until(() => cluster.states()[0]!.healthy);
    } finally {
      manager.close();
    }

    // Without the client certificate the handshake fails, and that is a failed check.
    const bare = createClusterManager({ registry: registry(HOST, 9080, [secure.endpoint]), healthChecks: new Map([[HOST, CHECK]]), tls: { ca: certs.ca, servername: 'localhost' } });
    try {
      const cluster = bare.cluster({ host: HOST, port: 9080 }, RESOLVED);
      await until(() => !cluster.states()[0]!.healthy);
    } finally {
      bare.close();
    }
  });
});
