/** Kubernetes semver library. Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const semverLibrary: CelLibrary = {
  name: 'semver',
  register() {},
};
