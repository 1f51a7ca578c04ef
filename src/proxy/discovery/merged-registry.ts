/**
 * Several registries behind one ServiceRegistry, merged by host: the first registry (in the order
 * given) that has a host owns it — its Service and its endpoints; later registries' entries for
 * that host are hidden. The proxy puts the Kubernetes registry first, as Istio does: a Kubernetes
 * Service takes precedence over a ServiceEntry with the same host, so a ServiceEntry cannot
 * "squat" on a cluster service's name (istio/istio#32966). Hosts only one registry knows resolve
 * from that one.
 *
 * The merged registry owns only its subscriptions: `close()` stops listening to the parts, which
 * their owners close.
 */
import type { Endpoint, Service, ServiceRegistry } from '../types.js';

const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

export function mergeRegistries(registries: readonly ServiceRegistry[]): ServiceRegistry {
  const parts = [...registries];
  const listeners = new Set<() => void>();
  let serviceList: readonly Service[] | undefined;

  const owner = (host: string): ServiceRegistry | undefined => {
    for (const part of parts) if (part.service(host) !== undefined) return part;
    return undefined;
  };

  const changed = (): void => {
    serviceList = undefined;
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the registry has already changed.
      }
    }
  };
  const unsubscribes = parts.map((part) => part.onChange(changed));

  return {
    services() {
      if (serviceList) return serviceList;
      const byHost = new Map<string, Service>();
      for (const part of parts) for (const service of part.services()) if (!byHost.has(service.host)) byHost.set(service.host, service);
      serviceList = Object.freeze([...byHost.values()]);
      return serviceList;
    },
    service(host) {
      for (const part of parts) {
        const found = part.service(host);
        if (found !== undefined) return found;
      }
      return undefined;
    },
    endpoints(host, port) {
      return owner(host)?.endpoints(host, port) ?? NO_ENDPOINTS;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      for (const unsubscribe of unsubscribes) unsubscribe();
      listeners.clear();
    },
  };
}
