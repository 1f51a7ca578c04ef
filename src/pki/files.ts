/** Reading and writing PEM files, with validation that names the file at fault. */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { privateKeyFromPem } from './keys.js';

/** A problem with a certificate or key file; the message starts with the file name. */
export class CertificateFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'CertificateFileError';
  }
}

export interface CertificatePair {
  /** The leaf certificate followed by any intermediates, as read. */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly certificate: X509Certificate;
  readonly chain: readonly X509Certificate[];
  readonly privateKey: KeyObject;
}

export interface LoadOptions {
  /** Also check that the certificate chains to a CA in this file. */
  readonly caFile?: string;
  /** The time to check validity against (default: now). */
  readonly now?: Date;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CertificateFileError(file, `cannot read the ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Parses every certificate in a PEM file; a file with none, or with a broken block, is an error. */
export function readCertificates(file: string, what = 'certificate file'): { pem: string; certificates: X509Certificate[] } {
  const pem = readText(file, what);
  const blocks = splitPemCertificates(pem);
  if (blocks.length === 0) throw new CertificateFileError(file, 'no PEM certificate found (expected a "-----BEGIN CERTIFICATE-----" block)');
  const certificates = blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new CertificateFileError(file, `certificate ${index + 1} is malformed PEM/DER: ${(error as Error).message}`);
    }
  });
  return { pem, certificates };
}

export function readPrivateKey(file: string): { pem: string; key: KeyObject } {
  const pem = readText(file, 'private key file');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new CertificateFileError(file, 'no PEM private key found (expected a "-----BEGIN PRIVATE KEY-----" block)');
  try {
    return { pem, key: privateKeyFromPem(pem) };
  } catch (error) {
    // the underlying message never contains key material
    throw new CertificateFileError(file, `malformed private key: ${(error as Error).message}`);
  }
}

function describe(certificate: X509Certificate): string {
  return `'${certificate.subject.replace(/\n/g, ', ')}' (serial ${certificate.serialNumber})`;
}

/** Checks notBefore/notAfter of a certificate read from `file`. */
export function checkValidity(file: string, certificate: X509Certificate, now: Date = new Date()): void {
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (now < notBefore) throw new CertificateFileError(file, `certificate ${describe(certificate)} is not yet valid: valid from ${notBefore.toISOString()}`);
  if (now > notAfter) throw new CertificateFileError(file, `certificate ${describe(certificate)} has expired: valid until ${notAfter.toISOString()}`);
}

/**
 * Loads a certificate (with its chain) and its private key, and refuses them with a message
 * naming the file when a PEM is malformed, the key does not match, the certificate is expired
 * or not yet valid, or (with caFile) it does not chain to that CA.
 */
export function loadCertificatePair(certFile: string, keyFile: string, options: LoadOptions = {}): CertificatePair {
  const { pem: certificatePem, certificates } = readCertificates(certFile);
  const { pem: privateKeyPem, key: privateKey } = readPrivateKey(keyFile);
  const leaf = certificates[0]!;
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new CertificateFileError(keyFile, `the private key does not match the certificate ${describe(leaf)} in ${certFile}`);
  }
  for (const certificate of certificates) checkValidity(certFile, certificate, options.now);
  if (options.caFile) {
    const { certificates: roots } = readCertificates(options.caFile, 'CA file');
    verifyChain(certFile, certificates, roots, options.caFile);
  }
  return { certificatePem, privateKeyPem, certificate: leaf, chain: certificates, privateKey };
}

/** Walks leaf → intermediates → a CA from `roots`, checking each signature. */
export function verifyChain(file: string, chain: readonly X509Certificate[], roots: readonly X509Certificate[], caFile: string): void {
  let current = chain[0]!;
  const pool = [...chain.slice(1), ...roots];
  for (let depth = 0; depth <= pool.length; depth++) {
    if (roots.some((root) => root.raw.equals(current.raw))) return;
    const issuer = pool.find((candidate) => current.checkIssued(candidate) && current.verify(candidate.publicKey));
    if (!issuer) throw new CertificateFileError(file, `certificate ${describe(current)} is not signed by a CA in ${caFile} (issuer '${current.issuer.replace(/\n/g, ', ')}')`);
    if (roots.includes(issuer)) return;
    current = issuer;
  }
  throw new CertificateFileError(file, `certificate chain does not reach a CA in ${caFile}`);
}

/**
 * Writes a file atomically (temporary file + rename) so that a watcher never sees half a file;
 * private keys get mode 0600.
 */
export async function writeFileAtomic(file: string, contents: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temporary, mode); // the umask may have narrowed or (for some umasks) widened it
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export const PRIVATE_KEY_MODE = 0o600;
export const CERTIFICATE_MODE = 0o644;

const LOCK_FILE = '.celgate.lock';
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MS = 25;

/**
 * Runs `work` while holding DIR/.celgate.lock, so that processes starting together on an empty
 * directory (replicas sharing a volume, parallel CI jobs) do not each create a CA and read the
 * other's half-written files. A lock older than 30 s is taken to be left by a crashed process.
 */
export async function withDirectoryLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true });
  const lockFile = join(dir, LOCK_FILE);
  const deadline = Date.now() + 2 * LOCK_STALE_MS;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx', PRIVATE_KEY_MODE);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new CertificateFileError(lockFile, `cannot create the lock: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const age = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > LOCK_STALE_MS) await rm(lockFile, { force: true });
    else if (Date.now() > deadline) throw new CertificateFileError(lockFile, 'another celgate process holds this lock; remove the file if none is running');
    else await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    return await work();
  } finally {
    await rm(lockFile, { force: true });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate block in a PEM text, in order (here, not in parse.ts: servers that only load
 * certificates do not load node-forge's ASN.1 decoder). */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERTIFICATE) ?? [];
}
