/** A registry loaded from files and kept in step with them. */
import { loadResources, PolicyLoadError, watchPaths, type PolicyIssue, type Watching } from '../../policy/index.js';
import type { ServiceRegistry } from '../types.js';
import { snapshotFromResources, type RegistryOptions } from './service-entry.js';
import { SnapshotRegistry, type RegistrySnapshot } from './static-registry.js';

export interface WatchRegistryOptions extends RegistryOptions {
  /** Watch the paths and reload on change (default true). */
  readonly watch?: boolean;
  /** Called with every problem of a reload that was rejected (the previous registry keeps serving). */
  readonly onIssues?: (issues: readonly PolicyIssue[]) => void;
  /** Called after a reload was accepted. */
  readonly onReload?: () => void;
  readonly debounceMs?: number;
}

export interface FileServiceRegistry extends ServiceRegistry {
  /** Loads the files again now; resolves to the issues (empty when the new registry was accepted). */
  reload(): Promise<readonly PolicyIssue[]>;
}

async function loadSnapshot(paths: readonly string[], options: RegistryOptions): Promise<{ snapshot: RegistrySnapshot; issues: PolicyIssue[] }> {
  const { resources, issues } = await loadResources(paths);
  const snapshot = snapshotFromResources(resources, issues, options);
  return { snapshot, issues };
}

/**
 * Loads ServiceEntries and WorkloadEntries from `paths` (files or directories). The first load must be
 * clean (it throws PolicyLoadError with every issue); a later load with problems is rejected, reported
 * through `onIssues`, and the previous registry keeps serving.
 */
export async function watchRegistry(paths: readonly string[], options: WatchRegistryOptions = {}): Promise<FileServiceRegistry> {
  const first = await loadSnapshot(paths, options);
  if (first.issues.length > 0) throw new PolicyLoadError(first.issues);
  const registry = new SnapshotRegistry(first.snapshot);
  let watching: Watching | undefined;
  let loading: Promise<readonly PolicyIssue[]> | undefined;
  let again = false;
  let closed = false;

  const reloadOnce = async (): Promise<readonly PolicyIssue[]> => {
    const next = await loadSnapshot(paths, options);
    if (closed) return [];
    if (next.issues.length > 0) {
      options.onIssues?.(next.issues);
      return next.issues;
    }
    registry.replace(next.snapshot);
    options.onReload?.();
    return [];
  };
  // One load at a time; a change during a load triggers one more load after it.
  const reload = (): Promise<readonly PolicyIssue[]> => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = reloadOnce().finally(() => {
      loading = undefined;
      if (again && !closed) {
        again = false;
        void reload();
      }
    });
    return loading;
  };

  if (options.watch ?? true) {
    watching = watchPaths(
      paths,
      () => void reload().catch((error: Error) => options.onIssues?.([{ file: paths[0] ?? '', line: 1, column: 1, message: `reload failed: ${error.message}` }])),
      (path, error) => options.onIssues?.([{ file: path, line: 1, column: 1, message: `cannot watch: ${error.message}` }]),
      options.debounceMs,
    );
  }

  return {
    services: () => registry.services(),
    service: (host) => registry.service(host),
    endpoints: (host, port) => registry.endpoints(host, port),
    onChange: (listener) => registry.onChange(listener),
    reload,
    close() {
      closed = true;
      watching?.close();
      registry.close();
    },
  };
}
