/** Kubernetes list library. Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const listsLibrary: CelLibrary = {
  name: 'lists',
  register() {},
};
