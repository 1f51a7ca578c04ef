/**
 * node-forge's own modules, typed from @types/node-forge. Importing `node-forge` loads every
 * module it has (ciphers, TLS, PKCS#12...: +10 MB of RSS in a bare process); DER needs two.
 */
declare module 'node-forge/lib/asn1.js' {
  import type forge from 'node-forge';
  const asn1: typeof forge.asn1;
  export default asn1;
}

declare module 'node-forge/lib/util.js' {
  import type forge from 'node-forge';
  const util: typeof forge.util;
  export default util;
}
