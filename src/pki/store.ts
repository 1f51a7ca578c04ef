/** A certificate directory: ca.crt/ca.key plus NAME.crt/NAME.key pairs. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { authorityFromPem, createRootCa, type CaOptions, type CertificateAuthority, type IssuedCertificate } from './issue.js';
import { CERTIFICATE_MODE, CertificateFileError, checkValidity, PRIVATE_KEY_MODE, readCertificates, readPrivateKey, writeFileAtomic } from './files.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

export function pairPaths(dir: string, name: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

export function caPaths(dir: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, CA_CERT_FILE), keyFile: join(dir, CA_KEY_FILE) };
}

export function caExists(dir: string): boolean {
  const { certFile, keyFile } = caPaths(dir);
  return existsSync(certFile) || existsSync(keyFile);
}

/** Reads the CA of a directory; errors name the file (missing, malformed, expired, key mismatch, not a CA). */
export function loadCa(dir: string): CertificateAuthority {
  const { certFile, keyFile } = caPaths(dir);
  const { pem, certificates } = readCertificates(certFile, 'CA certificate');
  const { key } = readPrivateKey(keyFile);
  checkValidity(certFile, certificates[0]!);
  try {
    return authorityFromPem(pem, key);
  } catch (error) {
    throw new CertificateFileError(/private key/.test((error as Error).message) ? keyFile : certFile, (error as Error).message);
  }
}

export async function writeCa(dir: string, ca: CertificateAuthority): Promise<{ certFile: string; keyFile: string }> {
  const paths = caPaths(dir);
  await writeFileAtomic(paths.keyFile, ca.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, PRIVATE_KEY_MODE);
  await writeFileAtomic(paths.certFile, ca.certificatePem + ca.chainPem, CERTIFICATE_MODE);
  return paths;
}

export async function initCa(dir: string, options: CaOptions = {}): Promise<CertificateAuthority> {
  const ca = createRootCa(options);
  await writeCa(dir, ca);
  return ca;
}

/** Writes NAME.key (0600) then NAME.crt (the chain), so a watcher reloading on the .crt sees a matching key. */
export async function writePair(dir: string, name: string, issued: IssuedCertificate): Promise<{ certFile: string; keyFile: string }> {
  const paths = pairPaths(dir, name);
  await writeFileAtomic(paths.keyFile, issued.privateKeyPem, PRIVATE_KEY_MODE);
  await writeFileAtomic(paths.certFile, issued.chainPem, CERTIFICATE_MODE);
  return paths;
}
