// The admission benchmarks' workload: Pods and Deployments, compliant with the restricted
// profile and not, shared by index.js (over HTTPS) and in-process.js (admit() alone).
const container = (name, image, securityContext) => ({
  name,
  image,
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  ...(securityContext ? { securityContext } : {}),
});
const restricted = { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
const labels = { app: 'web', team: 'shop', 'app.kubernetes.io/name': 'web' };
const podSpec = (containers, extra = {}) => ({ containers, securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, ...extra });
const pods = [
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop', labels }, spec: podSpec([container('web', 'registry.example.com/shop/web:1.4.2', restricted)]) },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-2', namespace: 'shop', labels },
    spec: podSpec([container('web', 'registry.example.com/shop/web:1.4.2', restricted), container('sidecar', 'registry.example.com/mesh/proxy:2.0.1', restricted)]),
  },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'default' }, spec: { hostNetwork: true, containers: [container('sh', 'busybox:latest', { privileged: true })] } },
];
const deployment = (name, replicas, spec) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'shop', labels },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { ...labels, app: name } }, spec } },
});
const deployments = [
  deployment('api', 3, podSpec([container('api', 'registry.example.com/shop/api:2.1.0', restricted)])),
  deployment('worker', 2, podSpec([container('worker', 'registry.example.com/shop/worker:0.9.3', restricted)], { volumes: [{ name: 'tmp', emptyDir: {} }] })),
  deployment('legacy', 1, { hostPID: true, containers: [container('legacy', 'nginx', { runAsUser: 0 })] }),
];
export const objects = [pods[0], deployments[0], pods[1], deployments[1], pods[2], deployments[2]];
