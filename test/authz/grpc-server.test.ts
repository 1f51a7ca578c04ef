/** The ext_authz gRPC server on 127.0.0.1, called by a client built from Envoy's real protos. */
import { connect, constants } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { startAuthzGrpcServer, type AuthzServer } from '../../src/authz/index.js';
import { makeTestCerts } from './certs.js';
import { cases, FRONTEND, makeFixture, type Fixture } from './fixture.js';
import { check, checkClient, checkRequestFor, HTTP_STATUS_NAMES, type CheckClient } from './envoy-client.js';

describe('ext_authz gRPC server', () => {
  let fixture: Fixture;
  let server: AuthzServer;
  let client: CheckClient;

  beforeAll(async () => {
    fixture = await makeFixture();
    server = await startAuthzGrpcServer({ policies: fixture.policies, decisionLog: false, maxMessageBytes: 64 * 1024 });
    client = checkClient(server.address);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it('decides every shared case; status codes follow google.rpc (0 OK, 7 PERMISSION_DENIED, 16 UNAUTHENTICATED)', async () => {
    for (const c of await cases(fixture)) {
      const response = await check(client, checkRequestFor(c.request));
      const expectedCode = c.allowed ? 0 : c.status === 401 ? 16 : 7;
      expect({ name: c.name, code: response.status?.code ?? 0 }).toEqual({ name: c.name, code: expectedCode });
      expect(response.dynamic_metadata?.fields?.['decision_id']?.stringValue).toBe(c.request.request.headers!['x-request-id']);
      if (c.allowed) {
        expect(response.ok_response).toBeDefined();
        expect(response.denied_response).toBeUndefined();
      } else {
        expect(response.denied_response?.status?.code).toBe(HTTP_STATUS_NAMES[c.status]);
        expect(response.denied_response?.body).toBeTruthy();
        const headers = Object.fromEntries((response.denied_response?.headers ?? []).map((h) => [h.header.key, h.header.value]));
        expect(headers['x-celgate-decision-id']).toBe(c.request.request.headers!['x-request-id']);
      }
    }
  });

  it('returns upstream headers with append=false and headers_to_remove on allow', async () => {
    const token = await fixture.sign({});
    const response = await check(client, {
      attributes: {
        destination: { principal: 'spiffe://cluster.local/ns/shop/sa/backend' },
        request: { http: { method: 'GET', path: '/me', host: 'shop.test', headers: { authorization: `Bearer ${token}` } } },
      },
    });
    expect(response.status?.code ?? 0).toBe(0);
    // Envoy docs (external_auth.proto): for ext_authz, HeaderValueOption.append defaults to
    // false; celgate sends it explicitly so a client-sent header of the same name is replaced.
    expect(response.ok_response?.headers).toEqual([{ header: { key: 'x-jwt-payload', value: token.split('.')[1] }, append: { value: false } }]);
    expect(response.ok_response?.headers_to_remove).toEqual(['authorization']);
    expect(response.dynamic_metadata?.fields?.['policy']?.stringValue).toBe('shop/frontend-reads');
  });

  it('reads source.principal, header_map and raw_body as Envoy sends them', async () => {
    const response = await check(client, {
      attributes: {
        source: { principal: FRONTEND, address: { socket_address: { address: '10.1.2.3', port_value: 41000 } } },
        destination: { principal: 'spiffe://cluster.local/ns/shop/sa/backend' },
        request: { http: { method: 'GET', path: '/api/items', host: 'shop.test', header_map: { headers: [{ key: 'x-request-id', raw_value: Buffer.from('raw-1') }] }, raw_body: Buffer.from('hello') } },
        tls_session: { sni: 'backend.shop.svc' },
      },
    });
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.dynamic_metadata?.fields?.['decision_id']?.stringValue).toBe('raw-1');
  });

  it('answers a CheckRequest without http attributes with INVALID_ARGUMENT and a 400 denial', async () => {
    const response = await check(client, { attributes: {} });
    expect(response.status?.code).toBe(3);
    expect(response.denied_response?.status?.code).toBe('BadRequest');
    expect(response.denied_response?.body).toMatch(/attributes\.request\.http is missing/);
  });

  it('rejects a malformed message with a gRPC error and keeps serving', async () => {
    const session = connect(`http://${server.address}`);
    try {
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]);
      const frame = Buffer.alloc(5 + garbage.length);
      frame.writeUInt32BE(garbage.length, 1);
      garbage.copy(frame, 5);
      const stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: '/envoy.service.auth.v3.Authorization/Check',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const trailers = new Promise<Record<string, unknown>>((resolve) => {
        stream.on('trailers', (t) => resolve(t));
        stream.on('response', (h) => {
          if (h['grpc-status'] !== undefined) resolve(h);
        });
      });
      stream.on('data', () => undefined);
      stream.end(frame);
      const t = await trailers;
      expect(Number(t['grpc-status'])).toBe(grpc.status.INTERNAL);
      expect(String(t['grpc-message'])).toMatch(/pars|deserializ/i);
    } finally {
      session.close();
    }
    const after = await check(client, checkRequestFor((await cases(fixture))[0]!.request));
    expect(after.status?.code ?? 0).toBe(0);
  });

  it('rejects a message above maxMessageBytes with RESOURCE_EXHAUSTED', async () => {
    const big = { attributes: { request: { http: { method: 'POST', path: '/public/x', body: 'x'.repeat(100 * 1024) } } } };
    await expect(check(client, big)).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });
});

describe('ext_authz gRPC server over mutual TLS', () => {
  it('serves clients with a certificate from the CA and refuses others', async () => {
    const fixture = await makeFixture();
    const certs = makeTestCerts(FRONTEND);
    const server = await startAuthzGrpcServer({
      policies: fixture.policies,
      decisionLog: false,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
    });
    const good = checkClient(server.address, grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert));
    const bad = checkClient(server.address, grpc.credentials.createSsl(certs.ca));
    try {
      const response = await check(good, checkRequestFor((await cases(fixture))[0]!.request));
      expect(response.status?.code ?? 0).toBe(0);
      await expect(check(bad, checkRequestFor((await cases(fixture))[0]!.request))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      good.close();
      bad.close();
      await server.close();
    }
  });
});
