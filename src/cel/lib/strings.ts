/** String extensions (cel-go ext strings, Kubernetes version 2+). Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const stringsLibrary: CelLibrary = {
  name: 'strings',
  register() {},
};
