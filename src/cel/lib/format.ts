/** Kubernetes format library (format.named, validate). Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const formatLibrary: CelLibrary = {
  name: 'format',
  register() {},
};
