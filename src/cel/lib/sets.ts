/** sets.* extension (cel-go ext sets). Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const setsLibrary: CelLibrary = {
  name: 'sets',
  register() {},
};
