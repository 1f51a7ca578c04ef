// The shipped policy library as the webhook loads it: every admission policy under policies/ and
// the param objects under policies/*/params/ that their bindings refer to. Shared by the
// benchmark's server and its in-process measurements.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clusterStateFrom, compileAdmissionPolicies } from '../../dist/engine/admission/index.js';
import { loadResources } from '../../dist/policy/index.js';
import { loadClusterObjects } from '../../dist/admission/index.js';
import { floorValidator } from './floor.js';

/** Every params/ directory under `root`. */
export function paramDirs(root) {
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => (entry.name === 'params' ? [join(root, entry.name)] : paramDirs(join(root, entry.name))));
}

/** The compiled policies and the cluster state (params) admit() runs with; throws on any load issue. */
export async function loadLibrary() {
  const issues = [];
  const { resources } = await loadResources(['policies']);
  const policies = compileAdmissionPolicies(resources.filter((r) => r.type.face === 'admission'), issues);
  if (issues.length > 0) throw new Error(`policies/ has issues: ${JSON.stringify(issues[0])}`);
  const cluster = clusterStateFrom(await loadClusterObjects(paramDirs('policies'), []));
  return { policies, cluster };
}

/** floor.js' hand-written validate phase, with the same param objects the policies read. */
export async function loadFloor() {
  const objects = await loadClusterObjects(paramDirs('policies'), []);
  const data = (name) => objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === name)?.data ?? {};
  return floorValidator({ requiredLabels: data('required-labels').labels ?? '', registries: data('allowed-registries').registries ?? '' });
}
