/** Public API of celgate's PKI: CAs, certificates, TLS options for servers, SPIFFE identities. */
export { KEY_TYPES, DEFAULT_KEY_TYPE, generateKeyPair, isKeyType, describeKey, type KeyType, type KeyPair } from './keys.js';
export {
  createRootCa,
  createIntermediateCa,
  issueCertificate,
  authorityFromPem,
  DEFAULT_LIFETIME_MS,
  type CertificateAuthority,
  type IssuedCertificate,
  type LeafOptions,
  type CaOptions,
  type LeafProfile,
} from './issue.js';
export { certificateDetails, type CertificateDetails, type SubjectAltNames } from './parse.js';
export { inspectCertificate, expiryWarning, type CertificateInfo } from './inspect.js';
export { parseSpiffeId, workloadSpiffeId, checkDnsName, NameError, type SpiffeId } from './names.js';
export { loadCertificatePair, readCertificates, splitPemCertificates, readPrivateKey, verifyChain, CertificateFileError, writeFileAtomic, withDirectoryLock, CERTIFICATE_MODE, PRIVATE_KEY_MODE, type CertificatePair } from './files.js';
export { loadCa, initCa, writeCa, writePair, caExists, caPaths, pairPaths, CA_CERT_FILE, CA_KEY_FILE } from './store.js';
export { ensureServingCertificates, SERVING_NAME, type ServingCertificates, type ServingNames } from './serving.js';
export {
  createTlsContextSource,
  peerSpiffeId,
  uriSans,
  reportTlsClientErrors,
  describeTlsClientError,
  CIPHERS,
  type TlsContextSource,
  type TlsFiles,
  type TlsServerOptions,
  type TlsContextHooks,
} from './tls.js';
export { startWorkloadRotation, type WorkloadRotation, type WorkloadRotationOptions } from './rotation.js';
