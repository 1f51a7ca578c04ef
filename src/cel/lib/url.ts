/** Kubernetes URL library. Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const urlLibrary: CelLibrary = {
  name: 'url',
  register() {},
};
