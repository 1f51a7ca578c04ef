/** Kubernetes authorizer library. Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const authorizerLibrary: CelLibrary = {
  name: 'authorizer',
  register() {},
};
