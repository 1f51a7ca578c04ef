/** Kubernetes IP and CIDR library. Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const ipLibrary: CelLibrary = {
  name: 'ip',
  register() {},
};
