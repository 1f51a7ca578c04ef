/** numeric fixes over the evaluator (heterogeneous equality, overflow). Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const numbersLibrary: CelLibrary = {
  name: 'numbers',
  register() {},
};
