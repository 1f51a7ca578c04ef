/** HTTP/2 by ALPN on the inbound listener, and gRPC-style trailers passed through to the client. */
import { connect, constants, createServer as createH2cServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startProxy, type RunningProxy } from '../../../src/proxy/server/index.js';
import { meshCa, proxyConfig, serviceEntry, startApp, tempDir, workloadFiles, write, type TestApp } from './mesh.js';

describe('inbound over HTTP/2', () => {
  const ca = meshCa();
  let app: TestApp;
  let proxy: RunningProxy;
  let client: { cert: string; key: string; ca: string };

  beforeAll(async () => {
    // An HTTP/1.1 application answering with chunked trailers (gRPC itself goes to the app over h2c: see below).
    app = await startApp((request, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'grpc-status, grpc-message' });
      res.write(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
      res.addTrailers({ 'grpc-status': '0', 'grpc-message': `handled ${request.method} ${request.url}` });
      res.end();
    });
    const dir = tempDir();
    proxy = await startProxy(
      proxyConfig({ dir, namespace: 'shop', serviceAccount: 'payment', labels: { app: 'payment' }, meshPaths: [dir], identity: workloadFiles(ca, dir, 'shop', 'payment'), listeners: [{ mode: 'inbound', name: 'inbound', address: '127.0.0.1', port: 0, application: app.url }] }),
    );
    client = workloadFiles(ca, tempDir(), 'shop', 'shopping').pem;
  });

  afterAll(async () => {
    await proxy?.close();
    await app?.close();
  });

  test('ALPN negotiates h2; the body and the trailers arrive', async () => {
    const session = connect(`https://127.0.0.1:${proxy.ports['inbound']}`, { ...client, checkServerIdentity: () => undefined, ALPNProtocols: ['h2'] });
    try {
      const result = await new Promise<{ alpn: string | false | undefined; status: number; body: Buffer; trailers: Record<string, unknown> }>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/shop.Payment/Pay', ':authority': 'payment.shop', 'content-type': 'application/octet-stream', te: 'trailers' });
        let status = 0;
        const chunks: Buffer[] = [];
        let trailers: Record<string, unknown> = {};
        stream.on('response', (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('trailers', (t) => (trailers = t));
        stream.on('end', () => resolve({ alpn: session.alpnProtocol, status, body: Buffer.concat(chunks), trailers }));
        stream.on('error', reject);
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      expect(result.alpn).toBe('h2');
      expect(result.status).toBe(200);
      expect([...result.body]).toEqual([0, 0, 0, 0, 2, 8, 1]);
      expect(result.trailers['grpc-status']).toBe('0');
      expect(result.trailers['grpc-message']).toBe('handled POST /shop.Payment/Pay');
      expect(app.seen.at(-1)!.headers['te']).toBe('trailers');
    } finally {
      session.close();
    }
  });
});

/** A gRPC-shaped exchange over h2c: unary call, response message, grpc-status in trailers. */
function grpcCall(url: string, path: string, authority: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; trailers: Record<string, unknown> }> {
  const session = connect(url);
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; trailers: Record<string, unknown> }>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, ':authority': authority, 'content-type': 'application/grpc', te: 'trailers' });
    let status = 0;
    let responseHeaders: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    let trailers: Record<string, unknown> = {};
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      responseHeaders = headers;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
    stream.on('error', reject);
    stream.end(Buffer.from([0, 0, 0, 0, 1, 42]));
  }).finally(() => session.close());
}

describe('gRPC end to end: h2c client → outbound → mTLS h2 → inbound → h2c app', () => {
  const ca = meshCa();
  let grpcApp: Http2Server;
  let server: RunningProxy;
  let client: RunningProxy;
  const seen: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    grpcApp = createH2cServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ ...req.headers, body: [...Buffer.concat(chunks)] });
        res.writeHead(200, { 'content-type': 'application/grpc' });
        res.write(Buffer.from([0, 0, 0, 0, 1, 7]));
        res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'paid' });
        res.end();
      });
    });
    await new Promise<void>((resolve) => grpcApp.listen(0, '127.0.0.1', resolve));
    const appUrl = `http://127.0.0.1:${(grpcApp.address() as AddressInfo).port}`;
    const serverDir = tempDir();
    server = await startProxy(
      proxyConfig({ dir: serverDir, namespace: 'shop', serviceAccount: 'payment', labels: { app: 'payment' }, meshPaths: [serverDir], identity: workloadFiles(ca, serverDir, 'shop', 'payment'), listeners: [{ mode: 'inbound', name: 'inbound', address: '127.0.0.1', port: 0, application: appUrl }] }),
    );
    const clientDir = tempDir();
    write(clientDir, 'services.yaml', serviceEntry('payment', 'shop', 'payment.shop.svc.cluster.local', [{ port: server.ports['inbound']!, serviceAccount: 'payment' }]));
    client = await startProxy(
      proxyConfig({ dir: clientDir, namespace: 'shop', serviceAccount: 'shopping', labels: { app: 'shopping' }, meshPaths: [clientDir], identity: workloadFiles(ca, clientDir, 'shop', 'shopping'), listeners: [{ mode: 'outbound', name: 'outbound', address: '127.0.0.1', port: 0 }] }),
    );
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    await new Promise<void>((resolve) => grpcApp.close(() => resolve()));
  });

  test('the call, its response message and grpc-status trailers pass both proxies', async () => {
    const result = await grpcCall(`http://127.0.0.1:${client.ports['outbound']}`, '/shop.Payment/Pay', 'payment.shop.svc.cluster.local');
    expect(result.status).toBe(200);
    expect([...result.body]).toEqual([0, 0, 0, 0, 1, 7]);
    expect(result.trailers['grpc-status']).toBe('0');
    expect(result.trailers['grpc-message']).toBe('paid');
    const received = seen.at(-1)!;
    expect(received['body']).toEqual([0, 0, 0, 0, 1, 42]);
    expect(received[':path']).toBe('/shop.Payment/Pay');
    expect(String(received['x-forwarded-client-cert'])).toContain('URI=spiffe://cluster.local/ns/shop/sa/shopping');
  });

  test('a local reply to a gRPC call is trailers-only with the mapped grpc-status (Envoy)', async () => {
    const result = await grpcCall(`http://127.0.0.1:${client.ports['outbound']}`, '/shop.Payment/Pay', 'nowhere.example');
    // gRPC's HTTP-to-gRPC status mapping: 404 ⇒ UNIMPLEMENTED (12); the HTTP status of a gRPC response is 200.
    expect(result.status).toBe(200);
    expect(result.body.length).toBe(0);
    expect(result.headers['grpc-status']).toBe('12');
    expect(decodeURIComponent(String(result.headers['grpc-message']))).toBe('no route for nowhere.example');
  });
});
