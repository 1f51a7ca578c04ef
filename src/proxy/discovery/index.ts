/** Discovery: services and endpoints from ServiceEntry and WorkloadEntry resources, and registries merged by host. */
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import type { ServiceRegistry } from '../types.js';
import { snapshotFromResources, type RegistryOptions } from './service-entry.js';
import { SnapshotRegistry } from './static-registry.js';

export { watchRegistry, type FileServiceRegistry, type WatchRegistryOptions } from './file-registry.js';
export { SnapshotRegistry, type RegistrySnapshot } from './static-registry.js';
export { snapshotFromResources, type RegistryOptions } from './service-entry.js';
export { mergeRegistries } from './merged-registry.js';

/** A registry of the ServiceEntries/WorkloadEntries among `resources`; problems are appended to `issues`. */
export function registryFromResources(resources: readonly PolicyResource[], issues: PolicyIssue[], options: RegistryOptions = {}): ServiceRegistry & { replace: SnapshotRegistry['replace'] } {
  return new SnapshotRegistry(snapshotFromResources(resources, issues, options));
}
