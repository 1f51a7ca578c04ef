/** Kubernetes quantity library. Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const quantityLibrary: CelLibrary = {
  name: 'quantity',
  register() {},
};
