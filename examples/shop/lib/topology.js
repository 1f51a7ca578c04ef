// The shop's workloads and their ports. Every port is BASE + offset; the checked-in YAML
// (mesh/*.yaml, proxies/*.yaml) is written with BASE = 20000, and `shiftPorts` moves it to
// the base the demo picked. Keep the offsets here and the ports in the YAML in step.
export const CHECKED_IN_BASE = 20000;
/** Ports BASE .. BASE + PORT_SPAN - 1 belong to the shop. */
export const PORT_SPAN = 50;

/**
 * One workload = one application process + its sidecar. `app` is the application's port,
 * `inbound` the sidecar's mTLS listener (what the WorkloadEntry names), `outbound` the
 * listener the application sends its own calls to, `admin` the sidecar's admin server.
 */
export const WORKLOADS = [
  { name: 'shopping', service: 'shopping', version: 'v1', serviceAccount: 'shopping', script: 'shopping.js', ports: { app: 0, inbound: 1, outbound: 2, admin: 3 } },
  { name: 'payment', service: 'payment', version: 'v1', serviceAccount: 'payment', script: 'payment.js', ports: { app: 10, inbound: 11, admin: 13 } },
  { name: 'inventory-v1-a', service: 'inventory', version: 'v1', serviceAccount: 'inventory', script: 'inventory.js', ports: { app: 20, inbound: 21, admin: 23 } },
  { name: 'inventory-v1-b', service: 'inventory', version: 'v1', serviceAccount: 'inventory', script: 'inventory.js', ports: { app: 30, inbound: 31, admin: 33 } },
  { name: 'inventory-v2', service: 'inventory', version: 'v2', serviceAccount: 'inventory', script: 'inventory.js', ports: { app: 40, inbound: 41, outbound: 42, admin: 43 } },
];

/** The ingress gateway: a proxy without an application; `gateway` is the users' entry point. */
export const INGRESS = { name: 'shop-ingress', namespace: 'istio-system', serviceAccount: 'istio-ingressgateway', ports: { gateway: 45, admin: 47 } };

/** Every proxy the demo runs: the five sidecars and the ingress gateway. */
export const PROXIES = [...WORKLOADS, INGRESS];

/** The host users ask for (Gateway shop/shop-gateway). */
export const SHOP_HOST = 'shop.example.com';

/** The workload whose application the demo kills midway and restarts. */
export const VICTIM = 'inventory-v1-a';

export function workload(name) {
  const found = PROXIES.find((w) => w.name === name);
  if (!found) throw new Error(`no workload ${name}`);
  return found;
}

/** The absolute port of one of a workload's ports for `base`. */
export function portOf(base, name, which) {
  const offset = workload(name).ports[which];
  if (offset === undefined) throw new Error(`workload ${name} has no ${which} port`);
  return base + offset;
}

export function allOffsets() {
  return PROXIES.flatMap((w) => Object.values(w.ports));
}
