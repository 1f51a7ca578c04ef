/** A ClusterState from plain objects (files, test fixtures): namespaces and param objects. */
import type { ClusterState } from './types.js';

type Json = Readonly<Record<string, unknown>>;

/** Indexes Namespace objects by name and every object by apiVersion/kind; `List` objects are flattened. */
export function clusterStateFrom(objects: readonly unknown[]): ClusterState {
  const namespaces = new Map<string, Json>();
  const byKind = new Map<string, Json[]>();
  const add = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    const object = value as Json;
    if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
      for (const item of object.items) add(item);
      return;
    }
    const key = `${String(object.apiVersion)}/${String(object.kind)}`;
    byKind.set(key, [...(byKind.get(key) ?? []), object]);
    const name = (object.metadata as { name?: unknown } | undefined)?.name;
    if (object.apiVersion === 'v1' && object.kind === 'Namespace' && typeof name === 'string') namespaces.set(name, object);
  };
  for (const object of objects) add(object);
  return Object.freeze({
    namespace: (name: string) => namespaces.get(name),
    objects: (apiVersion: string, kind: string, namespace?: string) => {
      const all = byKind.get(`${apiVersion}/${kind}`) ?? [];
      if (namespace === undefined) return all;
      return all.filter((o) => ((o.metadata as { namespace?: unknown } | undefined)?.namespace ?? 'default') === namespace);
    },
  });
}
