// The bench's configuration on disk: the mesh CA and workload certificates, the mesh resources
// (100 routes, 10 destinations x 5 endpoints, DestinationRules, the 50 AuthorizationPolicies of
// bench/authz), celgate ProxyConfig files and haproxy's config.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRootCa, issueCertificate } from '../../dist/pki/index.js';
import { policyYaml } from '../authz/workload.js';

export const TRUST_DOMAIN = 'cluster.local';
export const NAMESPACE = 'ns-0';
export const DESTINATIONS = 10;
export const ENDPOINTS_PER_DESTINATION = 5;
export const ROUTES = 100;
/** The benchmark's route: one of the last (the route table is scanned up to it). */
export const BENCH_ROUTE = 97;
/** Allowed by the bench/authz policies to anyone in ns-0 (`public`: GET /public/*), and routed by BENCH_ROUTE. */
export const BENCH_PATH = '/public/items/42';
export const BENCH_DESTINATION = BENCH_ROUTE % DESTINATIONS;

export const hostOf = (i) => `svc-${i}.${NAMESPACE}.svc.cluster.local`;
/** Hosts the client sidecar reaches over mTLS; each names one server-side proxy. */
export const SERVER_HOSTS = { none: 'api-none', authz: 'api-authz', remote: 'api-remote', haproxy: 'api-haproxy' };
export const serverHost = (kind) => `${SERVER_HOSTS[kind]}.${NAMESPACE}.svc.cluster.local`;
export const principalOf = (serviceAccount) => `spiffe://${TRUST_DOMAIN}/ns/${NAMESPACE}/sa/${serviceAccount}`;

export function writeFile(dir, name, text) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The mesh CA and certificates: `frontend` (client sidecar), `api` (server sidecars and haproxy). */
export function writeCertificates(dir) {
  const ca = createRootCa({ trustDomain: TRUST_DOMAIN });
  const caFile = writeFile(dir, 'ca.crt', ca.certificatePem);
  const files = { ca: caFile };
  for (const sa of ['frontend', 'api']) {
    const issued = issueCertificate(ca, { profile: 'workload', spiffeId: principalOf(sa) });
    files[sa] = { cert: writeFile(dir, `${sa}.crt`, issued.chainPem), key: writeFile(dir, `${sa}.key`, issued.privateKeyPem), ca: caFile };
    // haproxy reads the chain and the key from one file.
    if (sa === 'api') files.haproxyPem = writeFile(dir, 'haproxy-api.pem', `${issued.chainPem.trim()}\n${issued.privateKeyPem.trim()}\n`);
  }
  return files;
}

/**
 * The route-table mesh of the plain proxy: 10 ServiceEntries (5 with inline endpoints, 5 selecting
 * WorkloadEntries), one DestinationRule per host (round robin, outlier detection), and one
 * VirtualService with 100 prefix routes over the 10 hosts; `endpointPorts` are the 50 upstream ports.
 */
export function routeTableMesh(dir, endpointPorts) {
  const docs = [];
  const hosts = [];
  for (let i = 0; i < DESTINATIONS; i++) {
    const host = hostOf(i);
    hosts.push(host);
    const ports = endpointPorts.slice(i * ENDPOINTS_PER_DESTINATION, (i + 1) * ENDPOINTS_PER_DESTINATION);
    const head = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${i}, namespace: ${NAMESPACE}}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
`;
    if (i < DESTINATIONS / 2) {
      docs.push(`${head}  endpoints:\n${ports.map((p) => `  - {address: 127.0.0.1, ports: {http: ${p}}, labels: {app: svc-${i}}}`).join('\n')}\n`);
    } else {
      docs.push(`${head}  workloadSelector: {labels: {app: svc-${i}}}\n`);
      ports.forEach((p, k) =>
        docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: svc-${i}-${k}, namespace: ${NAMESPACE}}
spec: {address: 127.0.0.1, ports: {http: ${p}}, labels: {app: svc-${i}, version: v1}}
`),
      );
    }
    docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-${i}, namespace: ${NAMESPACE}}
spec:
  host: ${host}
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
`);
  }
  const routes = [];
  for (let r = 0; r < ROUTES; r++) {
    const prefix = r === BENCH_ROUTE ? '/public/' : `/r${r}/`;
    routes.push(`  - name: r${r}
    match: [{uri: {prefix: ${prefix}}, method: {exact: GET}}]
    route: [{destination: {host: ${hostOf(r % DESTINATIONS)}, port: {number: 80}}}]
    timeout: 10s
    retries: {attempts: 2, retryOn: connect-failure}`);
  }
  docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench-routes, namespace: ${NAMESPACE}}
spec:
  hosts: [${hosts.join(', ')}]
  http:
${routes.join('\n')}
`);
  mkdirSync(dir, { recursive: true });
  return writeFile(dir, 'mesh.yaml', docs.join('---\n'));
}

/** The client sidecar's mesh: one ServiceEntry per server-side proxy (its mTLS port), each a workload of sa `api`. */
export function clientMesh(dir, serverPorts) {
  const docs = [];
  for (const [kind, port] of Object.entries(serverPorts)) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${SERVER_HOSTS[kind]}, namespace: ${NAMESPACE}}
spec:
  hosts: [${serverHost(kind)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  endpoints:
  - {address: 127.0.0.1, ports: {http: ${port}}, serviceAccount: api}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${SERVER_HOSTS[kind]}, namespace: ${NAMESPACE}}
spec:
  hosts: [${serverHost(kind)}]
  http:
  - match: [{uri: {prefix: /public/}}]
    route: [{destination: {host: ${serverHost(kind)}, port: {number: 80}}}]
    timeout: 10s
`);
  }
  mkdirSync(dir, { recursive: true });
  return writeFile(dir, 'mesh.yaml', docs.join('---\n'));
}

/** The server sidecars' mesh: the 50 AuthorizationPolicies of bench/authz (5 apply to ns-0). */
export function serverMesh(dir) {
  mkdirSync(dir, { recursive: true });
  return writeFile(dir, 'policies.yaml', policyYaml());
}

/** A celgate ProxyConfig (YAML): metrics are always on, the admin port serves them; access log to /dev/null. */
export function proxyConfigYaml({ name, serviceAccount, meshDir, identity, listener, authorization }) {
  const listenerYaml =
    listener.mode === 'inbound'
      ? `  - {name: inbound, mode: inbound, address: 127.0.0.1, port: 0, application: "${listener.application}"}`
      : `  - {name: outbound, mode: outbound, address: 127.0.0.1, port: 0}`;
  const identityYaml = identity ? `  identity: {cert: ${identity.cert}, key: ${identity.key}, ca: ${identity.ca}}\n` : '';
  const authz =
    authorization.mode === 'http'
      ? `{mode: http, url: "${authorization.url}", timeout: ${authorization.timeout}, failOpen: false}`
      : `{mode: ${authorization.mode}}`;
  return `apiVersion: celgate.dev/v1alpha1
kind: ProxyConfig
metadata: {name: ${name}}
spec:
  workload: {name: ${name}, namespace: ${NAMESPACE}, serviceAccount: ${serviceAccount}, labels: {app: ${serviceAccount}}}
  mesh: {paths: [${meshDir}], watch: false}
${identityYaml}  listeners:
${listenerYaml}
  authorization: ${authz}
  admin: {address: 127.0.0.1, port: 0}
  accessLog: /dev/null
`;
}

/**
 * haproxy with one thread (like one Node process), keep-alive both sides and connection reuse:
 * `plain` balances round robin over the bench destination's 5 endpoints, `mtls` terminates TLS
 * with the `api` workload certificate, requires a client certificate from the mesh CA and
 * forwards to the application (as a server sidecar would).
 */
export function haproxyConfig({ plainPort, mtlsPort, endpointPorts, appPort, certs }) {
  return `global
  nbthread 1
  maxconn 4096
  tune.ssl.default-dh-param 2048

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
  option forwardfor
  http-reuse always

frontend plain
  bind 127.0.0.1:${plainPort}
  default_backend destination

frontend mtls
  bind 127.0.0.1:${mtlsPort} ssl crt ${certs.haproxyPem} ca-file ${certs.ca} verify required alpn http/1.1
  default_backend application

backend destination
  balance roundrobin
${endpointPorts.map((p, i) => `  server e${i} 127.0.0.1:${p}`).join('\n')}

backend application
  server app 127.0.0.1:${appPort}
`;
}
