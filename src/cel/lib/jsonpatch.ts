/** Kubernetes jsonpatch library. Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const jsonpatchLibrary: CelLibrary = {
  name: 'jsonpatch',
  register() {},
};
