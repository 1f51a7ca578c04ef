/** An immutable set of services and their endpoints: the snapshot a registry serves until the next load. */
import type { Endpoint, Service, ServiceRegistry } from '../types.js';

const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

export interface RegistrySnapshot {
  readonly services: ReadonlyMap<string, Service>;
  /** Keyed by `host|port` (the service port, not the endpoint port). */
  readonly endpoints: ReadonlyMap<string, readonly Endpoint[]>;
}

export function endpointKey(host: string, port: number): string {
  return `${host}|${port}`;
}

export const EMPTY_SNAPSHOT: RegistrySnapshot = { services: new Map(), endpoints: new Map() };

/** A registry over one snapshot; `replace` swaps the snapshot and tells the listeners. */
export class SnapshotRegistry implements ServiceRegistry {
  #snapshot: RegistrySnapshot;
  #serviceList: readonly Service[];
  readonly #listeners = new Set<() => void>();

  constructor(snapshot: RegistrySnapshot = EMPTY_SNAPSHOT) {
    this.#snapshot = snapshot;
    this.#serviceList = [...snapshot.services.values()];
  }

  services(): readonly Service[] {
    return this.#serviceList;
  }

  service(host: string): Service | undefined {
    return this.#snapshot.services.get(host) ?? this.#snapshot.services.get(host.toLowerCase());
  }

  endpoints(host: string, port: number): readonly Endpoint[] {
    return this.#snapshot.endpoints.get(endpointKey(host, port)) ?? this.#snapshot.endpoints.get(endpointKey(host.toLowerCase(), port)) ?? NO_ENDPOINTS;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Swaps in a new snapshot and notifies every listener (a throwing listener does not stop the others). */
  replace(snapshot: RegistrySnapshot): void {
    this.#snapshot = snapshot;
    this.#serviceList = [...snapshot.services.values()];
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the registry has already changed.
      }
    }
  }

  close(): void {
    this.#listeners.clear();
  }
}
