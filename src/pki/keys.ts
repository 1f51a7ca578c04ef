/** Key generation with node:crypto. Supported key types: EC P-256 (default), RSA 2048, RSA 3072. */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export const KEY_TYPES = ['ec-p256', 'rsa-2048', 'rsa-3072'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

export function generateKeyPair(type: KeyType = DEFAULT_KEY_TYPE): KeyPair {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 });
  }
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY"), understood by Node's tls, OpenSSL and Go alike. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** The signature algorithm we use for a signing key: SHA-256 with ECDSA or RSA PKCS#1 v1.5. */
export function signatureAlgorithmFor(key: KeyObject): { oid: string; withNullParameters: boolean } {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve !== 'prime256v1') throw new Error(`unsupported EC curve ${curve ?? 'unknown'} for signing: use P-256`);
      return { oid: '1.2.840.10045.4.3.2', withNullParameters: false }; // ecdsa-with-SHA256 (RFC 5758: no parameters)
    }
    case 'rsa':
      return { oid: '1.2.840.113549.1.1.11', withNullParameters: true }; // sha256WithRSAEncryption (RFC 4055: NULL)
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}: use EC P-256 or RSA`);
  }
}

export function describeKey(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec') return `EC ${key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'P-256' : key.asymmetricKeyDetails?.namedCurve}`;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${key.asymmetricKeyDetails?.modulusLength}`;
  return key.asymmetricKeyType ?? 'unknown';
}
