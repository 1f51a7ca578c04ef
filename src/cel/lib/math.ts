/** math.* extension (cel-go ext math). Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const mathLibrary: CelLibrary = {
  name: 'math',
  register() {},
};
