/** Test helpers: a mesh CA, workload certificates on disk, proxy configs and a real app on loopback. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootCa, issueCertificate, type CertificateAuthority } from '../../../src/pki/index.js';
import type { IdentityFiles, ListenerConfig, ProxyConfig } from '../../../src/proxy/types.js';

export const TRUST_DOMAIN = 'cluster.local';

export function tempDir(prefix = 'celgate-proxy-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function meshCa(): CertificateAuthority {
  return createRootCa({ trustDomain: TRUST_DOMAIN });
}

export function principalOf(namespace: string, serviceAccount: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Writes a workload certificate (SPIFFE URI SAN) for ns/sa into `dir`. */
export function workloadFiles(ca: CertificateAuthority, dir: string, namespace: string, serviceAccount: string): IdentityFiles & { pem: { cert: string; key: string; ca: string } } {
  const issued = issueCertificate(ca, { profile: 'workload', spiffeId: principalOf(namespace, serviceAccount) });
  const cert = join(dir, `${serviceAccount}.crt`);
  const key = join(dir, `${serviceAccount}.key`);
  const caFile = join(dir, 'ca.crt');
  writeFileSync(cert, issued.chainPem);
  writeFileSync(key, issued.privateKeyPem, { mode: 0o600 });
  writeFileSync(caFile, ca.certificatePem);
  return { cert, key, ca: caFile, pem: { cert: issued.chainPem, key: issued.privateKeyPem, ca: ca.certificatePem } };
}

export function proxyConfig(options: {
  dir: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  meshPaths: string[];
  identity?: IdentityFiles;
  listeners: ListenerConfig[];
  authorization?: ProxyConfig['authorization'];
  limits?: Partial<ProxyConfig['limits']>;
}): ProxyConfig {
  return {
    file: join(options.dir, 'proxy.yaml'),
    workload: {
      name: options.serviceAccount,
      namespace: options.namespace,
      serviceAccount: options.serviceAccount,
      labels: options.labels,
      trustDomain: TRUST_DOMAIN,
      principal: principalOf(options.namespace, options.serviceAccount),
    },
    meshPaths: options.meshPaths,
    watch: false,
    ...(options.identity ? { identity: options.identity } : {}),
    listeners: options.listeners,
    authorization: options.authorization ?? { mode: 'in-process', failOpen: false },
    healthChecks: new Map(),
    accessLog: 'off',
    limits: { maxRequestBodyBytes: 1024 * 1024, requestTimeoutMs: 10_000, headersTimeoutMs: 5_000, ...options.limits },
  };
}

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface TestApp {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

/** A real node:http application that records what it receives and answers `respond`'s result (default 200 "ok"). */
export async function startApp(respond?: (request: SeenRequest, res: import('node:http').ServerResponse) => void | Promise<void>): Promise<TestApp> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(request);
      if (respond) return void respond(request, res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, path: request.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function write(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** A ServiceEntry for `host` (port 80, HTTP) whose endpoints are 127.0.0.1 ports, each a workload of `serviceAccount`. */
export function serviceEntry(name: string, namespace: string, host: string, endpoints: Array<{ port: number; serviceAccount?: string; labels?: Record<string, string> }>, location = 'MESH_INTERNAL'): string {
  const lines = endpoints.map((e) => {
    const labels = e.labels ? `\n    labels: ${JSON.stringify(e.labels)}` : '';
    const sa = e.serviceAccount ? `\n    serviceAccount: ${e.serviceAccount}` : '';
    return `  - address: 127.0.0.1\n    ports: {http: ${e.port}}${labels}${sa}`;
  });
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  hosts: [${host}]
  location: ${location}
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  endpoints:
${lines.join('\n')}
`;
}
