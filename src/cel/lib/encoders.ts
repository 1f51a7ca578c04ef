/** base64.encode/decode (cel-go ext encoders). Not yet implemented. */
import type { CelLibrary } from '../library.js';

export const encodersLibrary: CelLibrary = {
  name: 'encoders',
  register() {},
};
