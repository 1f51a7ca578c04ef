/**
 * Gateway references in a VirtualService (`gateways:` and `match[].gateways`): the reserved
 * `mesh` (sidecars), `namespace/name`, or a short `name` in the VirtualService's namespace.
 * Istio also accepts the old FQDN form `name.namespace.svc.cluster.local`.
 */
export const MESH_GATEWAY = 'mesh';

export function resolveGatewayName(ref: string, namespace: string): string {
  if (ref === MESH_GATEWAY) return ref;
  if (ref.includes('/')) return ref;
  const dot = ref.indexOf('.');
  if (dot > 0) {
    const labels = ref.split('.');
    return `${labels[1]}/${labels[0]}`;
  }
  return `${namespace}/${ref}`;
}
